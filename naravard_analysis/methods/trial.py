"""Sequential target-trial emulation on register data, vectorised by calendar month.

The question "what does starting an intervention *now* change, compared with not starting it
(yet)?" is answered by emulating, every calendar month, the randomised trial one would have run
(Hernán & Robins, *Am J Epidemiol* 2016;183:758, "Using big data to emulate a target trial when a
randomized trial is not available") and pooling the monthly trials (sequential trials: Hernán et
al., *Epidemiology* 2008;19:766; Danaei et al., *Stat Methods Med Res* 2013;22:70). Trial ``m``
(the calendar month starting on day ``m0``):

Eligibility
    resident and alive on ``m0``, at least ``history_days`` of residence and data before ``m0``,
    not started before ``m0``, and in an *area* (a municipality for mobile teams, a care unit for
    named doctors) on ``m0``.
Treatment strategies
    start in month ``m`` (the *treated*: their start day is the index day) vs do not start in month
    ``m`` nor during follow-up (the *controls*: every eligible person who does not start in month
    ``m``).
Assignment
    emulated by exact matching plus balancing weights: a treated person and their controls share the
    trial month, the area, the age group (<65, 65-79, 80+) and the counts of unplanned admissions and
    ED visits in the six calendar months before ``m0`` (the trigger window of Swedish team
    referrals, exact up to 3 and 4) and of acute events in the last month. Within and across these
    cells the controls are then weighted by entropy balancing (:mod:`.balancing`; Hainmueller,
    *Political Analysis* 2012;20:25) until their means equal the treated's on age (linear and
    squared), sex, admissions of the last three months (levels 0/1/2+), readmissions, bed days,
    days since the last admission, the long-run baseline (admissions in months 7-24 before), the
    area baseline, the chronic condition groups ever recorded, and the history of the outcome that
    targeting follows: avoidable admissions in the trigger window and in months 7-24, and each
    avoidable chronic group that was the main diagnosis of an earlier admission
    (:func:`_balance_features`). Comparing within the *same area and month* removes the
    area's baseline rate and the secular trend from the contrast; matching on the trigger window
    compares people with the same spike, so both groups regress to the mean alike (Daw & Hatfield,
    *Health Serv Res* 2018;53:4138 show why matching on pre-period levels *across* areas with
    different baselines biases a difference-in-differences: the controls' spike is a chance high in
    a low-rate area and regresses further). Balancing the outcome's own history matters when
    treatment follows need that the general counts miss (a named doctor given to those admitted
    for heart failure): a propensity model fitted by maximum likelihood leaves such differences
    (its odds weights balance means only approximately), entropy balancing removes them whenever
    the controls can reach the treated means. The post-period rates are compared directly; there
    is no before/after differencing, because the pre-period is already equal by design.
Control sampling
    up to ``controls_per_case`` controls per treated person are drawn at random within each cell
    and weighted ``n_treated / n_sampled`` (an exact-matching ATT weight; random sampling keeps it
    unbiased and bounds memory) before the balancing weights tilt them. Each control's index day
    is the start day of a randomly chosen
    treated person of the same cell, so both groups are followed from the same point of the month.
Follow-up and censoring
    ``window_days`` from the index day, split into calendar-month pieces, ended at death or moving
    out (non-informative censoring of person-time). Per protocol, a control who starts during
    follow-up is censored on the first day of the calendar month of the start (the month's trigger
    window and chance decide the start, the day within the month is chance; censoring on the start
    day would count the start month twice, once as the starter's days before the start and once
    as the weight 1/(1 - h) of the others); because starting depends on events during follow-up
    (a new spike), the remaining control time is weighted by the inverse probability of remaining
    uncensored (IPCW; Robins & Finkelstein, *Biometrics* 2000;56:779), from a pooled logistic
    model of starting each month among the controls at risk, in the roll-out's drivers measured on
    the month's first day and the area's start intensity in the whole population (:func:`_ipcw`).
    Intention to treat keeps controls who start later, unweighted (biased towards no effect).
Estimate
    the ratio of the weighted event rates per person-time, treated vs controls, with a
    person-clustered sandwich interval (a person may be a control in several trials and later be
    treated); weights are taken as known, the usual conservative choice for matching and IPC
    weights.

Unit of analysis: the person-trial (a person in one monthly trial). The only Python loop is over
calendar months; within a month every step works on whole arrays.

Packages considered: R ``TrialEmulation`` and Python ``pySEQTarget`` expand every person into
person-trial-period rows and fit a pooled logistic model, which at region scale (10^5-10^6 persons
× 100 trial months) means 10^8-10^9 rows; the exact-matching and control-sampling version here
keeps the rows to the treated and a few controls each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from naravard_analysis.methods.person_time import EventIndex, PersonFrame

__all__ = [
    "TRIAL_COVARIATES",
    "TrialFrame",
    "TrialHistory",
    "emulate_trials",
    "trial_rate_ratio",
    "trial_unit_sums",
    "trial_event_study",
    "placebo_frame",
    "trial_checks",
    "month_index",
    "month_first_day",
    "municipality_area",
    "listing_area",
    "trial_history",
    "AVOIDABLE_GROUPS",
    "avoidable_groups_first",
]

_BIG = np.int64(2**40)
_BIG_DAY = np.int64(2_000_000)  # a day number beyond any register date (year 7445), for month maths
_YEAR = 365.25
_MONTH = _YEAR / 12
#: Age bands of the exact match (five-year bands from 60, wider below).
AGE_EDGES = np.array([20, 40, 50, 60, 65, 70, 75, 80, 85, 90])
#: Covariates of each person-trial (measured on the first day of the trial month).
TRIAL_COVARIATES = ["age", "male", "adm_6m", "ed_6m", "readm_6m", "acute_last_month", "adm_3m",
                    "days_since_admission", "bed_days_6m", "adm_7_24m", "conditions", "area_baseline",
                    "adm_6m_last_month", "ed_6m_last_month", "avoidable_6m", "avoidable_7_24m",
                    "avoidable_groups", "avoidable_3m", "adm_last_month", "days_since_avoidable"]
#: Exact-cell caps (beyond the area): the trigger-window counts. Everything else is balanced by
#: entropy-balancing weights across the cells (:func:`_balancing_weights`).
_CAPS = {"adm_6m": 3, "ed_6m": 4, "acute_last_month": 1}
_EXACT_AGE = np.array([65, 80])  # <65, 65-79, 80+
_PS_COVARIATES = ["age", "male", "adm_6m", "ed_6m", "readm_6m", "acute_last_month", "adm_3m",
                  "days_since_admission", "bed_days_6m", "adm_7_24m", "conditions", "area_baseline"]
REASONS = {
    "matched": "matched with the requested number of controls",
    "matched_fewer": "matched with fewer controls than requested",
    "short_history": "less than the look-back period of data (or residence) before the trial month",
    "no_area": "not in an area (municipality or unit) on the first day of the trial month",
    "no_risk_set": "nobody eligible in the same trial month, area and covariate cell",
}


def month_index(day: np.ndarray) -> np.ndarray:
    """Calendar month (months since 1970-01) of each int day."""
    return np.asarray(day, dtype="datetime64[D]").astype("datetime64[M]").astype(np.int64)


def month_first_day(month: np.ndarray | int) -> np.ndarray:
    """First day (int days since 1970) of each calendar month index."""
    return np.asarray(month, dtype="datetime64[M]").astype("datetime64[D]").astype(np.int64)


@dataclass
class TrialHistory:
    """The histories the trials match on.

    Attributes
    ----------
    adm
        Unplanned admissions (always; admission-based history works without a ``contacts`` table).
    ed
        ED visits, or ``None`` when the bundle has no ``contacts`` (the ED counts are then 0).
    conditions_first
        ``(persons, groups)`` first day each chronic condition group was recorded (``_BIG`` when
        never), or ``None``.
    readm
        The admissions of ``adm`` that start within 30 days of an earlier discharge
        (readmissions), or ``None``: a propensity-score covariate, so that two independent
        admissions and one admission with its readmission are told apart.
    bed
        Bed days of unplanned stays by admission day, or ``None``.
    avoidable
        Unplanned admissions for an avoidable chronic condition (the ``avoidable_admissions``
        outcome's definition), or ``None``: the outcome's own history.
    groups_first
        ``(persons, groups)`` first day each avoidable chronic group (heart failure, COPD, asthma,
        diabetes, hypertension, angina, anaemia) was the main diagnosis of an admission, planned or
        not (``_BIG`` when never), or ``None``: the conditions known to need follow-up.
    """

    adm: EventIndex
    ed: EventIndex | None = None
    conditions_first: np.ndarray | None = None
    readm: EventIndex | None = None
    bed: EventIndex | None = None
    avoidable: EventIndex | None = None
    groups_first: np.ndarray | None = None


@dataclass
class TrialFrame:
    """Person-trials with weights and follow-up pieces (output of :func:`emulate_trials`).

    Attributes
    ----------
    units
        One row per person-trial: ``trial`` (month index), ``code``, ``treated``, ``index_day``,
        ``weight`` (1 treated; ATT sampling weight for controls), ``cell``, ``area`` and the raw
        :data:`TRIAL_COVARIATES`; ``group_bits`` codes the avoidable groups known (bit ``j`` =
        :data:`AVOIDABLE_GROUPS` ``[j]``).
    lo, hi_itt, hi_pp
        ``(units, pieces)`` int days: calendar-month pieces of follow-up (half-open), ended at
        exit; ``hi_pp`` also at a control's own start.
    ipcw
        ``(units, pieces)`` inverse-probability-of-censoring weights (1 for the treated).
    report
        Treated persons by reason (index of :data:`REASONS`): ``n_cases``, ``share``, ``description``.
    balance
        By covariate: means of the treated, of the eligible risk set (a random sample of at most
        ``balance_sample`` per month), of the weighted controls; ``smd_before``, ``smd_after``.
    settings
        Window, history, controls per case, weight summaries.
    """

    units: pd.DataFrame
    lo: np.ndarray
    hi_itt: np.ndarray
    hi_pp: np.ndarray
    ipcw: np.ndarray
    report: pd.DataFrame
    balance: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)


def trial_history(data, pf: PersonFrame, *, readmission_days: int = 30,
                  conditions_first: np.ndarray | None = None) -> TrialHistory:
    """The trigger histories as referral rules count them, from the register tables.

    * ``adm``: unplanned admissions (transfers in excluded), and ``readm`` those of them that start
      within ``readmission_days`` of the discharge of an earlier unplanned stay of the same person
      (readmissions follow an illness rather than start a new one);
    * ``ed``: emergency-department contacts without an unplanned admission of the same person on
      the same or the next day (an ED visit that leads to admission is counted once, as the
      admission); ``None`` without a ``contacts`` table.

    Referral rules of Swedish mobile teams count "admissions and ED visits" in this sense (the
    synthetic world's rule: ``meta["truth"]["mobile_team"]["enrolment_rule"]``); matching on the
    counts a rule uses keeps people who could not have been referred out of the comparison.
    """
    from naravard_analysis.methods.person_time import _DAY0, _SHIFT, days, outcome_events

    a = data.admissions
    m = ~a["planned"].to_numpy(dtype=bool)
    if "admitted_from" in a:
        m &= (a["admitted_from"] != "hospital").to_numpy(dtype=bool)
    sub = a.loc[m]
    code = pf.codes(sub["person_id"], "admissions")
    adm_day = days(sub["admission_date"])
    dis_day = days(sub["discharge_date"])
    order = np.lexsort((adm_day, code))
    code, adm_day, dis_day = code[order], adm_day[order], dis_day[order]
    # latest discharge among the person's earlier stays (running maximum within person)
    key_dis = np.where(np.r_[True, code[1:] != code[:-1]], np.iinfo(np.int64).min, np.r_[0, dis_day[:-1]])
    prev_dis = pd.Series(key_dis).groupby(code).cummax().to_numpy()
    readmit = (readmission_days > 0) & (adm_day - prev_dis <= readmission_days)
    adm = EventIndex(code, adm_day, np.ones(code.size))
    readm = EventIndex(code[readmit], adm_day[readmit], np.ones(int(readmit.sum())))
    ed = None
    if data.contacts is not None:
        e_code, e_day, _ = outcome_events(data, "ed_visits", pf)
        adm_keys = np.unique(code * _SHIFT + adm_day + _DAY0)
        ek = e_code * _SHIFT + e_day + _DAY0
        admitted = np.isin(ek, adm_keys) | np.isin(ek + 1, adm_keys)
        ed = EventIndex(e_code[~admitted], e_day[~admitted], np.ones(int((~admitted).sum())))
    bed = EventIndex(*outcome_events(data, "bed_days", pf))
    avoidable = EventIndex(*outcome_events(data, "avoidable_admissions", pf))
    return TrialHistory(adm=adm, ed=ed, conditions_first=conditions_first, readm=readm, bed=bed,
                        avoidable=avoidable, groups_first=avoidable_groups_first(data, pf))


#: Avoidable chronic groups of :func:`avoidable_groups_first` (Socialstyrelsen's chronic list).
AVOIDABLE_GROUPS = ("heart_failure", "copd", "asthma", "diabetes", "hypertension", "angina", "anemia")


def avoidable_groups_first(data, pf: PersonFrame) -> np.ndarray:
    """First day each avoidable chronic group (:data:`AVOIDABLE_GROUPS`) was the main diagnosis of an
    admission (planned or not, any age), per person code; ``2**40`` when never.

    Shape ``(persons, groups)``. An admission *for* heart failure or COPD marks a condition that a
    named doctor or a mobile team is given to follow up, and it is the strongest predictor of the
    next avoidable admission, so the trials balance on it group by group.
    """
    from naravard_analysis.indicators.avoidable import flag_avoidable
    from naravard_analysis.methods.person_time import days

    out = np.full((len(pf.ids), len(AVOIDABLE_GROUPS)), np.int64(_BIG))
    a = data.admissions
    if a is None or not len(a):
        return out
    flags = flag_avoidable(a, data.persons, unit="admission", min_age=0)
    code = pf.codes(flags["person_id"], "admissions")
    day = days(flags["admission_date"])
    for j, g in enumerate(AVOIDABLE_GROUPS):  # a handful of groups, each vectorised over admissions
        if g not in flags:
            continue
        m = flags[g].to_numpy(dtype=bool)
        col = out[:, j].copy()
        np.minimum.at(col, code[m], day[m])
        out[:, j] = col
    return out


def municipality_area(data) -> Callable[[np.ndarray, int], np.ndarray]:
    """``area_at`` of the persons' municipality (``persons.municipality_code``; -1 when missing)."""
    muni, _ = pd.factorize(data.persons["municipality_code"].astype(object))
    muni = np.asarray(muni, np.int64)

    def area_at(code: np.ndarray, day: int) -> np.ndarray:
        return muni[code]

    return area_at


def listing_area(data, pf: PersonFrame) -> Callable[[np.ndarray, int], np.ndarray]:
    """``area_at`` of the care unit a person is listed at on the day (``listings.unit_id``; -1 none).

    With overlapping listings the one that started last wins.
    """
    from naravard_analysis.methods.person_time import _DAY0, _SHIFT, days

    ls = data.listings
    if ls is None or not len(ls):
        return lambda code, day: np.full(np.shape(code), -1, np.int64)
    code = pf.codes(ls["person_id"], "listings")
    st = days(ls["start_date"])
    en_raw = pd.to_datetime(ls["end_date"])
    en = np.where(en_raw.isna().to_numpy(), _BIG, days(en_raw.fillna(pd.Timestamp("1970-01-01"))))
    unit, _ = pd.factorize(ls["unit_id"].astype(object))
    key = code * _SHIFT + st + _DAY0
    order = np.argsort(key, kind="stable")
    key, en, unit, code = key[order], en[order], np.asarray(unit, np.int64)[order], code[order]

    def area_at(c: np.ndarray, day: int) -> np.ndarray:
        c = np.asarray(c, np.int64)
        i = np.searchsorted(key, c * _SHIFT + day + _DAY0, side="right") - 1
        j = np.maximum(i, 0)
        ok = (i >= 0) & (code[j] == c) & (en[j] > day) & (unit[j] >= 0) if key.size else np.zeros(c.size, bool)
        return np.where(ok, unit[j] if key.size else -1, -1)

    return area_at


def _counts(ix: EventIndex | None, code: np.ndarray, lo: np.ndarray | int, hi: np.ndarray | int) -> np.ndarray:
    if ix is None:
        return np.zeros(code.size)
    n = code.size
    return ix.sum(code, np.broadcast_to(np.asarray(lo, np.int64), (n,)),
                  np.broadcast_to(np.asarray(hi, np.int64), (n,)))


def _history_cov(code: np.ndarray, m: int | np.ndarray, pf: PersonFrame, male: np.ndarray,
                 h: TrialHistory) -> dict:
    """Covariates on the first day of month ``m`` (one month, or one per row; everything but area
    and the area baseline)."""
    m = np.broadcast_to(np.asarray(m, np.int64), code.shape)
    m0, m1, m3, m6, m7, m24 = (month_first_day(m - k) for k in (0, 1, 3, 6, 7, 24))
    adm6 = _counts(h.adm, code, m6, m0)
    ed6 = _counts(h.ed, code, m6, m0)
    recent = _counts(h.adm, code, m1, m0) + _counts(h.ed, code, m1, m0)
    long = _counts(h.adm, code, m24, m6)
    if h.conditions_first is not None:
        rec = h.conditions_first[code] < m0[:, None]
        cond = rec.sum(1).astype(float)
        cond_bits = (rec * (1 << np.arange(rec.shape[1]))).sum(1).astype(np.int64)
    else:
        cond, cond_bits = np.zeros(code.size), np.zeros(code.size, np.int64)
    if h.groups_first is not None:
        known = h.groups_first[code] < m0[:, None]
        bits = (known * (1 << np.arange(known.shape[1]))).sum(1).astype(np.int64)
        n_groups = known.sum(1).astype(float)
    else:
        bits, n_groups = np.zeros(code.size, np.int64), np.zeros(code.size)
    return {"age": (m0 - pf.birth[code]) / _YEAR, "male": male[code], "adm_6m": adm6, "ed_6m": ed6,
            "acute_last_month": recent, "adm_3m": _counts(h.adm, code, m3, m0), "adm_7_24m": long,
            "conditions": cond, "readm_6m": _counts(h.readm, code, m6, m0),
            "days_since_admission": h.adm.days_since_last(code, m0, 365),
            "bed_days_6m": _counts(h.bed, code, m6, m0),
            "adm_6m_last_month": _counts(h.adm, code, m7, m1), "ed_6m_last_month": _counts(h.ed, code, m7, m1),
            "avoidable_6m": _counts(h.avoidable, code, m6, m0),
            "avoidable_3m": _counts(h.avoidable, code, m3, m0), "adm_last_month": _counts(h.adm, code, m1, m0),
            "days_since_avoidable": (h.avoidable.days_since_last(code, m0, 365) if h.avoidable is not None
                                     else np.full(code.size, 365.0)),
            "avoidable_7_24m": _counts(h.avoidable, code, m24, m6),
            "avoidable_groups": n_groups, "group_bits": bits, "condition_bits": cond_bits}


def _key(cov: dict, area: np.ndarray) -> np.ndarray:
    band = np.searchsorted(_EXACT_AGE, cov["age"], side="right")
    key = area.astype(np.int64) * (len(_EXACT_AGE) + 1) + band
    for c, cap in _CAPS.items():
        key = key * (cap + 1) + np.minimum(cov[c], cap).astype(np.int64)
    return key


def _first_key(cov_age: np.ndarray, male: np.ndarray, area: np.ndarray) -> np.ndarray:
    band = np.searchsorted(_EXACT_AGE, cov_age, side="right")
    return area.astype(np.int64) * (len(_EXACT_AGE) + 1) + band


def emulate_trials(
    pf: PersonFrame,
    start_day: np.ndarray,
    *,
    area_at: Callable[[np.ndarray, int], np.ndarray],
    male: np.ndarray,
    history: TrialHistory,
    window_days: int,
    history_days: int = 365,
    controls_per_case: int = 10,
    seed: int = 0,
    balance_sample: int = 2000,
    exact_area: bool = True,
    presample: int = 20,
) -> TrialFrame:
    """Build the pooled monthly trials (module docstring).

    Parameters
    ----------
    pf
        Person codes and residence.
    start_day
        Per person code, the first day of the intervention (``_BIG`` or larger when never). Persons
        who started before the period count as already treated and are never eligible.
    area_at
        ``area_at(codes, day)`` gives the area code (int ≥ 0, -1 for none) of persons on a day.
    male
        1 for men, by person code.
    history
        Event indexes to match on (:class:`TrialHistory`).
    window_days
        Follow-up after the index day.
    history_days
        Residence and data required before the trial month.
    controls_per_case
        Controls sampled per treated person within each cell.
    seed
        Seed of the control sampling and of the index days drawn for controls.
    balance_sample
        Risk-set members per month described for the before-matching balance.
    presample
        Candidates kept per treated person and control wanted in each coarse cell (area, age
        group, trigger-window admissions) before the full covariates are computed (a uniform
        random subsample; larger = more candidates per exact cell).
    exact_area
        Compare within the area (default). ``False``: controls from any area, the area entering
        only through its baseline rate in the propensity score (for worlds too small for
        within-area cells; less robust to area targeting).

    Returns
    -------
    TrialFrame
    """
    rng = np.random.default_rng(seed)
    start_day = np.asarray(start_day, np.int64)
    lo_p, hi_p = pf.period
    started = start_day < hi_p
    s_month = month_index(np.where(started, start_day, 0))
    all_codes = np.arange(len(pf.ids), dtype=np.int64)
    months = np.unique(s_month[started & (start_day >= lo_p)])
    k = int(controls_per_case)

    from naravard_analysis.methods.person_time import _DAY0, _SHIFT

    adm_code_all = history.adm.key // _SHIFT
    adm_day_all = history.adm.key % _SHIFT - _DAY0
    by_day = np.argsort(adm_day_all, kind="stable")
    adm_day_sorted, adm_code_by_day = adm_day_all[by_day], adm_code_all[by_day]
    reasons: list[np.ndarray] = []
    frames: list[pd.DataFrame] = []
    before: list[pd.DataFrame] = []
    cell_base = 0
    for m in months:
        m0 = int(month_first_day(m))
        m_next = int(month_first_day(m + 1))
        tc = all_codes[started & (s_month == m) & (start_day >= lo_p)]
        tidx = start_day[tc]
        why = np.full(tc.size, "", dtype=object)
        short = (m0 - history_days < lo_p) | (pf.entry[tc] > m0 - history_days)
        why[short] = "short_history"
        t_area = area_at(tc, m0)
        why[(why == "") & (t_area < 0)] = "no_area"
        ok_t = why == ""
        if not ok_t.any() or m0 - history_days < lo_p:
            reasons.append(why)
            continue
        # ---- the risk set, filtered stage by stage on the keys of this month's treated
        elig = (pf.entry <= m0 - history_days) & (pf.exit > m0) & (start_day >= m_next)
        pc = all_codes[elig]
        age_p = (m0 - pf.birth[pc]) / _YEAR
        t_age = (m0 - pf.birth[tc]) / _YEAR
        band_keys = np.unique(_first_key(t_age[ok_t], male[tc[ok_t]], np.zeros(int(ok_t.sum()))))
        pc = pc[np.isin(_first_key(age_p, male[pc], np.zeros(pc.size)), band_keys)]
        p_area = area_at(pc, m0)
        keep = p_area >= 0
        pc, p_area = pc[keep], p_area[keep]
        ka_t = t_area if exact_area else np.zeros(tc.size, np.int64)
        ka_p = p_area if exact_area else np.zeros(pc.size, np.int64)
        k1_t = _first_key(t_age, male[tc], ka_t)
        keep = np.isin(_first_key((m0 - pf.birth[pc]) / _YEAR, male[pc], ka_p), k1_t[ok_t])
        pc, p_area = pc[keep], p_area[keep]
        # area baseline: unplanned admissions per person-year in the trigger window among the
        # area's eligible residents of the treated's sex and age bands (plus the treated)
        # trigger-window admissions of everybody at once from the day-sorted events (the pool
        # can be the whole population, and most of it has no admission in the window)
        a0, a1 = np.searchsorted(adm_day_sorted, [int(month_first_day(m - 6)), m0])
        adm6_all = np.bincount(adm_code_by_day[a0:a1], minlength=len(pf.ids)).astype(float)
        adm6_p, adm6_t = adm6_all[pc], adm6_all[tc]
        n_area = np.bincount(np.concatenate([p_area, t_area[ok_t]]), minlength=int(max(p_area.max(initial=0),
                                                                                       t_area.max()) + 1))
        s_area = np.bincount(np.concatenate([p_area, t_area[ok_t]]),
                             weights=np.concatenate([adm6_p, adm6_t[ok_t]]), minlength=n_area.size)
        with np.errstate(divide="ignore", invalid="ignore"):
            base = np.where(n_area > 0, s_area / n_area / ((m0 - int(month_first_day(m - 6))) / _YEAR), 0.0)
        if balance_sample and pc.size:
            pick = rng.choice(pc.size, size=min(balance_sample, pc.size), replace=False)
            cb = _history_cov(pc[pick], int(m), pf, male, history)
            cb["area_baseline"] = base[p_area[pick]]
            before.append(pd.DataFrame(cb))
        # cheap stage: the trigger-window admissions
        a6_keys = np.unique(k1_t[ok_t] * 8 + np.minimum(adm6_t[ok_t], _CAPS["adm_6m"]))
        ka_p = p_area if exact_area else np.zeros(pc.size, np.int64)
        k2_p = _first_key((m0 - pf.birth[pc]) / _YEAR, male[pc], ka_p) * 8 + np.minimum(adm6_p, _CAPS["adm_6m"])
        keep = np.isin(k2_p, a6_keys)
        pc, p_area, k2_p = pc[keep], p_area[keep], k2_p[keep]
        # a uniform random subsample of at most `presample` candidates per treated person of each
        # coarse cell: the full cells below are then random subsets of the eligible, so the
        # within-cell weights stay unbiased, and the covariates of the whole population need not
        # be computed when most people are eligible (named doctors)
        k2_t = (k1_t * 8 + np.minimum(adm6_t, _CAPS["adm_6m"]))[ok_t]
        uk2, n2 = np.unique(k2_t, return_counts=True)
        cap = presample * k * n2[np.searchsorted(uk2, k2_p)]
        o2 = np.lexsort((rng.random(pc.size), k2_p))
        rank2 = np.arange(o2.size) - np.searchsorted(k2_p[o2], k2_p[o2], side="left")
        sel = np.sort(o2[rank2 < cap[o2]])
        pc, p_area = pc[sel], p_area[sel]
        cov_t = _history_cov(tc, int(m), pf, male, history)
        cov_p = _history_cov(pc, int(m), pf, male, history)
        key_t = _key(cov_t, np.maximum(t_area, 0) if exact_area else np.zeros(tc.size, np.int64))
        key_p = _key(cov_p, p_area if exact_area else np.zeros(pc.size, np.int64))
        # ---- cells: sort the treated by key; each control draws the index day of a random treated
        tsel = np.flatnonzero(ok_t)
        tsel = tsel[np.argsort(key_t[tsel], kind="stable")]
        uk, first, nt = np.unique(key_t[tsel], return_index=True, return_counts=True)
        pos = np.searchsorted(uk, key_p)
        pos_c = np.minimum(pos, max(uk.size - 1, 0))
        inkey = (pos < uk.size) & (uk[pos_c] == key_p)
        pc, p_area, pos = pc[inkey], p_area[inkey], pos_c[inkey]
        cov_p = {c: v[inkey] for c, v in cov_p.items()}
        draw = first[pos] + np.floor(rng.random(pos.size) * nt[pos]).astype(np.int64)
        pidx = tidx[tsel[draw]]
        alive = pf.exit[pc] > pidx
        # random sample of at most k × n_treated controls per cell
        u = rng.random(pos.size)
        order = np.lexsort((u, pos))
        order = order[alive[order]]
        grp_first = np.searchsorted(pos[order], pos[order], side="left")
        rank = np.arange(order.size) - grp_first
        chosen = order[rank < k * nt[pos[order]]]
        n_kept = np.bincount(pos[chosen], minlength=uk.size)
        t_cell = np.repeat(np.arange(uk.size), nt)  # cell of each sorted treated
        has = n_kept[t_cell] > 0
        tw = tsel[has]
        why_sorted = np.where(has, np.where(n_kept[t_cell] >= k * nt[t_cell], "matched", "matched_fewer"),
                              "no_risk_set")
        why[tsel] = why_sorted
        reasons.append(why)
        area_base_t = base[np.maximum(t_area, 0)]
        rows_t = {c: v[tw] for c, v in cov_t.items()}
        rows_t["area_baseline"] = area_base_t[tw]
        rows_c = {c: v[chosen] for c, v in cov_p.items()}
        rows_c["area_baseline"] = base[p_area[chosen]]
        part = pd.DataFrame({
            "trial": np.int64(m),
            "code": np.concatenate([tc[tw], pc[chosen]]),
            "treated": np.concatenate([np.ones(tw.size, bool), np.zeros(chosen.size, bool)]),
            "index_day": np.concatenate([tidx[tw], pidx[chosen]]),
            "weight": np.concatenate([np.ones(tw.size), nt[pos[chosen]] / n_kept[pos[chosen]]]),
            "cell": cell_base + np.concatenate([t_cell[has], pos[chosen]]),
            "area": np.concatenate([t_area[tw], p_area[chosen]]),
            **{c: np.concatenate([rows_t[c], rows_c[c]]) for c in TRIAL_COVARIATES},
            "group_bits": np.concatenate([rows_t["group_bits"], rows_c["group_bits"]]),
            "condition_bits": np.concatenate([rows_t["condition_bits"], rows_c["condition_bits"]]),
        })
        cell_base += uk.size
        frames.append(part)

    cols = ["trial", "code", "treated", "index_day", "weight", "cell", "area", *TRIAL_COVARIATES, "group_bits",
            "condition_bits"]
    units = (pd.concat(frames, ignore_index=True) if frames
             else pd.DataFrame({c: pd.Series(dtype=float) for c in cols}))
    units["treated"] = units["treated"].astype(bool)
    fit_info: dict[str, Any] = {}
    if len(units):
        units["weight"], fit_info = _balancing_weights(units)
    why_all = np.concatenate(reasons) if reasons else np.array([], dtype=object)
    report = _report(why_all)
    lo, hi_itt, hi_pp = _pieces(units, pf, start_day, int(window_days))
    ipcw, cens_info = _ipcw(units, lo, hi_itt, pf, start_day, male, history, area_at)
    balance = _balance(units, pd.concat(before, ignore_index=True) if before else None)
    w_c = ipcw[~units["treated"].to_numpy(bool)]
    settings = {"window_days": int(window_days), "history_days": int(history_days),
                "controls_per_case": k, "seed": seed, "n_trials": len(frames),
                "ipcw_max": float(w_c.max()) if w_c.size else np.nan,
                "ipcw_mean": float(w_c[w_c > 0].mean()) if (w_c > 0).any() else np.nan, **fit_info, **cens_info}
    return TrialFrame(units=units, lo=lo, hi_itt=hi_itt, hi_pp=hi_pp, ipcw=ipcw, report=report,
                      balance=balance, settings=settings)


def _balance_features(units: pd.DataFrame) -> np.ndarray:
    """Covariates whose means the control weights equalise to the treated's (:func:`_balancing_weights`).

    The trigger window is already exact in the cell; here: age (linear and squared), sex, the
    admissions of the last three months as levels 0/1/2+ (a referral or a named doctor follows a
    recent admission), the last month's acute events, readmissions, bed days and the days since
    the last admission, the long-run baseline (months 7-24), the area baseline, the chronic
    condition groups ever recorded (each group), and the outcome's own history: avoidable admissions in the
    trigger window and in months 7-24, and each avoidable chronic group that was the main
    diagnosis of an earlier admission (group by group).
    """
    x = units[_PS_COVARIATES].to_numpy(float)
    a3 = units["adm_3m"].to_numpy(float)
    def unpack(col: str, n_bits: int) -> np.ndarray:
        bits = units[col].to_numpy(np.int64) if col in units else np.zeros(len(units), np.int64)
        on = (bits[:, None] >> np.arange(n_bits)[None, :]) & 1
        return on[:, on.any(0)]  # groups nobody has carry no information

    groups = unpack("group_bits", len(AVOIDABLE_GROUPS))
    conditions = unpack("condition_bits", 16)
    return np.column_stack([
        x, x[:, 0] ** 2 / 100.0, np.log1p(units["days_since_admission"].to_numpy(float)),
        np.log1p(units["bed_days_6m"].to_numpy(float)), a3 == 1, a3 >= 2,
        units[["avoidable_6m", "avoidable_3m", "avoidable_7_24m", "avoidable_groups", "adm_last_month"]].to_numpy(float),
        np.log1p(units["days_since_avoidable"].to_numpy(float)), groups, conditions,
    ]).astype(float)


def _balancing_weights(units: pd.DataFrame) -> tuple[np.ndarray, dict[str, Any]]:
    """Control weights by entropy balancing within the exact cells (:mod:`.balancing`).

    Each cell's controls keep their total (``n_treated`` of the cell, the exact-matching ATT
    weight); within and across cells they are tilted, as little as possible, until their means of
    :func:`_balance_features` equal the treated's. Equivalent to a propensity model with a cell
    intercept and common slopes fitted by its balance equations (Hainmueller 2012; Zhao & Percival
    2017), so unlike odds weights from a pooled logistic model the means balance exactly whenever
    they can.
    """
    from naravard_analysis.methods.balancing import entropy_balance

    tr = units["treated"].to_numpy(bool)
    w = units["weight"].to_numpy(float).copy()
    if tr.all() or not tr.any():
        return w, {"balance_converged": True, "balance_max_smd": 0.0}
    res = entropy_balance(_balance_features(units), tr, base_weight=w,
                          strata=units["cell"].to_numpy(np.int64))
    return res.weights, {"balance_converged": res.converged, "balance_max_smd": res.max_abs_smd,
                         "balance_iterations": res.iterations}


def _report(why: np.ndarray) -> pd.DataFrame:
    counts = pd.Series(why, dtype=object).value_counts().reindex(list(REASONS), fill_value=0)
    rep = pd.DataFrame({"n_cases": counts.astype("int64"), "share": counts / max(len(why), 1),
                        "description": [REASONS[r] for r in REASONS]})
    rep.index.name = "reason"
    return rep


def _n_pieces(window_days: int) -> int:
    return window_days // 28 + 2


def _pieces(units: pd.DataFrame, pf: PersonFrame, start_day: np.ndarray,
            window_days: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Calendar-month pieces of follow-up ``[lo, hi)`` (ITT and per protocol)."""
    P = _n_pieces(window_days)
    code = units["code"].to_numpy(np.int64)
    idx = units["index_day"].to_numpy(np.int64)
    trial = units["trial"].to_numpy(np.int64)
    edges = month_first_day(trial[:, None] + np.arange(P + 1)[None, :])
    end = np.minimum(idx + window_days, pf.exit[code])
    lo = np.maximum(edges[:, :-1], idx[:, None])
    hi_itt = np.maximum(np.minimum(edges[:, 1:], end[:, None]), lo)
    # a control who starts in calendar month c deviates from "not starting" at the beginning of
    # c: whether they start in c is decided by what is known on c's first day (the trigger window)
    # plus chance, the day within c is chance alone. Censoring them on their start day instead
    # would keep the start month's high-risk days before the start *and* give the same month
    # to the uncensored with weight 1/(1 - h): the start month counted twice (bias away from 1).
    own = np.where(units["treated"].to_numpy(bool), _BIG, start_day[code])
    own = np.where(own < _BIG, month_first_day(month_index(np.minimum(own, _BIG_DAY))), _BIG)
    hi_pp = np.maximum(np.minimum(hi_itt, own[:, None]), lo)
    return lo, hi_itt, hi_pp


def _start_intensity(pf: PersonFrame, start_day: np.ndarray, area_at: Callable[[np.ndarray, int], np.ndarray],
                     months: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per calendar month: starts and persons at risk of starting, by area, in the whole population.

    At risk on the month's first day: resident and not started before it. The roll-out (which
    areas have begun and how fast they enrol) is measured on everybody, not on the few sampled
    controls, so the censoring model below gets it without sparse cells.
    """
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for c in np.unique(months):  # one vectorised pass over the population per calendar month
        c0, c1 = int(month_first_day(c)), int(month_first_day(c + 1))
        risk = np.flatnonzero((pf.entry <= c0) & (pf.exit > c0) & (start_day >= c0))
        area = area_at(risk, c0)
        ok = area >= 0
        size = int(area.max(initial=0)) + 1
        n_risk = np.bincount(area[ok], minlength=size).astype(float)
        starts = np.bincount(area[ok], weights=(start_day[risk[ok]] < c1).astype(float), minlength=size)
        out[int(c)] = (starts, n_risk)
    return out


def _censoring_features(cov: dict, log_intensity: np.ndarray) -> np.ndarray:
    """Covariates of the censoring (starting) model: the drivers a roll-out uses, as levels."""
    def levels(v: np.ndarray, cap: int) -> np.ndarray:
        v = np.minimum(np.asarray(v, np.int64), cap)
        return (v[:, None] == np.arange(1, cap + 1)[None, :]).astype(float)

    trigger = (np.minimum(cov["adm_6m"], _CAPS["adm_6m"]).astype(np.int64) * (_CAPS["ed_6m"] + 1)
               + np.minimum(cov["ed_6m"], _CAPS["ed_6m"]).astype(np.int64))
    n_trig = (_CAPS["adm_6m"] + 1) * (_CAPS["ed_6m"] + 1)
    band = np.searchsorted(AGE_EDGES, cov["age"], side="right")
    return np.column_stack([
        (trigger[:, None] == np.arange(1, n_trig)[None, :]).astype(float),
        (band[:, None] == np.arange(1, len(AGE_EDGES) + 1)[None, :]).astype(float),
        cov["male"], levels(cov["adm_3m"], 2), np.minimum(cov["acute_last_month"], 1),
        levels(cov["conditions"], 4), levels(cov["avoidable_groups"], 4),
        np.log1p(cov["days_since_admission"]), np.log1p(cov["adm_7_24m"]), np.log1p(cov["avoidable_6m"]),
        log_intensity,
    ])


def _ipcw(units: pd.DataFrame, lo: np.ndarray, hi_itt: np.ndarray, pf: PersonFrame, start_day: np.ndarray,
          male: np.ndarray, history: TrialHistory,
          area_at: Callable[[np.ndarray, int], np.ndarray]) -> tuple[np.ndarray, dict[str, Any]]:
    """Inverse probability of remaining uncensored (not started) per control piece.

    Piece 0 is the rest of the trial month, in which a control cannot start by definition. For
    piece ``j ≥ 1`` (calendar month ``c = trial + j``), the probability ``h`` that a control at
    risk on ``c``'s first day starts during ``c`` comes from a pooled logistic model (discrete-time
    hazard; Hernán, Brumback & Robins, *Epidemiology* 2000;11:561) fitted on the controls at risk
    in every month, in the drivers of a roll-out measured on that first day: the trigger-window
    admissions × ED visits (levels), age band, sex, admissions of the last three months, the last
    month's acute events, chronic and avoidable condition groups, days since the last admission,
    the long-run baseline, and the area's start intensity that month in the whole population
    (:func:`_start_intensity`; ``h = 0`` where nobody in the area started). A control who starts in
    ``c`` is censored on ``c``'s first day (the decision belongs to the month, the day within it is
    chance); one uncensored through piece ``j`` carries ``prod_{i<=j} 1 / (1 - h_i)``.

    A model rather than saturated cells: with cells of month × area × counts most cells hold one
    control, whose censoring then gives ``h = 1`` and loses its person-time instead of passing it
    to the others (a bias towards the never-censored).
    """
    from sklearn.linear_model import LogisticRegression

    n, P = lo.shape
    out = np.ones((n, P))
    info: dict[str, Any] = {"censoring_rows": 0, "censored": 0}
    ctrl = np.flatnonzero(~units["treated"].to_numpy(bool))
    if ctrl.size == 0 or P < 2:
        return out, info
    code = units["code"].to_numpy(np.int64)[ctrl]
    trial = units["trial"].to_numpy(np.int64)[ctrl]
    w = units["weight"].to_numpy(float)[ctrl]
    j = np.arange(1, P)
    c_first = month_first_day(trial[:, None] + j[None, :])  # first day of calendar month trial + j
    hi_c = hi_itt[ctrl][:, 1:]
    own = start_day[code][:, None]
    # at risk on the first day of calendar month trial + j: still followed and not started;
    # censored (on that first day, :func:`_pieces`) when starting at any day of the month
    at_risk = (hi_c > c_first) & (own >= c_first)
    cens = at_risk & (own < month_first_day(trial[:, None] + j[None, :] + 1))
    r, q = np.nonzero(at_risk)
    if r.size == 0:
        return out, info
    cc = code[r]
    month = trial[r] + j[q]
    intensity = _start_intensity(pf, start_day, area_at, month)
    starts = np.zeros(r.size)
    log_int = np.zeros(r.size)
    for c, (n_start, n_risk) in intensity.items():  # one pass per calendar month
        rows = np.flatnonzero(month == c)
        area = area_at(cc[rows], int(month_first_day(c)))
        known = (area >= 0) & (area < n_start.size)
        a = np.where(known, area, 0)
        starts[rows] = np.where(known, n_start[a], 0.0)
        log_int[rows] = np.log((np.where(known, n_start[a], 0.0) + 0.5) / (np.where(known, n_risk[a], 0.0) + 1.0))
    y = cens[r, q]
    h = np.zeros(r.size)
    fit = starts > 0  # nobody in the area started that month: nobody can be censored
    info.update({"censoring_rows": int(r.size), "censored": int(y.sum())})
    if y[fit].any() and not y[fit].all():
        x = _censoring_features(_history_cov(cc[fit], month[fit], pf, male, history), log_int[fit])
        mu, sd = x.mean(0), x.std(0)
        sd[sd == 0] = 1.0
        model = LogisticRegression(C=10.0, max_iter=2000)
        model.fit((x - mu) / sd, y[fit], sample_weight=w[r][fit])
        h[fit] = model.predict_proba((x - mu) / sd)[:, 1]
    elif y[fit].all():
        h[fit] = y[fit]
    h = np.minimum(h, 0.99)  # a start that was certain cannot be re-weighted; cap the weight at 100
    factor = np.ones((ctrl.size, P - 1))
    # an uncensored control carries 1/(1-h); a censored one stops (its partial piece keeps the
    # weight accumulated before this month)
    factor[r, q] = np.where(y, 1.0, 1.0 / (1.0 - h))
    cum = np.cumprod(factor, axis=1)
    before_c = np.column_stack([np.ones(ctrl.size), cum[:, :-1]])
    out[ctrl, 1:] = np.where(cens, before_c, cum)
    info["censoring_expected"] = float((w[r] * h).sum())
    info["censoring_observed"] = float((w[r] * y).sum())
    return out, info


def _balance(units: pd.DataFrame, before: pd.DataFrame | None) -> pd.DataFrame:
    cols = ["mean_cases", "mean_risk_set", "mean_matched_controls", "smd_before", "smd_after"]
    out = pd.DataFrame(index=pd.Index(TRIAL_COVARIATES, name="covariate"), columns=cols, dtype=float)
    tr = units["treated"].to_numpy(bool)
    if not tr.any():
        return out
    xt = units.loc[tr, TRIAL_COVARIATES].to_numpy(float)
    xc = units.loc[~tr, TRIAL_COVARIATES].to_numpy(float)
    wc = units.loc[~tr, "weight"].to_numpy(float)
    out["mean_cases"] = xt.mean(0)
    vt = xt.var(0, ddof=1) if len(xt) > 1 else np.zeros(xt.shape[1])
    if before is not None and len(before):
        xb = before[TRIAL_COVARIATES].to_numpy(float)
        out["mean_risk_set"] = xb.mean(0)
        sd = np.sqrt((vt + xb.var(0)) / 2)
    elif len(xc):
        sd = np.sqrt((vt + np.cov(xc, rowvar=False, aweights=wc).diagonal()) / 2) if len(xc) > 1 else np.sqrt(vt)
    else:
        sd = np.sqrt(vt)
    with np.errstate(divide="ignore", invalid="ignore"):
        if before is not None and len(before):
            out["smd_before"] = np.where(sd > 0, (xt.mean(0) - xb.mean(0)) / sd, 0.0)
        if len(xc):
            mc = np.average(xc, axis=0, weights=wc)
            out["mean_matched_controls"] = mc
            out["smd_after"] = np.where(sd > 0, (xt.mean(0) - mc) / sd, 0.0)
    return out


def placebo_frame(frame: TrialFrame, pf: PersonFrame, *, shift_days: int, window_days: int) -> TrialFrame:
    """The same person-trials and weights with every index day moved ``shift_days`` earlier.

    Follow-up ``[index - shift, index - shift + window)`` (one piece, cut to residence, no
    censoring): a placebo index date in the pre-period. With ``shift - window`` at least the
    trigger window, the placebo window lies before everything that decided enrolment, so the
    treated/control ratio there should be 1 when the groups are exchangeable.
    """
    u = frame.units
    code = u["code"].to_numpy(np.int64)
    lo = np.maximum(u["index_day"].to_numpy(np.int64) - shift_days, pf.entry[code])
    hi = np.maximum(np.minimum(u["index_day"].to_numpy(np.int64) - shift_days + window_days,
                               pf.exit[code]), lo)
    return TrialFrame(units=u, lo=lo[:, None], hi_itt=hi[:, None], hi_pp=hi[:, None],
                      ipcw=np.ones((len(u), 1)), report=frame.report, balance=frame.balance,
                      settings={**frame.settings, "window_days": window_days})


def _z(level: float) -> float:
    return float(stats.norm.ppf(0.5 + level / 2))


def trial_unit_sums(frame: TrialFrame, ix: EventIndex, *, per_protocol: bool = True,
                    weighted: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Events and person-years of each person-trial over its follow-up.

    ``Y_i = sum_j w_ij y_ij`` and ``T_i = sum_j w_ij (hi_ij - lo_ij) / 365.25`` over the month
    pieces ``j`` of person-trial ``i``, with ``w_ij`` the sampling weight times (per protocol) the
    censoring weight when ``weighted``, else the censoring weight alone (per protocol) or 1 (ITT).
    The rates of :func:`trial_rate_ratio` are ``sum Y / sum T`` per arm.
    """
    u = frame.units
    code = u["code"].to_numpy(np.int64)
    hi = frame.hi_pp if per_protocol else frame.hi_itt
    wp = np.broadcast_to(frame.ipcw if per_protocol else 1.0, frame.lo.shape)
    if weighted:
        wp = u["weight"].to_numpy(float)[:, None] * wp
    P = frame.lo.shape[1]
    y = ix.sum(np.repeat(code, P), frame.lo.ravel(), hi.ravel()).reshape(frame.lo.shape)
    return (y * wp).sum(1), ((hi - frame.lo) / _YEAR * wp).sum(1)


def trial_rate_ratio(frame: TrialFrame, ix: EventIndex, *, per_protocol: bool = True,
                     level: float = 0.95) -> dict[str, float]:
    """Rate ratio treated vs controls over the follow-up of :func:`emulate_trials`.

    ``rate = sum(w · events) / sum(w · person-years)`` per arm, with ``w`` the sampling weight
    times (per protocol) the censoring weight of each month piece; the log ratio's variance is the
    person-clustered sandwich ``G/(G-1) · sum_g (IF_g,treated - IF_g,controls)²`` of
    :func:`~naravard_analysis.methods.rate_models.log_ratio_influence`.

    Returns
    -------
    dict
        ``estimate``, ``lower``, ``upper``, ``p_value``, ``log_ratio``, ``se``, the weighted events
        and person-years of each arm (``events_treated``, ``person_years_treated``,
        ``events_controls``, ``person_years_controls``) and ``n_treated``, ``n_controls``.
    """
    from naravard_analysis.methods.rate_models import log_ratio_influence

    u = frame.units
    tr = u["treated"].to_numpy(bool)
    code = u["code"].to_numpy(np.int64)
    Y, T = trial_unit_sums(frame, ix, per_protocol=per_protocol, weighted=True)
    out = {"n_treated": int(tr.sum()), "n_controls": int((~tr).sum())}
    nan = dict.fromkeys(["estimate", "lower", "upper", "p_value", "log_ratio", "se"], np.nan)
    if not tr.any() or tr.all():
        return {**nan, **out}
    groups, uniq = pd.factorize(code)
    cells_y = np.column_stack([np.where(tr, Y, 0.0), np.where(~tr, Y, 0.0)])
    cells_t = np.column_stack([np.where(tr, T, 0.0), np.where(~tr, T, 0.0)])
    lr, infl, Ysum = log_ratio_influence(cells_y, cells_t, groups, len(uniq))
    out.update({"events_treated": Ysum[0], "person_years_treated": cells_t[:, 0].sum(),
                "events_controls": Ysum[1], "person_years_controls": cells_t[:, 1].sum()})
    if not np.isfinite(lr).all():
        return {**nan, **out}
    G = len(uniq)
    d = float(lr[0] - lr[1])
    se = float(np.sqrt(G / max(G - 1, 1) * ((infl[:, 0] - infl[:, 1]) ** 2).sum()))
    z = _z(level)
    out.update({"estimate": float(np.exp(d)), "lower": float(np.exp(d - z * se)),
                "upper": float(np.exp(d + z * se)),
                "p_value": float(2 * stats.norm.sf(abs(d / se))) if se > 0 else np.nan,
                "log_ratio": d, "se": se})
    return out


def trial_event_study(frame: TrialFrame, pf: PersonFrame, ix: dict[str, EventIndex], outcomes: list[str],
                      *, pre_months: int = 12, level: float = 0.95) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Monthly treated/control rate ratios from ``-pre_months`` to the end of follow-up, and a
    pre-trend test.

    Event month ``e`` is ``[index + floor(e·30.44), index + floor((e+1)·30.44))``; pre months stop at
    the index day and start no earlier than residence; post months are cut at exit and (controls)
    at their own start, and carry the censoring weight of the calendar piece they begin in. The
    pre-trend test is the Wald test that every pre-period log ratio is zero, ``d' V⁺ d`` against
    χ² with ``rank(V)`` degrees of freedom, ``V`` the person-clustered covariance (a test of
    whether the groups already differed before the index day: an event-study check of
    exchangeability, cf. Roth, *AER: Insights* 2022;4:305 on its limited power).

    Returns
    -------
    (event_study, pretrend)
        ``event_study``: outcome, ``event_month``, rates, ``ratio`` (= ``relative``) with
        ``ratio_lower``/``ratio_upper``, event counts. ``pretrend``: per outcome ``chi2``, ``df``,
        ``p_value``, ``max_abs_log_ratio``.
    """
    from naravard_analysis.methods.rate_models import log_ratio_influence

    u = frame.units
    tr = u["treated"].to_numpy(bool)
    code = u["code"].to_numpy(np.int64)
    idx = u["index_day"].to_numpy(np.int64)
    n_post = int(np.ceil(frame.settings["window_days"] / _MONTH))
    ev = np.arange(-pre_months, n_post)
    lo = idx[:, None] + np.floor(ev * _MONTH).astype(np.int64)[None, :]
    hi = idx[:, None] + np.floor((ev + 1) * _MONTH).astype(np.int64)[None, :]
    pre = ev < 0
    end = frame.hi_pp.max(1)  # end of (per-protocol) follow-up
    lo = np.where(pre, np.maximum(lo, pf.entry[code][:, None]), lo)
    hi = np.where(pre, np.minimum(hi, idx[:, None]), np.minimum(hi, end[:, None]))
    hi = np.maximum(hi, lo)
    # censoring weight of the calendar piece each post month begins in
    piece = np.clip(month_index(lo) - u["trial"].to_numpy(np.int64)[:, None], 0, frame.ipcw.shape[1] - 1)
    wcens = np.where(pre, 1.0, np.take_along_axis(frame.ipcw, piece, axis=1))
    w = u["weight"].to_numpy(float)[:, None] * wcens
    t = (hi - lo) / _YEAR * w
    groups, uniq = pd.factorize(code)
    G = len(uniq)
    corr = G / (G - 1) if G > 1 else 1.0
    z = _z(level)
    frames, tests = [], []
    for o in outcomes:
        y = ix[o].sum(np.repeat(code, ev.size), lo.ravel(), hi.ravel()).reshape(lo.shape) * w
        lr_t, if_t, Yt = log_ratio_influence(y[tr], t[tr], groups[tr], G)
        lr_c, if_c, Yc = log_ratio_influence(y[~tr], t[~tr], groups[~tr], G)
        d = lr_t - lr_c
        infl = if_t - if_c
        se = np.sqrt(corr * (infl ** 2).sum(0))
        frames.append(pd.DataFrame({
            "outcome": o, "event_month": ev, "rate_cases": np.exp(lr_t), "rate_controls": np.exp(lr_c),
            "events_cases": Yt, "events_controls": Yc, "ratio": np.exp(d),
            "ratio_lower": np.exp(d - z * se), "ratio_upper": np.exp(d + z * se),
            "relative": np.exp(d), "relative_lower": np.exp(d - z * se), "relative_upper": np.exp(d + z * se),
        }))
        ok = pre & np.isfinite(d)
        dp = d[ok]
        V = corr * infl[:, ok].T @ infl[:, ok]
        if dp.size:
            chi2 = float(dp @ np.linalg.pinv(V) @ dp)
            df = int(np.linalg.matrix_rank(V))
            p = float(stats.chi2.sf(chi2, df)) if df > 0 else np.nan
        else:
            chi2, df, p = np.nan, 0, np.nan
        tests.append({"outcome": o, "chi2": chi2, "df": df, "p_value": p,
                      "max_abs_log_ratio": float(np.abs(dp).max()) if dp.size else np.nan})
    return pd.concat(frames, ignore_index=True), pd.DataFrame(tests).set_index("outcome")


def trial_checks(frame: TrialFrame, pf: PersonFrame, ix: dict[str, EventIndex], estimates: pd.DataFrame, *,
                 negative_control: str | None, placebo_months: int, level: float = 0.95
                 ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Falsification and sensitivity checks of a trial estimate, by outcome.

    Returns ``(event_study, sensitivity, negative_control)``: the event study of
    :func:`trial_event_study`; per outcome of ``estimates`` (index) the E-value of the estimate and
    of its confidence limit (:mod:`.sensitivity`), the placebo-date estimate
    (:func:`placebo_frame`: index ``placebo_months`` earlier, window ``min(window, placebo_months
    - 6)`` months, intention to treat) with the weighted events behind it
    (``placebo_events_cases``, ``placebo_events_controls``: ``events_treated`` and
    ``events_controls`` of :func:`trial_rate_ratio`) and the pre-trend test; and the same contrast
    for the negative-control outcome (``ix[negative_control]``) with its weighted events
    (``events_cases``, ``events_controls``). The events are there so that a report can hold each
    estimate back when the counts behind it are small; the controls' are weighted sums, so not
    always whole numbers.
    """
    from naravard_analysis.methods.sensitivity import e_value, e_value_limit

    outcomes = list(estimates.index)
    event_study, pretrend = trial_event_study(frame, pf, ix, outcomes, level=level)
    W = int(frame.settings["window_days"])
    P = int(round(placebo_months * _MONTH))
    W_pl = min(W, P - int(round(6 * _MONTH)))
    out = pd.DataFrame(index=estimates.index)
    est = estimates["estimate"].to_numpy(float)
    out["e_value"] = e_value(est)
    out["e_value_limit"] = e_value_limit(est, estimates["lower"].to_numpy(float),
                                         estimates["upper"].to_numpy(float))
    placebo = ["placebo_estimate", "placebo_lower", "placebo_upper", "placebo_events_cases",
               "placebo_events_controls"]
    for c in placebo:
        out[c] = np.nan
    if W_pl > 0 and len(frame.units):
        pl = placebo_frame(frame, pf, shift_days=P, window_days=W_pl)
        for o in outcomes:
            r = trial_rate_ratio(pl, ix[o], per_protocol=False, level=level)
            out.loc[o, placebo] = [r["estimate"], r["lower"], r["upper"],
                                   r.get("events_treated", np.nan), r.get("events_controls", np.nan)]
    for c in ("chi2", "df", "p_value"):
        out[f"pretrend_{c}"] = pretrend[c].reindex(out.index).to_numpy(float)
    out.attrs["placebo_window_days"] = W_pl
    nc = pd.DataFrame(columns=["estimate", "lower", "upper", "p_value", "events_cases", "events_controls"],
                      dtype=float)
    if negative_control:
        r = trial_rate_ratio(frame, ix[negative_control], level=level)
        nc.loc[negative_control] = [r["estimate"], r["lower"], r["upper"], r["p_value"],
                                    r.get("events_treated", np.nan), r.get("events_controls", np.nan)]
    nc.index.name = "outcome"
    return event_study, out, nc
