"""Outcome counts per person window: a naive per-window count, and pandas = Dask on random worlds."""

from __future__ import annotations

import dask
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from naravard_analysis.engine import partition_by_person
from naravard_analysis.errors import ParameterError, SchemaError
from naravard_analysis.methods.outcome_counts import outcome_counts
from tests.indicators.test_distributed import random_world

ALL = ["unplanned_admissions", "ed_visits", "bed_days", "admissions", "primary_care_contacts",
       "avoidable_admissions", "deaths"]


def random_windows(world, seed: int, n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    start = np.datetime64("2019-01-01") + rng.integers(0, 800, n).astype("timedelta64[D]")
    return pd.DataFrame({
        "person_id": rng.choice(world.persons["person_id"].to_numpy(), n),
        "start": start,
        "stop": start + rng.integers(0, 400, n).astype("timedelta64[D]"),
        "arm": rng.choice(["case", "control"], n),
    }, index=np.arange(n) * 3 + 5)


def test_matches_a_naive_count_per_window():
    world = random_world(5)
    w = random_windows(world, 1)
    got = outcome_counts(world, w, ["ed_visits", "bed_days", "admissions"])
    c, a = world.contacts, world.admissions
    for i, row in w.iterrows():  # reference: one window at a time, straight from the definitions
        mine = c[(c.person_id == row.person_id) & (c.contact_date >= row.start)
                 & (c.contact_date < row.stop)]
        assert got.loc[i, "ed_visits"] == (mine.care_level == "emergency").sum()
        stays = a[(a.person_id == row.person_id) & (a.admission_date >= row.start)
                  & (a.admission_date < row.stop)]
        assert got.loc[i, "admissions"] == len(stays)
        unpl = stays[~stays.planned]
        assert got.loc[i, "bed_days"] == (unpl.discharge_date - unpl.admission_date).dt.days.sum()
    assert list(got.index) == list(w.index) and "arm" in got


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(1, 9))
def test_dask_equals_pandas(seed, n):
    world = random_world(seed)
    w = random_windows(world, seed)
    expected = outcome_counts(world, w, ALL)
    parts = partition_by_person({"persons": world.persons, "admissions": world.admissions,
                                 "contacts": world.contacts}, n)
    data = type("Parts", (), parts)()
    with dask.config.set(scheduler="sync"):
        got = outcome_counts(data, w, ALL)
    pd.testing.assert_frame_equal(got, expected)  # exact: sums of integers


def test_errors():
    world = random_world(2)
    w = random_windows(world, 2)
    with pytest.raises(ParameterError):
        outcome_counts(world, w, ["sunshine"])
    with pytest.raises(SchemaError):
        outcome_counts(world, w.drop(columns="stop"), "ed_visits")
    bad = w.assign(person_id=-1)
    with pytest.raises(SchemaError, match="persons"):
        outcome_counts(world, bad, "ed_visits")
    with pytest.raises(SchemaError, match="persons"), dask.config.set(scheduler="sync"):
        outcome_counts(world, bad, "ed_visits", engine="dask")
