"""RegisterData: creation, validation across tables and the Parquet + manifest round trip."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from naravard_analysis.data import RegisterData
from naravard_analysis.data.bundle import sha256_file
from naravard_analysis.errors import IntegrityError, ReadError, SchemaError


def test_tables_are_attributes_and_validated(tiny):
    data = RegisterData(**tiny, meta={"region": "14"})
    assert list(data.tables) == ["persons", "admissions", "contacts"]
    assert data.listings is None
    assert data.admissions["admission_date"].dtype == "datetime64[ns]"
    assert repr(data) == "RegisterData(persons=3, admissions=4, contacts=5, region='14')"


def test_events_must_refer_to_known_persons(tiny):
    tiny["contacts"].loc[4, "person_id"] = 99
    with pytest.raises(SchemaError, match=r"contacts\.person_id: must refer to a person in persons -- 1 row breaks it \(row 4\)"):
        RegisterData(**tiny)


def test_round_trip_is_exact_and_deterministic(tiny, tmp_path):
    data = RegisterData(**tiny, meta={"region": "14", "truth": {"effect": 0.8}})
    a = data.to_dir(tmp_path / "a")
    b = data.to_dir(tmp_path / "b")
    for name in ["persons.parquet", "admissions.parquet", "contacts.parquet", "manifest.json"]:
        assert sha256_file(a / name) == sha256_file(b / name), name
    manifest = json.loads((a / "manifest.json").read_text())
    assert manifest["tables"]["admissions"]["rows"] == 4
    assert json.loads((a / "truth.json").read_text()) == {"effect": 0.8}
    back = RegisterData.from_dir(a)
    for name, df in data.tables.items():
        pd.testing.assert_frame_equal(back.tables[name], df, check_dtype=True)
    assert back.meta["truth"] == {"effect": 0.8}


def test_changed_file_is_detected(tiny, tmp_path):
    out = RegisterData(**tiny).to_dir(tmp_path)
    RegisterData(persons=tiny["persons"].iloc[:2]).to_dir(tmp_path / "other")
    (tmp_path / "persons.parquet").write_bytes((tmp_path / "other" / "persons.parquet").read_bytes())
    with pytest.raises(IntegrityError, match="persons.parquet: sha256 differs from the manifest"):
        RegisterData.from_dir(out)


def test_missing_manifest_is_a_read_error(tmp_path):
    with pytest.raises(ReadError, match="no manifest.json; not a RegisterData directory"):
        RegisterData.from_dir(tmp_path)


def test_restrict_by_municipality_and_period(tiny):
    data = RegisterData(**tiny)
    sub = data.restrict(municipality_codes=["1480"], start="2020-01-10", end="2020-12-31")
    assert sub.persons["person_id"].tolist() == [1, 3]
    # person 1's stay of 2020-01-03 starts before the period; person 2 lives in 1401
    assert sub.admissions["admission_date"].dt.strftime("%Y-%m-%d").tolist() == ["2020-02-10", "2020-01-15"]
    assert sub.contacts["person_id"].tolist() == [1, 1, 1, 3]
    assert sub.meta["restricted"]["municipality_codes"] == ["1480"]
    assert len(data.restrict().admissions) == 4


def test_summary_for_notebooks(tiny):
    data = RegisterData(**tiny, meta={"region": "14", "source": "test"})
    summary = data.summary().set_index("table")
    assert summary.loc["admissions", "rows"] == 4
    assert summary.loc["contacts", "persons"] == 3
    assert summary.loc["admissions", "first_date"] == pd.Timestamp("2020-01-03")
    assert summary.loc["admissions", "last_date"] == pd.Timestamp("2021-03-02")
    assert "region 14" in data._repr_html_() and "<table" in data._repr_html_()


# ------------------------------------------------------------------------------------------------
# Loading validates always: matching hashes only say the files are the ones written
# ------------------------------------------------------------------------------------------------
def _pnr_ids(n: int) -> list[int]:
    from naravard_analysis.data.identifiers import luhn_check_digit

    pairs = zip(["811218", "450101", "330315"], ["987", "123", "456"], strict=True)
    bodies = [yymmdd + nnn for yymmdd, nnn in pairs]
    return [int(b + str(luhn_check_digit(b))) for b in bodies[:n]]


def _unvalidated_bundle(tmp_path, tiny, changes):
    for (table, column), values in changes.items():
        tiny[table][column] = values
    data = RegisterData(**tiny, validate=False)
    return data.to_dir(tmp_path / "bundle")


def test_clear_text_personnummer_in_a_bundle_is_refused_on_load(tiny, tmp_path):
    from naravard_analysis.errors import IdentifierError

    ids = _pnr_ids(3)  # clear-text personnummer as 10-digit integers
    mapping = dict(zip([1, 2, 3], ids, strict=True))
    for name in ("admissions", "contacts"):
        tiny[name]["person_id"] = tiny[name]["person_id"].map(mapping)
    out = _unvalidated_bundle(tmp_path, tiny, {("persons", "person_id"): ids})
    with pytest.raises(IdentifierError, match=r"persons\.person_id: holds clear-text personnummer") as err:
        RegisterData.from_dir(out)  # hashes match the manifest
    assert all(str(i) not in str(err.value) for i in ids)
    with pytest.raises(IdentifierError):
        RegisterData.from_dir(out, verify=False)


@pytest.mark.filterwarnings("ignore:.*unknown column.*:naravard_analysis.errors.DataWarning")
def test_partitioned_bundle_is_validated_on_load_in_memory_and_per_dask_partition(tiny, tmp_path):
    from naravard_analysis.errors import IdentifierError

    pytest.importorskip("dask")
    notes = [f"{str(i)[:6]}-{str(i)[6:]}" for i in _pnr_ids(3)]
    tiny["contacts"]["note"] = ["ok", "ok", "ok", notes[1], "ok"]
    out = RegisterData(**tiny, validate=False).to_dir(tmp_path / "parts", partitions=2)
    with pytest.raises(IdentifierError, match=r"contacts\.note"):
        RegisterData.from_dir(out)
    lazy = RegisterData.from_dir(out, engine="dask")  # lazy: checked when a partition is read
    with pytest.raises(IdentifierError, match=r"contacts\.note"):
        lazy.contacts.compute()


@pytest.mark.filterwarnings("ignore:.*unknown column.*:naravard_analysis.errors.DataWarning")
def test_personnummer_text_in_an_extra_column_is_refused_on_load(tiny, tmp_path):
    from naravard_analysis.errors import IdentifierError

    notes = [f"{str(i)[:6]}-{str(i)[6:]}" for i in _pnr_ids(3)]
    out = _unvalidated_bundle(tmp_path, tiny, {("persons", "note"): notes})
    with pytest.raises(IdentifierError, match=r"persons\.note"):
        RegisterData.from_dir(out)


def test_value_outside_the_code_list_is_refused_on_load(tiny, tmp_path):
    out = _unvalidated_bundle(tmp_path, tiny, {("persons", "sex"): ["F", "Q", "M"]})
    with pytest.raises(SchemaError, match=r"persons\.sex: must be one of 'F', 'M'.* -- 1 row breaks it \(row 1\)"):
        RegisterData.from_dir(out)


def test_fast_path_keeps_the_writers_duplicates(tiny, tmp_path):
    # Matching hashes: the duplicate-row rule (the one costly rule) is not re-run, so a bundle
    # built with duplicates='warn' loads; without verification it is checked again.
    tiny["contacts"] = pd.concat([tiny["contacts"], tiny["contacts"].iloc[[0]]], ignore_index=True)
    with pytest.warns(Warning, match="duplicate"):
        data = RegisterData(**tiny, duplicates="warn")
    out = data.to_dir(tmp_path / "dups")
    assert len(RegisterData.from_dir(out).contacts) == 6
    with pytest.raises(SchemaError, match="duplicate"):
        RegisterData.from_dir(out, verify=False)
