"""Hive-partitioned bundles: round trip, person alignment across tables, append, integrity, and the
national preset built region by region."""

from __future__ import annotations

import json

import dask
import numpy as np
import pandas as pd
import pytest

from naravard_analysis.data import RegisterData
from naravard_analysis.data.synthetic import make_world
from naravard_analysis.data.synthetic.national import make_national, region_seed, region_sizes
from naravard_analysis.engine import person_bucket
from naravard_analysis.errors import IntegrityError, ParameterError, ReadError


@pytest.fixture(scope="module")
def small_world():
    return make_world("demo", n_persons=400, seed=3)


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(list(df.columns), kind="stable").reset_index(drop=True)


def test_round_trip_pandas_and_dask(small_world, tmp_path):
    small_world.to_dir(tmp_path / "b", partitions=3)
    back = RegisterData.from_dir(tmp_path / "b")
    lazy = RegisterData.from_dir(tmp_path / "b", engine="dask")
    assert back.meta["truth"] == json.loads(json.dumps(small_world.meta["truth"], default=str))
    for name, df in small_world.tables.items():
        got = back.tables[name]
        pd.testing.assert_frame_equal(_sorted(got), _sorted(df))
        with dask.config.set(scheduler="sync"):
            from_dask = lazy.tables[name]
            from_dask = from_dask.compute() if hasattr(from_dask, "compute") else from_dask
        pd.testing.assert_frame_equal(_sorted(from_dask), _sorted(df))
    assert "partitions" in repr(lazy)


def test_every_table_partition_holds_the_same_persons(small_world, tmp_path):
    small_world.to_dir(tmp_path / "b", partitions=4)
    lazy = RegisterData.from_dir(tmp_path / "b", engine="dask")
    n = lazy.persons.npartitions
    assert all(df.npartitions == n for k, df in lazy.tables.items() if k != "population")
    with dask.config.set(scheduler="sync"):
        for i in range(n):
            persons = lazy.persons.get_partition(i).compute()
            assert persons["region_code"].nunique() == 1
            assert len(set(person_bucket(persons["person_id"], 4))) == 1
            for name in ("admissions", "contacts", "listings", "enrolments"):
                ids = set(lazy.tables[name].get_partition(i).compute()["person_id"])
                assert ids <= set(persons["person_id"])


def test_append_integrity_and_refusals(small_world, tmp_path):
    out = tmp_path / "b"
    small_world.to_dir(out, partitions=2)
    with pytest.raises(ParameterError, match="append"):
        small_world.to_dir(out, partitions=2)
    with pytest.raises(ParameterError, match="partitions=3"):
        small_world.to_dir(out, partitions=3, append=True)
    other = make_world("demo", region="03", n_persons=300, seed=4)
    for name in ("persons", "admissions", "contacts", "listings", "enrolments"):
        getattr(other, name)["person_id"] += 10**9
    other.to_dir(out, partitions=2, append=True)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["meta"]["regions"] == ["03", "14"]
    assert manifest["tables"]["contacts"]["rows"] == len(small_world.contacts) + len(other.contacts)
    back = RegisterData.from_dir(out)
    assert len(back.persons) == len(small_world.persons) + len(other.persons)
    victim = out / next(iter(sorted(manifest["tables"]["contacts"]["files"])))
    victim.write_bytes(victim.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(IntegrityError):
        RegisterData.from_dir(out, engine="dask")
    victim.unlink()
    with pytest.raises(ReadError, match="missing"):
        RegisterData.from_dir(out, verify=False)


def test_single_file_bundle_with_dask_engine(small_world, tmp_path):
    small_world.to_dir(tmp_path / "one")
    lazy = RegisterData.from_dir(tmp_path / "one", engine="dask")
    with dask.config.set(scheduler="sync"):
        assert len(lazy.contacts.compute()) == len(small_world.contacts)
    with pytest.raises(ReadError, match="engine"):
        RegisterData.from_dir(tmp_path / "one", engine="spark")


def test_national_region_by_region(tmp_path):
    sizes = region_sizes()
    assert sizes["01"] == 2_377_081 and sum(sizes.values()) == 10_327_589  # SCB, 31 Dec 2019
    lines: list[str] = []
    out = make_national(tmp_path / "nat", partitions=2, regions=["23", "09"], scale=0.004,
                        chunk_persons=300, start="2021-01-01", end="2022-12-31",
                        progress=lines.append)
    # Jämtland 130 810 x 0.004 = 523 residents in two chunks; Gotland 59 686 x 0.004 = 239 in one
    assert len(lines) == 3
    data = RegisterData.from_dir(out)
    assert sorted(data.persons["region_code"].unique()) == ["09", "23"]
    assert data.persons["person_id"].is_unique
    assert (data.persons["person_id"] // 10**9).isin([9, 23]).all()
    assert region_seed(0, "23", 0) != region_seed(0, "23", 1) != region_seed(0, "09", 0)
    # each region its own seed: Gotland alone is the same Gotland
    alone = RegisterData.from_dir(make_national(tmp_path / "gotland", partitions=2, regions=["09"],
                                                scale=0.004, start="2021-01-01", end="2022-12-31"))
    both = data.contacts[(data.contacts["person_id"] // 10**9) == 9]
    pd.testing.assert_frame_equal(_sorted(alone.contacts), _sorted(both))
    with pytest.raises(ParameterError, match="make_national"):
        make_world("national")
    assert np.all(data.admissions["person_id"].isin(data.persons["person_id"]))
