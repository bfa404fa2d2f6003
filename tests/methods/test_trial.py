"""Tests of the sequential target-trial emulation (methods.trial) and the E-value (methods.sensitivity).

* a hand-computed trial: one treated person, two controls, one control censored by its own start
  (censoring weight 2 for the other), rates written out beside the assertion;
* the E-value against the worked example of VanderWeele & Ding (Ann Intern Med 2017;167:268);
* a small test-only register world with area-targeted roll-out (teams start first in the
  municipalities with the highest admission rates, patients enrolled after a spike), with no effect
  and a known effect: the trial design recovers the truth where the old matched design does not.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from naravard_analysis.data import RegisterData
from naravard_analysis.methods.evaluation import evaluate_enrolments
from naravard_analysis.methods.person_time import EventIndex, days, outcome_events, person_frame
from naravard_analysis.methods.sensitivity import e_value, e_value_limit
from naravard_analysis.methods.trial import (
    TrialHistory,
    emulate_trials,
    municipality_area,
    placebo_frame,
    trial_checks,
    trial_rate_ratio,
)

YEAR = 365.25


def _adm(rows):
    out = []
    for pid, date in rows:
        d = pd.Timestamp(date)
        out.append({"person_id": pid, "admission_date": d, "discharge_date": d + pd.Timedelta(days=2),
                    "main_diagnosis": "I500", "other_diagnoses": "", "planned": False,
                    "hospital_id": "SU", "department": "101", "admitted_from": "home", "discharge_to": "home"})
    return pd.DataFrame(out)


def _hand_bundle() -> RegisterData:
    # A is enrolled on 2019-03-10; B and C are alike (same municipality, sex, birth day, no history);
    # C is enrolled on 2019-05-15 (censored per protocol); B has two admissions in July.
    persons = pd.DataFrame({"person_id": ["A", "B", "C"], "sex": "F",
                            "birth_date": pd.Timestamp("1940-01-01"), "region_code": "14",
                            "municipality_code": "1480", "death_date": pd.NaT})
    admissions = _adm([("A", "2019-06-01"), ("B", "2019-07-05"), ("B", "2019-07-20")])
    enrolments = pd.DataFrame({"person_id": ["A", "C"], "intervention": "mobile_team", "team_id": "T",
                               "start_date": pd.to_datetime(["2019-03-10", "2019-05-15"]), "end_date": pd.NaT})
    return RegisterData(persons=persons, admissions=admissions, enrolments=enrolments,
                        meta={"period": ["2018-01-01", "2019-12-31"]})


def test_trial_by_hand():
    data = _hand_bundle()
    pf = person_frame(data)
    adm = EventIndex(*outcome_events(data, "unplanned_admissions", pf))
    start = np.full(3, 2**40)
    start[[0, 2]] = days(data.enrolments["start_date"])
    frame = emulate_trials(pf, start, area_at=municipality_area(data), male=np.zeros(3),
                           history=TrialHistory(adm=adm), window_days=183, controls_per_case=5)
    u = frame.units
    # the March trial: A treated, B and C controls with A's index day and weight 1/2 each; the May
    # trial: C treated, B its control (both without history), weight 1
    march, may = (int(days(pd.Series([pd.Timestamp(d)]))[0]) for d in ("2019-03-10", "2019-05-15"))
    rows = {(int(r.index_day), int(r.code)): i for i, r in enumerate(u.itertuples())}
    assert sorted(rows) == [(march, 0), (march, 1), (march, 2), (may, 1), (may, 2)]
    assert u["treated"].to_numpy()[[rows[(march, 0)], rows[(may, 2)]]].all()
    assert u["treated"].sum() == 2
    w = u["weight"].to_numpy()
    assert [w[rows[k]] for k in sorted(rows)] == pytest.approx([1.0, 0.5, 0.5, 1.0, 1.0])
    # censoring: in May, B and C of the March trial (same cell) are at risk and C starts: hazard
    # 1/2, so B's time from May on carries 1 / (1 - 1/2) = 2; C is censored on 1 May, the first
    # day of its start month (its May days before the start are not counted: B's weight 2 already
    # stands for them)
    assert frame.ipcw[rows[(march, 1)]].tolist() == pytest.approx([1, 1, 2, 2, 2, 2, 2, 2])
    assert frame.ipcw[rows[(march, 2)], :3].tolist() == pytest.approx([1, 1, 1])
    assert frame.ipcw[rows[(may, 1)]].tolist() == pytest.approx([1] * 8)
    res = trial_rate_ratio(frame, adm, per_protocol=True)
    # follow-up 183 days: March trial to 2019-09-09 (exclusive), May trial to 2019-11-14.
    # Treated: A 1 admission in 183 days, C none in 183 days.
    # Controls: March B: 22 + 30 days at 0.5, 31 + 30 + 31 + 31 + 8 days at 0.5 × 2, its two
    # July admissions at 0.5 × 2; March C: 22 + 30 days at 0.5 until 1 May, no admission;
    # May B: 183 days at 1, the same two July admissions.
    t_ctrl = (0.5 * (22 + 30) + 1.0 * (31 + 30 + 31 + 31 + 8) + 0.5 * (22 + 30) + 183) / YEAR
    expected = (1 / (366 / YEAR)) / (4.0 / t_ctrl)
    assert res["estimate"] == pytest.approx(expected, rel=1e-9)
    assert res["person_years_controls"] == pytest.approx(t_ctrl, rel=1e-9)
    # intention to treat: March C followed to 2019-09-09 at 0.5, no censoring weights:
    # controls 0.5 × 2 + 2 = 3 admissions in 0.5 × 183 × 2 + 183 = 366 days -> ratio 1/3
    itt = trial_rate_ratio(frame, adm, per_protocol=False)
    assert itt["estimate"] == pytest.approx(1 / 3, rel=1e-9)


def test_trial_checks_give_the_events_behind_the_placebo_and_negative_control():
    """The placebo-date and negative-control estimates come with the weighted events behind them
    (so a report can hold an estimate back when they are small), and the estimates themselves are
    those of trial_rate_ratio on the placebo frame. Same three persons as test_trial_by_hand."""
    data = _hand_bundle()
    pf = person_frame(data)
    adm = EventIndex(*outcome_events(data, "unplanned_admissions", pf))
    start = np.full(3, 2**40)
    start[[0, 2]] = days(data.enrolments["start_date"])
    frame = emulate_trials(pf, start, area_at=municipality_area(data), male=np.zeros(3),
                           history=TrialHistory(adm=adm), window_days=183, controls_per_case=5)
    # placebo index 12 months (365 days) earlier, window min(183, 365 - 183) = 182 days:
    # March trial 2018-03-10 .. 2018-09-08, May trial 2018-05-15 .. 2018-11-13 (exclusive).
    d = lambda s: int(days(pd.Series([pd.Timestamp(s)]))[0])  # noqa: E731
    events = [(0, "2018-04-01"),  # A: March trial, treated (weight 1)
              (1, "2018-04-10"),  # B: March control only (weight 1/2)
              (1, "2018-06-01"),  # B: March control (1/2) and May control (1)
              (2, "2018-04-20"),  # C: March control (1/2); before its own May placebo window
              (2, "2018-10-01")]  # C: May trial, treated (weight 1)
    pre = EventIndex(np.array([c for c, _ in events]), np.array([d(s) for _, s in events]), np.ones(len(events)))
    ix = {"pre": pre, "unplanned_admissions": adm}
    estimates = pd.DataFrame({"estimate": [1.0], "lower": [0.5], "upper": [2.0]}, index=["pre"])
    _, sens, nc = trial_checks(frame, pf, ix, estimates, negative_control="unplanned_admissions",
                               placebo_months=12)
    s = sens.loc["pre"]
    assert sens.attrs["placebo_window_days"] == 182
    # treated: A 1 + C 1; controls: B 0.5 × 2 + C 0.5 × 1 (March) + B 1 × 1 (May) = 2.5
    assert s["placebo_events_cases"] == pytest.approx(2.0)
    assert s["placebo_events_controls"] == pytest.approx(2.5)
    r = trial_rate_ratio(placebo_frame(frame, pf, shift_days=365, window_days=182), pre, per_protocol=False)
    assert [s["placebo_estimate"], s["placebo_lower"], s["placebo_upper"], s["placebo_events_cases"],
            s["placebo_events_controls"]] == [r["estimate"], r["lower"], r["upper"], r["events_treated"],
                                              r["events_controls"]]
    # the negative control (here the admissions, per protocol): A's one admission; the controls'
    # 0.5 × 2 (March B, censoring weight 2) + 2 (May B) = 4 (test_trial_by_hand)
    n = nc.loc["unplanned_admissions"]
    assert (n["events_cases"], n["events_controls"]) == pytest.approx((1.0, 4.0))
    r = trial_rate_ratio(frame, adm)
    assert [n["estimate"], n["lower"], n["upper"]] == [r["estimate"], r["lower"], r["upper"]]


def test_e_value_worked_example():
    # VanderWeele & Ding 2017, worked example: RR 3.9 (95 % CI 1.8-8.7) -> E-values 7.26 and 3.0
    assert e_value(3.9) == pytest.approx(3.9 + np.sqrt(3.9 * 2.9))
    assert round(e_value(3.9), 2) == 7.26
    assert round(e_value_limit(3.9, 1.8, 8.7), 1) == 3.0
    # protective ratios are inverted first; an interval that includes 1 gives 1
    assert e_value(1 / 3.9) == pytest.approx(e_value(3.9))
    assert e_value_limit(0.5, 0.3, 0.8) == pytest.approx(e_value(0.8))
    assert e_value_limit(0.9, 0.7, 1.1) == 1.0
    assert e_value(1.0) == 1.0
    assert np.isnan(e_value(np.nan))


# ------------------------------------------------------------------------------------------------
# a small test-only world with area-targeted roll-out
def targeted_world(seed: int, *, rr: float, n_persons: int = 10000, n_areas: int = 6,
                   targeted: bool = True) -> RegisterData:
    """Monthly person-level simulation, 2016-2021, every driver of enrolment in the tables.

    Municipalities have log-rate offsets evenly spaced over [-0.4, 0.4]; teams start in order of the
    rate (highest first, ``targeted``) at yearly steps from 2017, the lowest-rate area never. Person
    rate = area × age × persistent frailty × a transient spike (AR(1) with jumps); a resident 65+
    with at least 2 unplanned admissions in the last six calendar months, in an area whose team has
    started, is enrolled in the next month with probability 0.25, at a uniform day; while enrolled
    the rate is multiplied by ``rr``.
    """
    rng = np.random.default_rng(seed)
    months = pd.period_range("2016-01", "2021-12", freq="M")
    T = len(months)
    first = np.array([m.start_time.to_datetime64().astype("datetime64[D]").astype(np.int64) for m in months])
    ndays = np.array([m.days_in_month for m in months])
    area = rng.integers(0, n_areas, n_persons)
    offs = np.linspace(-0.4, 0.4, n_areas)
    rng.shuffle(offs)
    order = np.argsort(-offs) if targeted else rng.permutation(n_areas)
    start_month = np.full(n_areas, 10**6)
    start_month[order[:-1]] = 12 + 12 * np.arange(n_areas - 1)
    age0 = rng.uniform(55, 90, n_persons)
    a = rng.normal(-0.2, 0.5, n_persons)
    s = np.zeros(n_persons)
    buf = np.zeros((6, n_persons))
    enrol = np.full(n_persons, 2**40, np.int64)
    rows_p, rows_d = [], []
    for t in range(T):
        age = age0 + t / 12
        s = 0.7 * s + np.where(rng.random(n_persons) < 0.02, rng.exponential(1.2, n_persons), 0.0)
        lam = 0.03 * np.exp(offs[area] + 0.05 * (age - 70) + a + s)
        k = rng.poisson(lam)
        pos = np.repeat(np.arange(n_persons), k)
        day = first[t] + rng.integers(0, ndays[t], pos.size)
        # the effect: an event on or after the enrolment day happens with probability rr
        keep = (day < enrol[pos]) | (rng.random(pos.size) < rr)
        pos, day = pos[keep], day[keep]
        rows_p.append(pos)
        rows_d.append(day)
        buf[t % 6] = np.bincount(pos, minlength=n_persons)
        if t + 1 < T:
            trig = (buf.sum(0) >= 2) & (age >= 65) & (enrol >= 2**40) & (start_month[area] <= t + 1)
            go = trig & (rng.random(n_persons) < 0.25)  # limited places: many wait
            enrol[go] = first[t + 1] + rng.integers(0, ndays[t + 1], int(go.sum()))
    pos, day = np.concatenate(rows_p), np.concatenate(rows_d)
    munis = np.array(["1480", "1401", "1402", "1407", "1415", "1419", "1421", "1427"])[:n_areas]
    birth = (first[0] - age0 * YEAR).astype(np.int64).astype("datetime64[D]")
    persons = pd.DataFrame({"person_id": np.arange(n_persons), "sex": np.where(rng.random(n_persons) < 0.5, "F", "M"),
                            "birth_date": pd.to_datetime(birth), "region_code": "14",
                            "municipality_code": munis[area], "death_date": pd.NaT})
    d = pd.to_datetime(day.astype("datetime64[D]"))
    admissions = pd.DataFrame({"person_id": pos, "admission_date": d, "discharge_date": d + pd.Timedelta(days=3),
                               "main_diagnosis": "J189", "other_diagnoses": "", "planned": False,
                               "hospital_id": "H", "department": "101", "admitted_from": "home",
                               "discharge_to": "home"}).drop_duplicates(["person_id", "admission_date"])
    who = np.flatnonzero(enrol < 2**40)
    enrolments = pd.DataFrame({"person_id": who, "intervention": "mobile_team", "team_id": munis[area[who]],
                               "start_date": pd.to_datetime(enrol[who].astype("datetime64[D]")),
                               "end_date": pd.NaT})
    return RegisterData(persons=persons, admissions=admissions, enrolments=enrolments,
                        meta={"period": ["2016-01-01", "2021-12-31"], "source": "synthetic"})


SEEDS = (1, 2, 3, 4)


@pytest.fixture(scope="module")
def targeted():
    return {(rr, seed): targeted_world(seed, rr=rr) for rr in (1.0, 0.7) for seed in SEEDS}


@pytest.fixture(scope="module")
def targeted_results(targeted):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {key: evaluate_enrolments(w, outcomes=("unplanned_admissions",)) for key, w in targeted.items()}


def test_trial_recovers_truth_under_area_targeting(targeted_results):
    """Four independent targeted worlds, each with no effect and with 0.7 (same seed, same people and
    enrolments: the pair differs only in the effect). One world's per-protocol estimate has a
    standard error of about 0.13 on the log scale (few who meet the rule stay untreated), so the
    checks are on the mean over worlds, on the paired contrast, and on how many intervals cover."""
    est = {k: r.estimates.loc["unplanned_admissions"] for k, r in targeted_results.items()}
    log_none = np.log([est[(1.0, s)]["estimate"] for s in SEEDS])
    log_known = np.log([est[(0.7, s)]["estimate"] for s in SEEDS])
    assert abs(log_none.mean()) < 0.12
    assert abs(log_known.mean() - np.log(0.7)) < 0.12
    # the paired contrast: same world, effect on vs off
    assert np.abs(log_known - log_none - np.log(0.7)).max() < 0.08
    covered = [est[(rr, s)]["lower"] < rr < est[(rr, s)]["upper"] for rr in (1.0, 0.7) for s in SEEDS]
    assert sum(covered) >= 5  # 95 % intervals: a miss or two in eight happen; four would be rare
    for res in targeted_results.values():
        # no contacts table: the admission outcomes are estimated, ED visits are left out
        assert list(res.estimates.index) == ["unplanned_admissions"]
        # balance of the trigger window and of the area baseline after matching
        assert abs(res.balance.loc["adm_6m", "smd_after"]) < 0.1
        assert abs(res.balance.loc["area_baseline", "smd_after"]) < 0.1
        assert res.balance.loc["adm_6m", "smd_before"] > 0.5
        # falsification: the placebo window and the negative control exist and hold numbers
        s = res.sensitivity.loc["unplanned_admissions"]
        assert np.isfinite([s["e_value"], s["placebo_estimate"], s["pretrend_p_value"]]).all()
        assert s["e_value"] >= 1


@pytest.mark.slow
def test_old_matched_design_is_biased_under_targeting(targeted):
    """The reason for the new default: with no effect, matching across areas with different
    baselines gives ratios above 1 (Daw & Hatfield 2018); the trial design does not."""
    old, new = [], []
    for seed in (1,):
        w = targeted[(1.0, seed)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            old.append(evaluate_enrolments(w, design="matched_did", outcomes=("unplanned_admissions",))
                       .estimates["estimate"].iloc[0])
            new.append(evaluate_enrolments(w, outcomes=("unplanned_admissions",)).estimates["estimate"].iloc[0])
    assert abs(np.mean(np.log(new))) < abs(np.mean(np.log(old)))


def test_ed_visits_without_contacts_is_a_clear_error(targeted):
    from naravard_analysis.errors import SchemaError

    with pytest.raises(SchemaError, match="contacts"):
        evaluate_enrolments(targeted[(1.0, 1)], outcomes=("ed_visits",))
    # the old design no longer crashes in days_since_last without contacts
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = evaluate_enrolments(targeted[(1.0, 1)], design="matched_did")
    assert list(res.estimates.index) == ["unplanned_admissions", "bed_days"]
