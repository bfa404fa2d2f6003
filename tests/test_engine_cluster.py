"""A real dask.distributed cluster: continuity indices and readmission flags end to end on
partitioned Parquet, equal to the pandas path (runs in CI; about ten seconds)."""

from __future__ import annotations

import pandas as pd
import pytest
from distributed import Client, LocalCluster

from naravard_analysis.data import RegisterData
from naravard_analysis.data.synthetic import make_world
from naravard_analysis.engine import connect
from naravard_analysis.errors import ParameterError
from naravard_analysis.indicators.continuity import continuity_indices
from naravard_analysis.indicators.readmission import flag_readmissions
from tests.indicators.test_distributed import assert_same


@pytest.mark.timeout(120)
def test_local_cluster_two_workers_equals_pandas(tmp_path):
    world = make_world("demo", n_persons=1500, seed=5)
    world.to_dir(tmp_path / "bundle", partitions=3)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        lazy = RegisterData.from_dir(tmp_path / "bundle", engine="dask")
        assert lazy.contacts.npartitions == 3
        continuity = continuity_indices(lazy.contacts, period="year", professions="physician")
        flags = flag_readmissions(lazy.admissions, lazy.persons)
        continuity, flags = client.compute([continuity, flags], sync=True)
    expected_c = continuity_indices(world.contacts, period="year", professions="physician")
    expected_f = flag_readmissions(world.admissions, world.persons)
    assert_same(expected_c, continuity, ["person_id", "year"])
    assert_same(expected_f, flags, ["person_id", "admission_date", "discharge_date"])
    assert isinstance(flags, pd.DataFrame) and flags["readmitted"].any()


def test_connect_arguments():
    assert connect(None) is None and connect("") is None
    with pytest.raises(ParameterError):
        connect("somewhere")
    with pytest.raises(ParameterError):
        connect("local:0")
