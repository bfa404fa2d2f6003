"""Tests of the targeted roll-out scenarios of the synthetic world (data/synthetic/scenarios.py).

Every mechanism the scenarios promise is recomputed from the tables with plain pandas: the order
of the roll-out by area rate, the drivers of named-doctor assignment (age, recorded conditions,
recent admissions), enrolment long enough to cover the six-month window, and the coupling of the
known-effect and no-effect worlds that makes the truth exact.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from naravard_analysis.data.bundle import RegisterData
from naravard_analysis.data.synthetic import NO_EFFECTS, PRESETS, make_world
from naravard_analysis.data.synthetic.calendar import MonthGrid
from naravard_analysis.data.synthetic.scenarios import (
    KNOWN_EFFECTS,
    SCENARIOS,
    area_log_rates,
    rollout_order,
    scenario_effects,
    staggered_months,
)
from naravard_analysis.errors import ParameterError

KW = dict(n_persons=6_000, seed=2)


@pytest.fixture(scope="module")
def teams() -> tuple[RegisterData, RegisterData]:
    """Teams, targeted: known effect and no effect, same seed (coupled worlds)."""
    return (make_world("coverage", scenario="teams_targeted", **KW),
            make_world("coverage", scenario="teams_targeted", effects="none", **KW))


@pytest.fixture(scope="module")
def named() -> RegisterData:
    return make_world("coverage", scenario="named_doctor_targeted", effects="none", n_persons=8_000,
                      seed=4)


@pytest.fixture(scope="module")
def named_random() -> RegisterData:
    return make_world("coverage", scenario="named_doctor_random", effects="none", n_persons=8_000,
                      seed=4)


# --------------------------------------------------------------------------- settings and truth
def test_scenario_effects_and_errors() -> None:
    teams, nd = (dict(name=k, **SCENARIOS[k]) for k in ("teams_targeted", "named_doctor_random"))
    assert scenario_effects(teams, None)["mobile_team_unplanned_rr"] == 0.70
    assert scenario_effects(teams, None)["named_doctor_avoidable_rr"] == 1.0
    assert scenario_effects(nd, None)["named_doctor_avoidable_rr"] == 0.85
    assert scenario_effects(nd, None)["mobile_team_ed_rr"] == 1.0
    assert scenario_effects(nd, "none") == NO_EFFECTS
    over = scenario_effects(teams, {"mobile_team_ed_rr": 0.5})
    assert over["mobile_team_ed_rr"] == 0.5 and over["mobile_team_unplanned_rr"] == 0.70
    with pytest.raises(ParameterError, match="unknown effect keys"):
        scenario_effects(teams, {"team_rr": 0.5})
    with pytest.raises(ParameterError, match="unknown scenario"):
        make_world("coverage", scenario="teams", n_persons=500)
    assert set(KNOWN_EFFECTS) == {s["intervention"] for s in SCENARIOS.values()}
    assert PRESETS["coverage"]["min_age"] == 60


def test_rollout_helpers() -> None:
    lr = area_log_rates(3, 8, 0.4)
    assert np.allclose(np.sort(lr), np.linspace(-0.4, 0.4, 8))
    rank = rollout_order(3, lr, targeted=True)
    assert (np.argsort(rank) == np.argsort(-lr, kind="stable")).all()  # highest rate first
    assert sorted(rollout_order(3, lr, targeted=False)) == list(range(8))
    grid = MonthGrid("2017-01-01", "2023-12-31")
    months = staggered_months(rank, 0.25, grid)
    big = months > 10_000
    assert big.sum() == 2 and (rank[big] >= 6).all()  # the two lowest-rate areas never start
    started = np.argsort(rank)[:6]
    assert (np.diff(months[started]) > 0).all() and months[started][0] == 12


def test_truth_recorded_and_json(teams, named) -> None:
    w, none = teams
    t = w.meta["truth"]["scenario"]
    assert w.meta["scenario"] == "teams_targeted" and t["name"] == "teams_targeted"
    # hip fractures (the negative control) are spared: the ratio on all admissions mixes 0.70 with
    # their share of the enrolled persons' counterfactual admissions
    share = t["hip_fracture_share"]
    assert 0.0 < share < 0.25
    exp = t["expected_rate_ratio"]
    assert exp["unplanned_admissions"] == pytest.approx(0.70 + 0.30 * share)
    assert 0.70 < exp["ed_visits"] < exp["unplanned_admissions"]
    assert 0.70 < exp["bed_days"] < 1.0
    # the truth is the realised effect on the enrolled: the oracle's actual over counterfactual events
    oracle = w.meta["truth"]["mobile_team"]["oracle"]
    for o in ("unplanned_admissions", "ed_visits", "bed_days"):
        assert t["true_rate_ratio"][o] == oracle[o]["oracle_rate_ratio"]
        assert oracle[o]["observed_post"] < oracle[o]["counterfactual_post"]
    assert 0.55 < t["true_rate_ratio"]["unplanned_admissions"] < 0.9  # realised: a small world is noisy
    assert t["true_rate_ratio"]["hip_fractures"] == 1.0
    assert none.meta["truth"]["scenario"]["true_rate_ratio"]["unplanned_admissions"] == 1.0
    assert named.meta["truth"]["scenario"]["true_rate_ratio"] == {"avoidable_admissions": 1.0}
    json.dumps(w.meta)
    json.dumps(named.meta)
    # the mobile-team truth and the scenario agree on when each municipality starts
    assert t["rollout_start"] == w.meta["truth"]["mobile_team"]["team_start"]


def test_same_seed_same_scenario_world() -> None:
    kw = dict(scenario="named_doctor_targeted", n_persons=1_000, seed=9, start="2019-01-01",
              end="2021-12-31")
    a, b = make_world("coverage", **kw), make_world("coverage", **kw)
    for name in a.tables:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name])


# --------------------------------------------------------------------------- mobile teams
def _unplanned_rate_by(data: RegisterData, key: pd.Series) -> pd.Series:
    """Unplanned admissions (not transfers in) per person of the persons table, by ``key``."""
    a = data.admissions
    a = a[~a["planned"] & (a["admitted_from"] != "hospital")]
    n_adm = a.merge(data.persons[["person_id"]].assign(k=key.to_numpy()), on="person_id").groupby("k").size()
    return n_adm / key.value_counts()


def test_teams_start_in_high_rate_municipalities_first(teams) -> None:
    w, _ = teams
    t = w.meta["truth"]["scenario"]
    lr = pd.Series(t["area_log_rate"])
    start = pd.to_datetime(pd.Series(t["rollout_start"]))
    started = start.dropna().sort_values()
    assert (lr[started.index].diff().dropna() < 0).all()  # later start, lower rate
    assert lr[start.isna()].max() < lr[started.index].min()
    # the enrolled all live where a team had started
    enr = w.enrolments.merge(w.persons, on="person_id")
    assert (enr["start_date"] >= start[enr["municipality_code"]].to_numpy()).all()
    # the area baselines show in the tables (observed admission rates follow the log-rates)
    rate = _unplanned_rate_by(w, w.persons["municipality_code"])
    assert np.corrcoef(lr[rate.index], np.log(rate))[0, 1] > 0.7


def test_enrolment_covers_the_six_month_window(teams) -> None:
    w, _ = teams
    e = w.enrolments.merge(w.persons[["person_id", "death_date"]], on="person_id")
    last = w.listings.groupby("person_id")["end_date"].agg(lambda s: s.max() if s.notna().all() else pd.NaT)
    stop = e["end_date"].fillna(pd.Timestamp("2099-01-01"))
    exited = e["person_id"].map(last).notna()
    days = (stop - e["start_date"]).dt.days
    assert (days[~exited & e["end_date"].notna()] >= 7 * 30).all()
    assert len(e) >= 100


def test_coupled_truth_exact(teams) -> None:
    """Known effect vs no effect, same seed: identical enrolments, and the oracle's counterfactual
    equals the no-effect world's counts; the realised ratio is near 0.70."""
    w, none = teams
    pd.testing.assert_frame_equal(w.enrolments, none.enrolments)
    o = w.meta["truth"]["mobile_team"]["oracle"]["unplanned_admissions"]
    a = none.admissions
    a = a[~a["planned"] & (a["admitted_from"] != "hospital")].merge(none.enrolments, on="person_id")
    rel = (a["admission_date"] - a["start_date"]).dt.days
    assert o["counterfactual_post"] == rel.between(0, 181).sum()
    assert 0.55 <= o["oracle_rate_ratio"] <= 0.85


def _monthly(data: RegisterData) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Unplanned admissions (not transferred in) and ED visits without admission (no such
    admission of the person on the same or the next day) per person and calendar month."""
    a = data.admissions
    a = a[~a["planned"] & (a["admitted_from"] != "hospital")]
    c = data.contacts[data.contacts["care_level"] == "emergency"]
    days = set(zip(a["person_id"], a["admission_date"], strict=True))
    admitted = [(p, d) in days or (p, d + pd.Timedelta(days=1)) in days
                for p, d in zip(c["person_id"], c["contact_date"], strict=True)]
    c = c[~np.array(admitted, dtype=bool)]
    adm = a.groupby(["person_id", a["admission_date"].dt.to_period("M")]).size()
    ed = c.groupby(["person_id", c["contact_date"].dt.to_period("M")]).size()
    return adm, ed


def test_enrolment_follows_the_trigger_in_the_tables(teams) -> None:
    """Recomputed from the final tables: every enrolled person had >= 2 unplanned admissions, or
    >= 3 unplanned admissions + ED visits without admission, in the six calendar months before
    the enrolment month; the metadata state the scenario's rule."""
    w, _ = teams
    adm, ed = _monthly(w)
    e = w.enrolments
    ok = []
    for pid, start in zip(e["person_id"], e["start_date"], strict=True):
        last = start.to_period("M") - 1
        months = pd.period_range(last - 5, last, freq="M")
        a = sum(adm.get((pid, m), 0) for m in months)
        d = sum(ed.get((pid, m), 0) for m in months)
        ok.append(a >= 2 or a + d >= 3)
    assert all(ok), f"{len(ok) - sum(ok)} enrolled without the trigger in the tables"
    rule = w.meta["truth"]["mobile_team"]["enrolment_rule"]
    assert "without admission" in rule["counts"] and rule["rule"] == w.meta["truth"]["scenario"]["enrolment_rule"]


def test_treatment_changes_nothing_before_it_starts(named) -> None:
    """Known effect vs no effect, same seed: the same named doctors at the same dates (decided on
    the untreated history), and the same admissions before each person's first named doctor."""
    known = make_world("coverage", scenario="named_doctor_targeted", n_persons=8_000, seed=4)
    pd.testing.assert_frame_equal(known.listings, named.listings)
    first = _first_named(named)["first"].dropna()

    def before(d: RegisterData) -> pd.DataFrame:
        a = d.admissions.merge(first.rename("first"), left_on="person_id", right_index=True)
        return a[a["admission_date"] < a["first"]].reset_index(drop=True)

    pd.testing.assert_frame_equal(before(known), before(named))
    assert len(before(named)) > 100
    # after the start the effect shows: fewer avoidable (chronic) admissions in the known world
    assert len(known.admissions) < len(named.admissions)


# --------------------------------------------------------------------------- named doctors
def _first_named(data: RegisterData) -> pd.DataFrame:
    lst = data.listings
    first = lst[lst["doctor_id"].notna()].groupby("person_id")["start_date"].min()
    unit = lst.groupby("person_id")["unit_id"].first()
    return pd.DataFrame({"unit_id": unit, "first": first.reindex(unit.index)})


def test_named_doctors_follow_unit_adoption(named) -> None:
    t = named.meta["truth"]["scenario"]
    adopt = pd.to_datetime(pd.Series(t["rollout_start"]))
    f = _first_named(named)
    has = f["first"].notna()
    assert (f.loc[has, "first"] >= adopt[f.loc[has, "unit_id"]].to_numpy()).all()
    never = adopt[adopt.isna()].index
    assert len(never) >= 1 and not has[f["unit_id"].isin(never)].any()
    lr = pd.Series(t["area_log_rate"])
    started = adopt.dropna().sort_values()
    assert (lr[started.index].diff().dropna() < 0).all()  # higher-rate units first
    assert 0.25 <= has.mean() <= 0.8


def _assignment_rate_ratio(data: RegisterData) -> float:
    """Monthly assignment rate of persons with vs without an unplanned admission in the three
    calendar months before, among persons at risk in adopted units (resident, no named doctor
    yet; a sample of person-months)."""
    t = data.meta["truth"]["scenario"]
    adopt = pd.to_datetime(pd.Series(t["rollout_start"]))
    f = _first_named(data)
    last = data.listings.groupby("person_id")["end_date"]
    f["exit"] = last.max().where(last.count() == last.size())  # death or moving out; NaT = stays
    months = pd.date_range("2018-01-01", "2023-06-01", freq="MS")
    a = data.admissions
    a = a[~a["planned"]]
    am = a["admission_date"].dt.to_period("M")
    rows = []
    for m in months[::3]:  # a sample of months keeps the test fast
        mp = m.to_period("M")
        recent = set(a.loc[(am < mp) & (am >= mp - 3), "person_id"])
        at_risk = ((adopt[f["unit_id"]].to_numpy() <= m) & (f["first"].isna() | (f["first"] >= m))
                   & (f["exit"].isna() | (f["exit"] >= m)))
        r = f[at_risk]
        got = (r["first"] >= m) & (r["first"] < m + pd.offsets.MonthBegin(1))
        rows.append(pd.DataFrame({"recent": r.index.isin(recent), "got": got.to_numpy()}))
    d = pd.concat(rows)
    p = d.groupby("recent")["got"].mean()
    return float(p[True] / p[False])


def test_confounding_by_indication_only_when_targeted(named, named_random) -> None:
    """Targeted: a recent admission multiplies the monthly hazard (exp(1.0) ≈ 2.7, and more via
    age and recorded conditions); random: no difference."""
    assert _assignment_rate_ratio(named) > 2.0
    assert 0.5 < _assignment_rate_ratio(named_random) < 1.6


def test_named_doctor_world_has_trend_and_unit_baselines(named_random) -> None:
    t = named_random.meta["truth"]["scenario"]
    assert t["trend_per_year"] == -0.04 and t["targeting"] is False
    unit = named_random.listings.groupby("person_id")["unit_id"].first()
    key = named_random.persons["person_id"].map(unit)
    rate = _unplanned_rate_by(named_random, key)
    lr = pd.Series(t["area_log_rate"])
    assert np.corrcoef(lr[rate.index], np.log(rate))[0, 1] > 0.5


def _enrolled_admissions(world: RegisterData, hip: bool) -> int:
    """Unplanned admissions (not transferred in) during enrolment, hip fractures (S72) or the rest."""
    a = world.admissions
    a = a[~a["planned"].to_numpy(bool) & (a["admitted_from"] != "hospital").to_numpy(bool)]
    a = a[a["main_diagnosis"].str.startswith("S72").to_numpy(bool) == hip]
    e = world.enrolments[["person_id", "start_date", "end_date"]]
    j = a.merge(e, on="person_id")
    end = j["end_date"].fillna(pd.Timestamp("2100-01-01"))
    return int(((j["admission_date"] >= j["start_date"]) & (j["admission_date"] < end)).sum())


def test_team_effect_spares_hip_fractures(teams) -> None:
    # coupled worlds (same seed, same enrolments): during enrolment the other admissions fall to
    # about 0.70 of the no-effect world's, hip fractures do not fall (a valid negative control)
    w, none = teams
    other = _enrolled_admissions(w, False) / _enrolled_admissions(none, False)
    n_hip = _enrolled_admissions(none, True)
    assert n_hip >= 10
    assert 0.6 < other < 0.8
    assert _enrolled_admissions(w, True) / n_hip > 0.9
