"""Scenarios: worlds in which mobile teams and named doctors are rolled out the way they really are.

``make_world(preset, scenario=name)`` keeps everything of the preset and changes the roll-out of
one intervention so that it is *targeted* at need, as in Swedish practice:

``teams_targeted``
    Municipalities differ in their baseline rate of unplanned admissions and ED visits (log-rate
    multipliers evenly spaced over ``[-0.4, 0.4]``, assigned to municipalities at random per seed).
    Mobile teams start in order of that rate, the highest-rate municipality first, at evenly
    spaced months; the lowest-rate quarter never starts. Patients are enrolled, as in every world,
    in the month after an admission spike (:data:`~.simulate.ENROLMENT_RULE`); an enrolment lasts
    at least seven months, so the six-month outcome window is wholly under treatment.
``teams_random``
    The same, but the order in which municipalities start is a random permutation (targeting off).
``named_doctor_targeted``
    Care units (vårdcentraler) differ in their baseline rate of unplanned admissions and ED visits
    (log-rate multipliers over ``[-0.4, 0.4]``, assigned to units at random per seed), and all
    these rates fall by 4 % a year (secular trend; the preset's own 3 % decline of the avoidable
    groups is replaced by it). Units adopt named doctors in order of their rate, the highest
    first, at evenly spaced months; the lowest-rate 15 % never adopt in the period. Within an
    adopting unit, each month, a person without a named doctor gets one with hazard
    ``h0 · exp(0.3 (age − 70)/10 + 0.3 · conditions + 1.0 · recent)`` (age clipped to 20–95):
    ``conditions`` = chronic conditions recorded on the person's earlier admissions (main or other
    diagnoses, at most 4), ``recent`` = unplanned admissions in the three calendar months before
    (at most 2) — confounding by indication. Once given, a named doctor is replaced on the day
    they leave (a near-absorbing exposure; a month's gap when no permanent doctor is in post).
``named_doctor_random``
    The same units, rates and trend, but units adopt in random order and, within a unit, the
    monthly hazard is ``h0`` for everybody (targeting off).

Every driver of assignment is in the tables: age and sex (``persons``), municipality
(``persons.municipality_code``), care unit (``listings.unit_id``), calendar month, and earlier
admissions with their diagnoses (``admissions``). Two approximations, stated plainly: the
"recent admissions" driver counts the admissions of the monthly process (what the table shows,
except that readmissions, transfers and same-day returns generated after a discharge are not
counted, and a rare stay that overlaps an earlier one is dropped from the table but counted), and
the enrolment trigger of mobile teams counts as it does in every world (``ENROLMENT_RULE``).

Known effects (``effects=None``): mobile teams 0.70 on unplanned admissions and on ED visits while
enrolled (length of stay unchanged, so bed days also ≈ 0.70); named doctor 0.85 on the chronic
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

from naravard_analysis.data.synthetic.calendar import MonthGrid
from naravard_analysis.data.synthetic.listings import N_GENERATIONS, doctor_chain
from naravard_analysis.data.synthetic.presets import NO_EFFECTS, resolve_effects
from naravard_analysis.data.synthetic.rng import stream
from naravard_analysis.data.synthetic.staff import Roster
from naravard_analysis.errors import ParameterError

__all__ = ["SCENARIOS", "KNOWN_EFFECTS", "ASSIGNMENT", "resolve_scenario", "scenario_effects",
           "area_log_rates", "rollout_order", "NamedDoctorRollout"]

BIG = np.iinfo(np.int64).max // 4
YEAR = 365.25

#: Scenario name -> settings (all JSON-serialisable; written to ``meta["truth"]["scenario"]``).
SCENARIOS: dict[str, dict[str, Any]] = {
    "teams_targeted": {
        "intervention": "mobile_team", "targeting": True, "area": "municipality",
        "log_rate_spread": 0.4, "trend_per_year": None, "never_share": 0.25,
        "enrolment_min_months": 7, "enrolment_mean_months": 12,
        "description": "mobile teams start first in the municipalities with the highest admission "
                       "rates; patients enrolled right after an admission spike",
    },
    "teams_random": {
        "intervention": "mobile_team", "targeting": False, "area": "municipality",
        "log_rate_spread": 0.4, "trend_per_year": None, "never_share": 0.25,
        "enrolment_min_months": 7, "enrolment_mean_months": 12,
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


class NamedDoctorRollout:
    """Named doctors given during the simulation, month by month (see the module docstring).

    ``start``, ``end`` and ``doctor`` are the ``(N_GENERATIONS, P)`` period arrays that the
    simulation, the contacts and the listings read; :meth:`step` fills them for the persons
    assigned in a month, from their history up to the end of the month before.
    """

    def __init__(self, seed: int, unit_of: np.ndarray, adopt_day: np.ndarray, clinicians,
                 n_units: int, grid: MonthGrid, targeted: bool) -> None:
        P = len(unit_of)
        self.seed = seed
        self.unit_of = unit_of
        self.adopt_day = adopt_day
        self.roster = Roster(clinicians, n_units, grid, permanent_only=True)
        self.end_of = clinicians["end_day"].to_numpy()
        self.grid = grid
        self.params = ASSIGNMENT["targeted" if targeted else "random"]
        self.start = np.full((N_GENERATIONS, P), BIG, np.int64)
        self.end = np.full((N_GENERATIONS, P), BIG, np.int64)
        self.doctor = np.full((N_GENERATIONS, P), -1, np.int64)
        self.first = np.full(P, BIG, np.int64)

    @property
    def periods(self) -> dict[str, np.ndarray]:
        """The period arrays (shared, updated in place by :meth:`step`)."""
        return {"start": self.start, "end": self.end, "doctor": self.doctor,
                "adopt": self.adopt_day}

    def hazard(self, age: np.ndarray, n_conditions: np.ndarray, recent: np.ndarray) -> np.ndarray:
        """Monthly hazard of getting a named doctor in an adopting unit."""
        p = self.params
        a = np.clip(age, p["age_clip_low"], p["age_clip_high"])
        lin = (p["per_10_years_of_age"] * (a - p["age_centre"]) / 10
               + p["per_recorded_condition"] * np.minimum(n_conditions, p["max_conditions"])
               + p["per_recent_admission"] * np.minimum(recent, p["max_recent"]))
        return p["base_monthly_hazard"] * np.exp(lin)

    def step(self, t: int, idx: np.ndarray, entry: np.ndarray, age: np.ndarray,
             n_conditions: np.ndarray, recent: np.ndarray) -> None:
        """Assign named doctors in month ``t`` among the residents ``idx`` (arrays aligned)."""
        g = self.grid
        d0, nd = int(g.first_day[t]), int(g.n_days[t])
        adopt = self.adopt_day[self.unit_of[idx]]
        cand = (self.first[idx] >= BIG) & (adopt < d0 + nd)
        rng = stream(self.seed, "rollout", t)
        u = rng.random(len(idx))
        u_day = rng.random(len(idx))
        h = self.hazard(age, n_conditions, recent)
        go = cand & (u < 1 - np.exp(-h))
        sel = idx[go]
        if not len(sel):
            return
        lo = np.maximum(np.maximum(adopt[go], d0), entry[go])
        day = lo + np.floor(u_day[go] * (d0 + nd - lo)).astype(np.int64)
        self.first[sel] = day
        s, e, d = doctor_chain(rng, day, self.unit_of[sel], self.roster, self.end_of, g,
                               reassign=1.0, gap_mean=0.0)
        self.start[:, sel], self.end[:, sel], self.doctor[:, sel] = s, e, d
