"""The per-person indicators on Dask equal the pandas path: random worlds (hypothesis) and the
demo world, every partition count from one person per partition to one partition.

Equality is exact (``assert_frame_equal`` with its default ``check_exact`` off only for floats
at rtol 1e-12 -- the same pandas arithmetic runs on the same rows, so the indices agree to the last
digit in practice); rows are compared after sorting by their keys because the Dask result comes
in partition order. ``episode_id`` is a label on both engines: compared as a one-to-one relabelling.
"""

from __future__ import annotations

import dask
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from naravard_analysis.data import RegisterData
from naravard_analysis.engine import partition_by_person
from naravard_analysis.errors import ParameterError
from naravard_analysis.indicators.avoidable import flag_avoidable
from naravard_analysis.indicators.continuity import continuity_indices
from naravard_analysis.indicators.episodes import assign_episodes, build_episodes
from naravard_analysis.indicators.readmission import flag_readmissions

#: Main diagnoses mixing avoidable (heart failure, COPD, diabetes), readmission and other codes.
DIAGNOSES = ["I500", "J441", "E110", "J20", "J189", "S720", "O800", "I10"]


@pytest.fixture(autouse=True)
def _sync_scheduler():
    # one thread: the equality tests are about the partitioning, not the scheduler
    with dask.config.set(scheduler="sync"):
        yield


def random_world(seed: int, n_persons: int = 30, n_contacts: int = 400, n_stays: int = 80,
                 text_ids: bool = False) -> RegisterData:
    """A small canonical world with dense repeat contacts, same-day ties, transfers, deaths."""
    rng = np.random.default_rng(seed)
    ids = np.arange(1, n_persons + 1) * 7 + 1000
    pid = (pd.Series([f"p{i}" for i in ids]) if text_ids else pd.Series(ids))
    day0 = np.datetime64("2019-01-01")
    persons = pd.DataFrame({
        "person_id": pid,
        "sex": rng.choice(["F", "M"], n_persons),
        "birth_date": day0 - rng.integers(20 * 365, 95 * 365, n_persons).astype("timedelta64[D]"),
        "region_code": "14",
        "municipality_code": rng.choice(["1480", "1401"], n_persons),
        "death_date": np.where(rng.random(n_persons) < 0.1,
                               day0 + rng.integers(300, 1000, n_persons).astype("timedelta64[D]"),
                               np.datetime64("NaT")),
    })
    who = rng.integers(0, n_persons, n_contacts)
    contacts = pd.DataFrame({
        "person_id": pid.to_numpy()[who],
        "contact_date": day0 + rng.integers(0, 900, n_contacts).astype("timedelta64[D]"),
        "provider_id": rng.choice(["A", "B", "C", "D", "E"], n_contacts),
        "profession": rng.choice(["physician", "nurse"], n_contacts),
        "unit_id": rng.choice(["U1", "U2", "U3"], n_contacts),
        "care_level": rng.choice(["primary", "primary", "emergency", "specialist"], n_contacts),
        "mode": "physical",
        "planned": rng.random(n_contacts) < 0.5,
    }).drop_duplicates(ignore_index=True)
    who = rng.integers(0, n_persons, n_stays)
    adm = day0 + rng.integers(0, 900, n_stays).astype("timedelta64[D]")
    admissions = pd.DataFrame({
        "person_id": pid.to_numpy()[who],
        "admission_date": adm,
        "discharge_date": adm + rng.integers(0, 6, n_stays).astype("timedelta64[D]"),
        "main_diagnosis": rng.choice(DIAGNOSES, n_stays),
        "other_diagnoses": rng.choice(["", "J449", "E119 I10"], n_stays),
        "planned": rng.random(n_stays) < 0.3,
        "hospital_id": rng.choice(["H1", "H2"], n_stays),
        "department": "101",
        "admitted_from": rng.choice(["home", "home", "hospital"], n_stays),
        "discharge_to": rng.choice(["home", "home", "hospital", "special_housing"], n_stays),
    }).drop_duplicates(ignore_index=True)
    dead = persons.set_index("person_id")["death_date"]
    alive_at = dead.reindex(admissions["person_id"]).to_numpy()
    keep = np.isnat(alive_at) | (admissions["discharge_date"].to_numpy() < alive_at)
    return RegisterData(persons=persons, admissions=admissions[keep].reset_index(drop=True),
                        contacts=contacts)


def _plain(s: pd.Series) -> pd.Series:
    return s.astype(object) if isinstance(s.dtype, pd.CategoricalDtype) else s


def assert_same(expected: pd.DataFrame, got, keys: list[str]) -> None:
    """Dask result ``got`` equals pandas ``expected`` up to row order and episode labels."""
    got = got.compute() if hasattr(got, "compute") else got
    assert list(got.columns) == list(expected.columns)
    a = expected.sort_values(keys, kind="stable").reset_index(drop=True)
    b = got.sort_values(keys, kind="stable").reset_index(drop=True)
    assert len(a) == len(b)
    if "episode_id" in a:
        assert b["episode_id"].is_unique == a["episode_id"].is_unique
        pairs = pd.DataFrame({"a": a["episode_id"], "b": b["episode_id"]}).drop_duplicates()
        assert pairs["a"].is_unique and pairs["b"].is_unique  # a one-to-one relabelling
        a, b = a.drop(columns="episode_id"), b.drop(columns="episode_id")
    for col in a.columns:
        x, y = a[col], b[col]
        if isinstance(x.dtype, pd.CategoricalDtype):
            assert isinstance(y.dtype, pd.CategoricalDtype), col
        else:
            assert x.dtype == y.dtype, (col, x.dtype, y.dtype)
        pd.testing.assert_series_equal(_plain(x), _plain(y), check_dtype=False, rtol=1e-12,
                                       obj=col)


def _split(world: RegisterData, n: int) -> dict:
    return partition_by_person({"persons": world.persons, "admissions": world.admissions,
                                "contacts": world.contacts}, n)


CONTINUITY_SETTINGS = [
    {},
    {"period": "year"},
    {"by": "unit_id", "period": "quarter"},
    {"by": ["unit_id"], "care_levels": None, "professions": "physician"},
    {"provider_col": "unit_id", "min_visits": 3, "dedupe": False},
]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(1, 12), which=st.integers(0, 4),
       text_ids=st.booleans())
def test_continuity_equal_on_random_worlds(seed, n, which, text_ids):
    world = random_world(seed, text_ids=text_ids)
    kw = CONTINUITY_SETTINGS[which]
    expected = continuity_indices(world.contacts, **kw)
    got = continuity_indices(_split(world, n)["contacts"], **kw)
    keys = [c for c in ("person_id", "unit_id", "year", "period") if c in expected]
    assert_same(expected, got, keys)


def test_continuity_group_counted_in_another_partition_only():
    """A by-group with no counted contact in one partition but some in another keeps its units."""
    contacts = pd.DataFrame({
        "person_id": [1, 1, 2, 2],
        "contact_date": pd.to_datetime(["2020-01-01", "2020-02-01", "2020-01-05", "2020-03-01"]),
        "provider_id": ["A", "A", "B", "B"],
        "unit_id": ["U1", "U1", "U1", "U1"],
        "care_level": ["primary", "primary", "emergency", "emergency"],
    })
    expected = continuity_indices(contacts, by="unit_id")
    assert len(expected) == 2  # person 2 stays, with n_visits 0 (the group is counted via person 1)
    assert_same(expected, continuity_indices(contacts, by="unit_id", engine="dask"), ["person_id"])
    for n in (1, 2, 3, 5):
        got = continuity_indices(_split_contacts(contacts, n), by="unit_id")
        assert_same(expected, got, ["person_id"])


def _split_contacts(contacts: pd.DataFrame, n: int):
    return partition_by_person({"contacts": contacts}, n)["contacts"]


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(1, 12), gap=st.sampled_from([0, 1]))
def test_episodes_equal_on_random_worlds(seed, n, gap):
    world = random_world(seed)
    adm = _split(world, n)["admissions"]
    keys = ["person_id", "admission_date", "discharge_date"]
    assert_same(build_episodes(world.admissions, merge_gap_days=gap),
                build_episodes(adm, merge_gap_days=gap), keys)
    expected = assign_episodes(world.admissions, merge_gap_days=gap)
    got = assign_episodes(adm, merge_gap_days=gap).compute()
    # stays: the original index labels the input row on both engines
    assert_same(expected.sort_index(), got.sort_index(), keys + ["stay_seq", "main_diagnosis"])


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(1, 12),
       definition=st.sampled_from(["socialstyrelsen_chronic", "socialstyrelsen", "pqi", "oecd"]))
def test_avoidable_equal_on_random_worlds(seed, n, definition):
    world = random_world(seed)
    parts = _split(world, n)
    expected = flag_avoidable(world.admissions, world.persons, definition=definition)
    got = flag_avoidable(parts["admissions"], parts["persons"], definition=definition)
    assert_same(expected, got, ["person_id", "admission_date", "discharge_date"])


def test_avoidable_reuses_dask_episodes():
    world = random_world(3)
    parts = _split(world, 4)
    episodes = build_episodes(parts["admissions"])
    expected = flag_avoidable(world.admissions, world.persons)
    got = flag_avoidable(parts["admissions"], parts["persons"], episodes=episodes)
    assert_same(expected, got, ["person_id", "admission_date", "discharge_date"])


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(1, 12),
       variant=st.sampled_from(["socialstyrelsen", "cms", "norway"]), min_age=st.sampled_from([None, 65]))
def test_readmissions_equal_on_random_worlds(seed, n, variant, min_age):
    world = random_world(seed)
    parts = _split(world, n)
    expected = flag_readmissions(world.admissions, world.persons, variant=variant, min_age=min_age)
    got = flag_readmissions(parts["admissions"], parts["persons"], variant=variant, min_age=min_age)
    assert_same(expected, got, ["person_id", "admission_date", "discharge_date"])


def test_readmission_end_date_is_global_not_per_partition():
    """Follow-up is cut at the last date of the whole table, not of each partition."""
    world = random_world(11)
    parts = _split(world, 6)
    expected = flag_readmissions(world.admissions, world.persons)
    got = flag_readmissions(parts["admissions"], parts["persons"]).compute()
    assert got["followup_days"].max() == expected["followup_days"].max()
    assert_same(expected, got, ["person_id", "admission_date", "discharge_date"])


def test_demo_world_equal(demo_dir):
    demo_world = RegisterData.from_dir(demo_dir)
    parts = _split(demo_world, 3)
    keys = ["person_id", "admission_date", "discharge_date"]
    assert_same(continuity_indices(demo_world.contacts, period="year"),
                continuity_indices(parts["contacts"], period="year"), ["person_id", "year"])
    assert_same(flag_readmissions(demo_world.admissions, demo_world.persons),
                flag_readmissions(parts["admissions"], parts["persons"]), keys)


def test_engine_choice_and_errors():
    world = random_world(1)
    assert isinstance(continuity_indices(world.contacts), pd.DataFrame)
    lazy = continuity_indices(world.contacts, engine="dask")
    assert hasattr(lazy, "npartitions")
    with pytest.raises(ParameterError, match="engine"):
        continuity_indices(world.contacts, engine="spark")
    with pytest.raises(ParameterError, match="Dask DataFrame"):
        continuity_indices(_split(world, 2)["contacts"], engine="pandas")
    # parameter errors surface when the graph is built, not in a worker
    with pytest.raises(ParameterError, match="min_visits"):
        continuity_indices(world.contacts, engine="dask", min_visits=1)
    parts = _split(world, 2)
    mis = partition_by_person({"x": world.persons}, 3)["x"]
    with pytest.raises(ParameterError, match="partition counts"):
        flag_readmissions(parts["admissions"], mis)
