"""Tests of care-episode linking (methods reference §2.4).

Expected values are written out by hand from the rules of §2.4; the property tests compare the
vectorised implementation with a plain per-person loop written here from the same rules.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from naravard_analysis.errors import ParameterError, SchemaError
from naravard_analysis.indicators.episodes import assign_episodes, build_episodes
from naravard_analysis.indicators.episodes_reference import reference_episodes


def _adm(rows):
    """rows: (person, admission, discharge, main_diagnosis, planned, discharge_to)."""
    df = pd.DataFrame(
        rows,
        columns=[
            "person_id",
            "admission_date",
            "discharge_date",
            "main_diagnosis",
            "planned",
            "discharge_to",
        ],
    )
    df["admission_date"] = pd.to_datetime(df["admission_date"])
    df["discharge_date"] = pd.to_datetime(df["discharge_date"])
    df["other_diagnoses"] = ""
    return df


def test_nested_stay_uses_running_max_not_previous_row():
    # Stay 2 is nested in stay 1 (ends 01-08); stay 3 starts 01-15, after stay 2 ended but before
    # stay 1's discharge 01-20 -> one episode (a previous-row comparison would split it).
    adm = _adm(
        [
            (1, "2024-01-01", "2024-01-20", "I50", False, "home"),
            (1, "2024-01-05", "2024-01-08", "J44", True, "hospital"),
            (1, "2024-01-15", "2024-01-25", "I10", True, "special_housing"),
        ]
    )
    ep = build_episodes(adm)
    assert len(ep) == 1
    row = ep.iloc[0]
    assert row["n_stays"] == 3
    assert row["admission_date"] == pd.Timestamp("2024-01-01")
    assert row["discharge_date"] == pd.Timestamp("2024-01-25")
    assert row["bed_days"] == 24  # 25 - 1
    assert row["main_diagnosis"] == "I50" and not row["planned"]  # first stay
    assert row["discharge_to"] == "special_housing"  # stay with the latest discharge
    assert row["other_diagnoses"] == "J44 I10"  # later stays' main diagnoses, in stay order


def test_discharge_to_comes_from_latest_discharge_not_last_admission():
    # Stay 2 is admitted later but nested, so stay 1 holds the latest discharge.
    adm = _adm(
        [
            (1, "2024-03-01", "2024-03-10", "I50", False, "died"),
            (1, "2024-03-02", "2024-03-04", "J44", False, "home"),
        ]
    )
    ep = build_episodes(adm)
    assert ep["discharge_to"].tolist() == ["died"]


@pytest.mark.parametrize(
    ("second_admission", "gap", "n_episodes"),
    [
        ("2024-01-05", 0, 1),  # same-day re-entry: merged by both variants
        ("2024-01-06", 0, 2),  # next day: split with gap 0
        ("2024-01-06", 1, 1),  # next day: merged with gap 1
        ("2024-01-07", 1, 2),  # two days later: split with gap 1
    ],
)
def test_gap_variants(second_admission, gap, n_episodes):
    adm = _adm(
        [
            (1, "2024-01-01", "2024-01-05", "I50", False, "home"),
            (1, second_admission, "2024-01-09", "I50", False, "home"),
        ]
    )
    assert len(build_episodes(adm, merge_gap_days=gap)) == n_episodes


@pytest.mark.parametrize(
    ("second_admission", "gap", "n_episodes"),
    [
        ("2024-01-05", 0, 1),  # transfer, same day
        ("2024-01-06", 0, 1),  # transfer, next day: merged regardless of merge_gap_days
        ("2024-01-07", 0, 2),  # transfer, two days later: new episode
        ("2024-01-07", 1, 2),  # ... also with gap 1
    ],
)
def test_transfer_links_same_or_next_day(second_admission, gap, n_episodes):
    adm = _adm(
        [
            (7, "2024-01-01", "2024-01-05", "I21", False, "hospital"),
            (7, second_admission, "2024-01-09", "I50", True, "home"),
        ]
    )
    ep = build_episodes(adm, merge_gap_days=gap)
    assert len(ep) == n_episodes
    if n_episodes == 1:
        assert ep["discharge_to"].iloc[0] == "home"
        assert ep["main_diagnosis"].iloc[0] == "I21"


def test_persons_never_merged_and_ids_sequential():
    adm = _adm(
        [
            ("b", "2024-01-01", "2024-01-05", "I50", False, "home"),
            ("a", "2024-01-02", "2024-01-04", "J44", False, "home"),
            ("a", "2024-01-04", "2024-01-06", "J44", False, "home"),
        ]
    )
    ep = build_episodes(adm)
    assert ep["person_id"].tolist() == ["a", "b"]
    assert ep["episode_id"].tolist() == [0, 1]
    assert ep["n_stays"].tolist() == [2, 1]


def test_assign_episodes_keeps_index_and_stay_sequence():
    adm = _adm(
        [
            (1, "2024-02-01", "2024-02-03", "I50", False, "home"),
            (1, "2024-01-01", "2024-01-05", "I50", False, "home"),
            (1, "2024-01-05", "2024-01-06", "I50", False, "home"),
        ]
    )
    stays = assign_episodes(adm)
    assert stays.index.tolist() == [1, 2, 0]
    assert stays["episode_id"].tolist() == [0, 0, 1]
    assert stays["stay_seq"].tolist() == [1, 2, 1]


def test_same_day_episode_has_one_bed_day_and_procedures_concatenated():
    adm = _adm(
        [
            (1, "2024-01-01", "2024-01-01", "J45", False, "home"),
            (1, "2024-01-01", "2024-01-02", "J45", False, "home"),
        ]
    )
    adm["procedures"] = ["AB123", "FNG05"]
    ep = build_episodes(adm)
    assert ep["bed_days"].tolist() == [1]
    assert ep["procedures"].tolist() == ["AB123 FNG05"]


def test_errors_are_clear():
    adm = _adm([(1, "2024-01-05", "2024-01-01", "I50", False, "home")])
    with pytest.raises(
        SchemaError,
        match=r"admissions.discharge_date: discharge before admission -- 1 row breaks it \(row 0\)",
    ):
        build_episodes(adm)
    with pytest.raises(SchemaError, match="admissions.discharge_date: required column missing"):
        build_episodes(adm.drop(columns="discharge_date"))
    with pytest.raises(ParameterError, match="merge_gap_days must be 0 or 1"):
        build_episodes(adm, merge_gap_days=2)
    adm2 = _adm([(1, "2024-01-01", "2024-01-02", "I50", False, "home")] * 2)
    adm2.loc[1, "admission_date"] = pd.NaT
    with pytest.raises(SchemaError, match="admission_date: must not be missing -- 1 row"):
        build_episodes(adm2)


def test_empty_input():
    ep = build_episodes(_adm([]))
    assert len(ep) == 0
    assert {"person_id", "episode_id", "n_stays", "bed_days", "discharge_to"} <= set(ep.columns)


# ---------------------------------------------------------------------------------------------------
# Property tests against the per-person definition (episodes_reference).


stay = st.tuples(
    st.integers(0, 4),  # person
    st.integers(0, 40),  # admission day
    st.integers(0, 6),  # length
    st.sampled_from(["home", "hospital", "died", "special_housing"]),
)


@settings(max_examples=80, deadline=None)
@given(st.lists(stay, min_size=0, max_size=40), st.sampled_from([0, 1]), st.randoms())
def test_matches_naive_loop_and_accounts_for_every_stay(rows, gap, rnd):
    base = pd.Timestamp("2023-01-01")
    adm = pd.DataFrame(
        {
            "person_id": [r[0] for r in rows],
            "admission_date": [base + pd.Timedelta(days=r[1]) for r in rows],
            "discharge_date": [base + pd.Timedelta(days=r[1] + r[2]) for r in rows],
            "discharge_to": [r[3] for r in rows],
            "planned": [r[1] % 3 == 0 for r in rows],
            "main_diagnosis": [f"I{r[2]}{r[1] % 2}" for r in rows],
        }
    )
    adm["admission_date"] = pd.to_datetime(adm["admission_date"])
    adm["discharge_date"] = pd.to_datetime(adm["discharge_date"])
    ep = build_episodes(adm, merge_gap_days=gap)
    assert ep["n_stays"].sum() == len(adm)
    # The fast kernel equals the per-person definition in the package.
    ref = reference_episodes(adm, merge_gap_days=gap)
    cols = list(ref.columns)
    pd.testing.assert_frame_equal(
        ep[cols].astype(object).reset_index(drop=True), ref.astype(object).reset_index(drop=True)
    )
    # Input order does not matter.
    perm = list(range(len(adm)))
    rnd.shuffle(perm)
    ep2 = build_episodes(adm.iloc[perm], merge_gap_days=gap)
    pd.testing.assert_frame_equal(
        ep[["person_id", "admission_date", "discharge_date", "n_stays"]],
        ep2[["person_id", "admission_date", "discharge_date", "n_stays"]],
    )
    # Consecutive episodes of a person are separated: the next one starts after the previous reach.
    if len(ep) > 1:
        same = ep["person_id"].to_numpy()[1:] == ep["person_id"].to_numpy()[:-1]
        gapdays = (
            ep["admission_date"].to_numpy()[1:] - ep["discharge_date"].to_numpy()[:-1]
        ) / np.timedelta64(1, "D")
        assert (gapdays[same] > gap).all()


@settings(max_examples=40, deadline=None)
@given(st.lists(stay, min_size=1, max_size=40), st.sampled_from([0, 1]))
def test_id_kinds_and_sort_paths_agree(rows, gap):
    """Small int ids (sorted as they are), huge int ids and text ids (factorized first) agree."""
    base = pd.Timestamp("2023-01-01")
    adm = pd.DataFrame(
        {
            "person_id": [r[0] for r in rows],
            "admission_date": [base + pd.Timedelta(days=r[1]) for r in rows],
            "discharge_date": [base + pd.Timedelta(days=r[1] + r[2]) for r in rows],
            "discharge_to": [r[3] for r in rows],
            "main_diagnosis": [f"I{r[1]:02d}" for r in rows],
            "other_diagnoses": [f"E1{r[2]} J44" if r[2] % 2 else "" for r in rows],
        }
    )
    ref = build_episodes(adm, merge_gap_days=gap)
    huge = adm.assign(person_id=adm["person_id"] * 10**17 - 4 * 10**17)
    text = adm.assign(person_id=adm["person_id"].map(lambda p: f"P{p}"))
    cols = ["n_stays", "admission_date", "discharge_date", "main_diagnosis", "other_diagnoses"]
    for other in (huge, text):
        ep = build_episodes(other, merge_gap_days=gap)
        pd.testing.assert_frame_equal(ep[cols], ref[cols])


def test_threaded_text_columns_match(monkeypatch):
    import naravard_analysis.indicators.episodes as episodes

    adm = _adm(
        [
            (1, "2024-01-01", "2024-01-20", "I50", False, "home"),
            (1, "2024-01-05", "2024-01-08", "J44", True, "hospital"),
            (2, "2024-01-15", "2024-01-25", "I10", True, "special_housing"),
        ]
    )
    adm["procedures"] = ["AB1", "", "FNG05"]
    plain = build_episodes(adm)
    monkeypatch.setattr(episodes, "_THREADS_FROM", 0)
    pd.testing.assert_frame_equal(build_episodes(adm), plain)
    assert plain["other_diagnoses"].tolist() == ["J44", ""]
    assert plain["procedures"].tolist() == ["AB1", "FNG05"]
