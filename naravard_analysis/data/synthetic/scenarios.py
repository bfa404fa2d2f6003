"""Scenarios: worlds in which mobile teams and named doctors are rolled out the way they really are.

``make_world(preset, scenario=name)`` keeps everything of the preset and changes the roll-out of
one intervention so that it is *targeted* at need, as in Swedish practice:

``teams_targeted``
    Municipalities differ in their baseline rate of unplanned admissions and ED visits (log-rate
    multipliers evenly spaced over ``[-0.4, 0.4]``, assigned to municipalities at random per seed).
    Mobile teams start in order of that rate, the highest-rate municipality first, at evenly
    spaced months; the lowest-rate quarter never starts. Patients are enrolled right after an
    admission spike (:func:`team_enrolments`: 65+, ≥ 2 unplanned admissions or ≥ 3 unplanned
    admissions + ED visits without admission in the six calendar months before, referred with
    probability 0.25 a month while the trigger holds (teams have limited places), enrolled the next
    month); an enrolment lasts at least seven months, so the six-month outcome
    window is wholly under treatment.
``teams_random``
    The same, but the order in which municipalities start is a random permutation (targeting off).
``named_doctor_targeted``
    Care units (vårdcentraler) differ in their baseline rate of unplanned admissions and ED visits
    (log-rate multipliers over ``[-0.4, 0.4]``, assigned to units at random per seed), and all
    these rates fall by 4 % a year (secular trend; the preset's own 3 % decline of the avoidable
    groups is replaced by it). Units adopt named doctors in order of their rate, the highest
    first, at evenly spaced months; the lowest-rate 15 % never adopt in the period. Within an
    adopting unit, each month, a person without a named doctor gets one with hazard
    ``0.02 · exp(0.3 (age − 70)/10 + 0.3 · groups + 1.0 · recent)`` (:func:`named_doctor_assignment`;
    age clipped to 20–95; ``groups`` = chronic avoidable groups recorded as the cause of an
    earlier admission, at most 4; ``recent`` = unplanned admissions in the three calendar months
    before, at most 2) — confounding by indication. A named doctor who leaves is replaced the same
    day (a near-absorbing exposure; a month's gap when no permanent doctor is in post).
``named_doctor_random``
    The same units, rates and trend, but units adopt in random order and, within a unit, the
    monthly hazard is 0.03 for everybody (targeting off).

Every driver of assignment is in the tables, exactly: age and sex (``persons``), municipality
(``persons.municipality_code``), care unit (``listings.unit_id``), calendar month, and earlier
admissions with their main diagnoses and ED visits (``admissions``, ``contacts``; an ED visit
"without admission" has no unplanned admission of the person on the same or the next day). Who is
treated is decided on the tables of a first pass of the world without treatment
(:func:`history_counts`); a treatment changes nothing before it starts, so up to each person's
start these are the tables of the final world (tested).

Known effects (``effects=None``): mobile teams 0.70 on unplanned admissions and on ED visits while
enrolled (length of stay unchanged), except hip fractures (S72), the negative-control outcome that a
team cannot plausibly change (every world). The truth on all unplanned admissions, bed days and ED
visits (``true_rate_ratio``) is the realised effect on the enrolled: their events in the 182 days
after enrolment in the world with teams over the same events without (the oracle of
:mod:`.truth`). The expected mix ``0.70 + 0.30 s``, with ``s`` the hip fractures' share of the
enrolled persons' counterfactual admissions (:func:`.truth.team_rate_ratios`), is kept as
``expected_rate_ratio``; it is about 3 % weaker than the realised effect, because a prevented event
also removes the events the simulation couples to it. Named doctor 0.85 on the chronic
avoidable admissions while a named doctor is assigned. The other intervention has no effect in
the scenario (rate ratios 1). ``effects="none"`` is the no-effect world; a dict overrides keys of
the scenario's known effects. The truth is written to ``meta["truth"]["scenario"]``.

Design choices, not calibrated values; sized so that a valid design can recover the truth and an
invalid one visibly fails (the naive before/after comparison, matching across areas with different
baselines (Daw & Hatfield, Health Serv Res 2018;53:4138), and a person-time model that ignores the
unit and the recent admissions that decide who is treated).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from naravard_analysis.data.synthetic.calendar import MonthGrid
from naravard_analysis.data.synthetic.codes import cause_table
from naravard_analysis.data.synthetic.listings import doctor_chain
from naravard_analysis.data.synthetic.presets import NO_EFFECTS, resolve_effects
from naravard_analysis.data.synthetic.rng import stream
from naravard_analysis.data.synthetic.staff import Roster
from naravard_analysis.errors import ParameterError

__all__ = ["SCENARIOS", "KNOWN_EFFECTS", "ASSIGNMENT", "AVOIDABLE_GROUPS", "resolve_scenario",
           "scenario_effects", "area_log_rates", "rollout_order", "staggered_months", "history_counts",
           "team_enrolments", "named_doctor_assignment"]

BIG = np.iinfo(np.int64).max // 4
YEAR = 365.25

#: Scenario name -> settings (all JSON-serialisable; written to ``meta["truth"]["scenario"]``).
SCENARIOS: dict[str, dict[str, Any]] = {
    "teams_targeted": {
        "intervention": "mobile_team", "targeting": True, "area": "municipality",
        "log_rate_spread": 0.4, "trend_per_year": None, "never_share": 0.25,
        "enrolment_min_months": 7, "enrolment_mean_months": 12, "referral_probability": 0.25,
        "description": "mobile teams start first in the municipalities with the highest admission "
                       "rates; patients enrolled right after an admission spike",
    },
    "teams_random": {
        "intervention": "mobile_team", "targeting": False, "area": "municipality",
        "log_rate_spread": 0.4, "trend_per_year": None, "never_share": 0.25,
        "enrolment_min_months": 7, "enrolment_mean_months": 12, "referral_probability": 0.25,
        "description": "as teams_targeted, but municipalities start in random order",
    },
    "named_doctor_targeted": {
        "intervention": "named_doctor", "targeting": True, "area": "unit",
        "log_rate_spread": 0.4, "trend_per_year": -0.04, "never_share": 0.15,
        "description": "named doctors unit by unit, highest-rate units first; within a unit the "
                       "recently admitted, the old and the multimorbid first; rates fall 4 % a year",
    },
    "named_doctor_random": {
        "intervention": "named_doctor", "targeting": False, "area": "unit",
        "log_rate_spread": 0.4, "trend_per_year": -0.04, "never_share": 0.15,
        "description": "as named_doctor_targeted, but units adopt in random order and everybody "
                       "in an adopting unit has the same monthly hazard",
    },
}

#: The known effect of each intervention's scenarios (``effects=None``).
KNOWN_EFFECTS: dict[str, dict[str, float]] = {
    "mobile_team": {"mobile_team_unplanned_rr": 0.70, "mobile_team_ed_rr": 0.70,
                    "mobile_team_los_rr": 1.0, "named_doctor_avoidable_rr": 1.0},
    "named_doctor": {"mobile_team_unplanned_rr": 1.0, "mobile_team_ed_rr": 1.0,
                     "mobile_team_los_rr": 1.0, "named_doctor_avoidable_rr": 0.85},
}

#: Causes of admission whose main diagnosis puts a chronic avoidable group on record (the
#: named-doctor scenarios' measure of multimorbidity; Socialstyrelsen's chronic avoidable list).
AVOIDABLE_GROUPS = ("heart_failure", "copd", "asthma", "diabetes", "angina", "hypertension")

#: Monthly hazard of getting a named doctor in an adopting unit (log-linear terms).
ASSIGNMENT: dict[str, dict[str, float]] = {
    "targeted": {"base_monthly_hazard": 0.02, "age_centre": 70.0, "per_10_years_of_age": 0.3,
                 "age_clip_low": 20.0, "age_clip_high": 95.0, "per_recorded_condition": 0.3,
                 "max_conditions": 4, "recent_months": 3, "per_recent_admission": 1.0,
                 "max_recent": 2},
    "random": {"base_monthly_hazard": 0.03, "age_centre": 70.0, "per_10_years_of_age": 0.0,
               "age_clip_low": 20.0, "age_clip_high": 95.0, "per_recorded_condition": 0.0,
               "max_conditions": 4, "recent_months": 3, "per_recent_admission": 0.0,
               "max_recent": 2},
}


def resolve_scenario(scenario: str | None) -> dict[str, Any] | None:
    """Settings of a scenario (a copy with its ``name``), ``None`` for none, else ParameterError."""
    if scenario is None:
        return None
    if scenario not in SCENARIOS:
        raise ParameterError(f"unknown scenario {scenario!r}; choose one of {sorted(SCENARIOS)}")
    return {"name": scenario, **SCENARIOS[scenario]}


def scenario_effects(scn: Mapping[str, Any], effects: str | Mapping[str, float] | None) -> dict[str, float]:
    """Effects of a scenario world: ``None``/``"default"`` = the known effect, ``"none"`` = none,
    a dict = overrides of the known effect (checked like :func:`.presets.resolve_effects`).

    Examples
    --------
    >>> scenario_effects(resolve_scenario("teams_targeted"), None)["mobile_team_ed_rr"]
    0.7
    >>> scenario_effects(resolve_scenario("named_doctor_random"), "none")["named_doctor_avoidable_rr"]
    1.0
    """
    if isinstance(effects, str) and effects == "none":
        return dict(NO_EFFECTS)
    known = dict(KNOWN_EFFECTS[scn["intervention"]])
    if effects is None or (isinstance(effects, str) and effects == "default"):
        return resolve_effects(known)
    if isinstance(effects, Mapping):
        resolve_effects(effects)  # unknown keys and ranges: one clear error
        known.update(effects)
        return resolve_effects(known)
    return resolve_effects(effects)  # raises the standard error for a bad argument


def area_log_rates(seed: int, n: int, spread: float) -> np.ndarray:
    """Log-rate multipliers of ``n`` areas: evenly spaced over ``[-spread, spread]``, shuffled.

    Examples
    --------
    >>> sorted(area_log_rates(0, 3, 0.4).round(2).tolist())
    [-0.4, 0.0, 0.4]
    """
    values = np.linspace(-spread, spread, n) if n > 1 else np.zeros(n)
    return stream(seed, "scenario", 0).permutation(values)


def rollout_order(seed: int, log_rate: np.ndarray, targeted: bool) -> np.ndarray:
    """Rank of each area in the roll-out (0 = first): by descending rate, or a random order."""
    if targeted:
        order = np.argsort(-log_rate, kind="stable")
    else:
        order = stream(seed, "scenario", 1).permutation(len(log_rate))
    rank = np.empty(len(log_rate), np.int64)
    rank[order] = np.arange(len(log_rate))
    return rank


def staggered_months(rank: np.ndarray, never_share: float, grid: MonthGrid) -> np.ndarray:
    """Start month of each area from its rank: evenly spaced from month 12 (a sixth of a short
    period) to 12 months before the end; the last ``never_share`` of the ranks never start (BIG),
    at least one area when there are two or more."""
    n = len(rank)
    n_never = int(np.ceil(never_share * n)) if n > 1 else 0
    n_start = max(n - n_never, 1)
    lo = min(12, grid.n // 6)
    hi = max(lo + 1, grid.n - 12 if grid.n > 36 else grid.n - 6)
    months = np.round(np.linspace(lo, hi, n_start)).astype(np.int64) if n_start > 1 else np.array([lo])
    return np.where(rank < n_start, months[np.minimum(rank, n_start - 1)], BIG)


def history_counts(admissions: pd.DataFrame, stays: pd.DataFrame, sim: dict, P: int,
                   grid: MonthGrid) -> dict[str, np.ndarray]:
    """Monthly counts per person as the tables show them (the drivers of assignment).

    ``admissions`` is the canonical table of a world, ``stays`` its finalised stays (same rows,
    with the cause index and the ED flag), ``sim`` its simulation. Returns ``adm`` and ``ed``
    (``(P, months)`` int16: unplanned admissions not transferred in, by admission month; ED
    visits without admission, i.e. ED contacts with no such admission of the person on the same
    or the next day) and
    ``cond_first`` (``(P, groups)``: first month each chronic avoidable group of
    :data:`AVOIDABLE_GROUPS` was the cause of an admission, ``BIG`` = never).
    """
    unpl = (~admissions["planned"].to_numpy(bool)) & (admissions["admitted_from"].to_numpy() != "hospital")
    pid = admissions["person_id"].to_numpy(np.int64)[unpl] - 1
    month = grid.month_of_day(admissions["admission_date"].to_numpy()[unpl]
                              .astype("datetime64[D]").astype(np.int64))
    adm = np.zeros((P, grid.n), np.int16)
    np.add.at(adm, (pid, month), 1)
    e_only = sim["e_act"]
    ed_flag = stays["ed"].to_numpy(bool)
    e_pid = np.concatenate([sim["e_pid"][e_only], stays["pid"].to_numpy()[ed_flag]])
    e_day = np.concatenate([sim["e_day"][e_only], stays["adm"].to_numpy()[ed_flag]])
    # ED visits without admission: no unplanned admission (not transferred in) of the person on
    # the same or the next day -- an ED visit that leads to admission counts once, as the admission
    a_day = admissions["admission_date"].to_numpy()[unpl].astype("datetime64[D]").astype(np.int64)
    span = np.int64(1 << 32)
    keys = np.unique(pid * span + a_day)
    ek = e_pid.astype(np.int64) * span + e_day
    alone = ~(np.isin(ek, keys) | np.isin(ek + 1, keys))
    ed = np.zeros((P, grid.n), np.int16)
    np.add.at(ed, (e_pid[alone], grid.month_of_day(e_day[alone])), 1)
    names = cause_table()["names"]
    group_of_cause = np.full(len(names) + 1, -1)
    for g, c in enumerate(AVOIDABLE_GROUPS):
        group_of_cause[names.index(c)] = g
    cause = stays["cause"].to_numpy()
    grp = np.where(cause >= 0, group_of_cause[np.maximum(cause, 0)], -1)
    has = grp >= 0
    cond_first = np.full((P, len(AVOIDABLE_GROUPS)), BIG, np.int64)
    np.minimum.at(cond_first, (stays["pid"].to_numpy()[has], grp[has]),
                  grid.month_of_day(stays["adm"].to_numpy()[has]))
    return {"adm": adm, "ed": ed, "cond_first": cond_first}


def team_enrolments(seed: int, persons: dict, team_start: np.ndarray, hist: dict,
                    exit_day: np.ndarray, grid: MonthGrid, scn: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Enrolment start and end days (BIG = never) from the tables' monthly counts.

    The rule of :data:`~.simulate.ENROLMENT_RULE` applied to the counts a register shows: a
    resident aged 65+ on the first day of month ``t + 1`` (not leaving the region or dying in ``t``), in a
    municipality whose team starts by month ``t + 1``, with ≥ 2 unplanned admissions (not
    transferred in), or ≥ 3 unplanned admissions + ED visits without admission, in months
    ``t - 5 .. t``, is
    referred with probability ``referral_probability`` (0.25: a team's places are limited, so many who
    meet the rule wait; with 0.5 nearly everyone triggered is enrolled within two months and a
    per-protocol comparison has almost no untreated follow-up left to compare with) and enrolled on
    a uniformly drawn day of month ``t + 1``; the
    enrolment lasts ``enrolment_min_months - 1 + Geometric`` months (mean
    ``enrolment_mean_months``), ended by death or moving out.
    """
    P = len(persons["sex"])
    adm6 = np.cumsum(hist["adm"], axis=1, dtype=np.int32)
    ed6 = np.cumsum(hist["ed"], axis=1, dtype=np.int32)
    adm6[:, 6:] -= adm6[:, :-6].copy()
    ed6[:, 6:] -= ed6[:, :-6].copy()
    offset = scn["enrolment_min_months"] - 1
    p_geom = 1.0 / (scn["enrolment_mean_months"] - offset)
    start = np.full(P, BIG, np.int64)
    end = np.full(P, BIG, np.int64)
    muni = persons["muni"]
    for t in range(grid.n - 1):
        d0, nd = int(grid.first_day[t]), int(grid.n_days[t])
        rng = stream(seed, "scenario", 100 + t)
        u_ref, u_day, dur = rng.random(P), rng.random(P), offset + rng.geometric(p_geom, P)
        trig = (adm6[:, t] >= 2) | (adm6[:, t] + ed6[:, t] >= 3)
        age = (grid.first_day[t + 1] - persons["birth_day"]) / YEAR
        elig = (trig & (age >= 65) & (start >= BIG)
                & (persons["entry_day"] < d0 + nd) & (exit_day >= d0 + nd)
                & (team_start[muni] <= t + 1))
        go = np.flatnonzero(elig & (u_ref < scn.get("referral_probability", 0.5)))
        day = int(grid.first_day[t + 1]) + np.floor(u_day[go] * grid.n_days[t + 1]).astype(np.int64)
        start[go] = day
        end[go] = day + np.round(dur[go] * 30.44).astype(np.int64)
    return start, end


def named_doctor_assignment(seed: int, persons: dict, unit_of: np.ndarray, adopt_day: np.ndarray,
                            hist: dict | None, exit_day: np.ndarray, clinicians: pd.DataFrame,
                            n_units: int, grid: MonthGrid, targeted: bool) -> dict[str, np.ndarray]:
    """Named-doctor periods ``(N_GENERATIONS, P)`` of a named-doctor scenario.

    Each month ``t``, a resident of a unit that has adopted (``adopt_day`` before the month's
    end) without a named doctor gets one with probability ``1 - exp(-h)``, ``h`` from
    :data:`ASSIGNMENT` with age on the month's first day, the chronic avoidable groups recorded as the cause
    (main diagnosis) of an admission before the month, and the unplanned admissions (not
    transferred in) of months ``t - 3 .. t - 1``, all from ``hist`` (:func:`history_counts`;
    ``None`` when not targeted). The day is drawn uniformly from the first day the person is
    resident in an adopted unit to the month's end (no assignment after death or moving out).
    The doctor is a permanent physician of the unit in post, replaced on the day they leave.
    """
    prm = ASSIGNMENT["targeted" if targeted else "random"]
    P = len(unit_of)
    first = np.full(P, BIG, np.int64)
    adopt = adopt_day[unit_of]
    recent = None
    if hist is not None:
        recent = np.cumsum(hist["adm"], axis=1, dtype=np.int32)
        recent = np.concatenate([np.zeros((P, 1), np.int32), recent], axis=1)  # sums before month t
    for t in range(grid.n):
        d0, nd = int(grid.first_day[t]), int(grid.n_days[t])
        rng = stream(seed, "rollout", t)
        u, u_day = rng.random(P), rng.random(P)
        cand = (first >= BIG) & (adopt < d0 + nd) & (persons["entry_day"] < d0 + nd) & (exit_day > d0)
        lin = np.zeros(P)
        if hist is not None:
            a = np.clip((d0 - persons["birth_day"]) / YEAR, prm["age_clip_low"], prm["age_clip_high"])
            n_cond = (hist["cond_first"] < t).sum(1)
            rec = recent[:, t] - recent[:, max(t - prm["recent_months"], 0)]
            lin = (prm["per_10_years_of_age"] * (a - prm["age_centre"]) / 10
                   + prm["per_recorded_condition"] * np.minimum(n_cond, prm["max_conditions"])
                   + prm["per_recent_admission"] * np.minimum(rec, prm["max_recent"]))
        go = cand & (u < 1 - np.exp(-prm["base_monthly_hazard"] * np.exp(lin)))
        lo = np.maximum(np.maximum(adopt, d0), persons["entry_day"])
        day = lo + np.floor(u_day * (d0 + nd - lo)).astype(np.int64)
        go &= day < exit_day
        first[go] = day[go]
    roster = Roster(clinicians, n_units, grid, permanent_only=True)
    start, end, doctor = doctor_chain(stream(seed, "rollout", 10_000), first, unit_of, roster,
                                      clinicians["end_day"].to_numpy(), grid, reassign=1.0, gap_mean=0.0)
    return {"start": start, "end": end, "doctor": doctor, "adopt": adopt_day}
