"""Effect of getting a named doctor (fast läkarkontakt).

Default (``design="trial"``): a sequential target-trial emulation of "getting a named doctor now vs
not yet" (:mod:`.trial`; Hernán & Robins, *Am J Epidemiol* 2016;183:758; Danaei et al., *Stat
Methods Med Res* 2013;22:70). Each calendar month, persons whose first named doctor starts that
month are compared with persons listed at the **same care unit** without a named doctor, with the
same trigger-window admissions and ED visits (ED only when a ``contacts`` table exists; otherwise
the history is admission-based), age group, and balanced by weighting on age, sex, recent and
long-run admissions and chronic conditions; per protocol (controls censored when they get a named
doctor, inverse-probability-of-censoring weights), intention to treat beside it. Units hand out
named doctors at different dates, first to the old, the multimorbid and the recently admitted,
while admission rates fall over calendar time: comparing within unit and month removes the
unit's baseline and the trend, and the matching removes the selection on recent use. The estimate
is the rate ratio of the outcome over ``window_months`` after the start.

``design="poisson"``: the earlier person-time model, an **adjusted association** (not a design):
a person's time is split into calendar years and, within each year, into days *with* a named doctor
(a listing row with ``doctor_id`` present) and days *without*; events of the outcome are attributed
to the year and exposure state of their day. The cells (year × age band × sex × number of chronic
conditions × exposure) are summed and a Poisson model with offset ``log(person-years)`` gives the
adjusted rate ratio of "with" vs "without" a named doctor:

    log E[events] = log(PY) + b·exposed + year + age band + sex + conditions,

with a quasi-Poisson scale (Pearson χ² / df) for overdispersion. This is the person-time
alternative the issue names beside Cox with time-varying covariates; both give a hazard/rate ratio
for a time-varying exposure, and the Poisson form runs on a whole region in seconds.

Its results are **observational associations** (methods reference §7.5: Sandvik et al. BJGP 2022; Region
Jönköping 2019): who gets a named doctor depends on the unit's roll-out, age, special housing and
possibly on health, and only the measured part is adjusted. Unit of analysis: person-time.

Adjustment terms (``adjust``): ``"age"`` (bands 0-19, 20-64, then five-year bands to 90+, at mid-year),
``"sex"``, ``"conditions"`` (number of chronic condition groups of Socialstyrelsen's avoidable list,
methods reference §3.1, recorded as main diagnosis of any admission before the year: 0, 1, 2+; a
register proxy of multimorbidity) and always the calendar year.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from naravard_analysis.core.defaults import DEFAULT_LANGUAGE
from naravard_analysis.core.intervals import normal_quantile
from naravard_analysis.core.labels import format_level, format_number, label
from naravard_analysis.core.results import ResultDisplay
from naravard_analysis.errors import DataWarning, ParameterError, SchemaError
from naravard_analysis.methods.person_time import _SHIFT, days, outcome_events, person_frame

__all__ = ["listing_effect", "ListingEffect", "ADJUST", "named_doctor_starts", "conditions_first"]

ADJUST = ("age", "sex", "conditions")
LISTING_DESIGNS = ("trial", "poisson")
_YEAR = 365.25
_AGE_EDGES = np.array([20, 65, 70, 75, 80, 85, 90])
_AGE_LABELS = np.array(["0-19", "20-64", "65-69", "70-74", "75-79", "80-84", "85-89", "90+"])


@dataclass(repr=False)
class ListingEffect(ResultDisplay):
    """Result of :func:`listing_effect` (the package's result protocol).

    Attributes
    ----------
    estimate, lower, upper, p_value
        Adjusted rate ratio (with vs without a named doctor) and its interval at ``settings["level"]``.
    crude
        Unadjusted rate ratio.
    cells
        The aggregated person-time table the model was fitted to (``events``, ``person_years``
        by year, the adjustment variables and ``exposed``); aggregate, safe to suppress and publish.
    totals
        Events, person-years and rates with and without a named doctor.
    outcome, adjust
        What was estimated (``adjust`` applies to the Poisson design).
    design
        ``"trial"`` or ``"poisson"`` (the adjusted association).
    estimate_itt, lower_itt, upper_itt
        Intention-to-treat rate ratio (trial design; NaN otherwise).
    balance, matching, sensitivity, negative_control, event_study, settings
        As in :class:`~naravard_analysis.methods.evaluation.EvaluationResult` (trial design).
    table
        One row per estimate: ``term`` (``rate_ratio``; ``rate_ratio_itt`` for the trial design),
        ``estimate``, ``lower``, ``upper``, ``p_value``, ``crude``.
    """

    estimate: float
    lower: float
    upper: float
    p_value: float
    crude: float
    cells: pd.DataFrame
    totals: pd.DataFrame
    outcome: str
    adjust: tuple[str, ...]
    design: str = "poisson"
    estimate_itt: float = np.nan
    lower_itt: float = np.nan
    upper_itt: float = np.nan
    balance: pd.DataFrame = field(default_factory=pd.DataFrame)
    matching: pd.DataFrame = field(default_factory=pd.DataFrame)
    sensitivity: pd.DataFrame = field(default_factory=pd.DataFrame)
    negative_control: pd.DataFrame = field(default_factory=pd.DataFrame)
    event_study: pd.DataFrame = field(default_factory=pd.DataFrame)
    settings: dict = field(default_factory=dict)

    @property
    def table(self) -> pd.DataFrame:
        rows = [{"term": "rate_ratio", "estimate": self.estimate, "lower": self.lower,
                 "upper": self.upper, "p_value": self.p_value, "crude": self.crude}]
        if self.design == "trial":
            rows.append({"term": "rate_ratio_itt", "estimate": self.estimate_itt,
                         "lower": self.lower_itt, "upper": self.upper_itt, "p_value": np.nan,
                         "crude": np.nan})
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        return (f"<ListingEffect {self.outcome} design={self.design} rate_ratio={self.estimate:.3f} "
                f"[{self.lower:.3f}, {self.upper:.3f}]>")

    def _repr_html_(self) -> str:
        return f"<p>{self.summary()}</p>" + self.totals.to_html()

    def summary(self, language: str = DEFAULT_LANGUAGE) -> str:
        """One-paragraph summary in Swedish or English."""
        def f(v: float) -> str:
            return format_number(v, language, decimals=2)

        words = {"o": label(self.outcome, language), "est": f(self.estimate), "lo": f(self.lower),
                 "hi": f(self.upper), "lv": format_level(self.settings.get("level", 0.95), language)}
        if self.design == "trial":
            return label("listing_effect_trial", language, w=self.settings.get("window_months"),
                         itt=f(self.estimate_itt), **words)
        adjust = ", ".join(self.adjust) or label("listing_effect_adjust_none", language)
        return label("listing_effect_poisson", language, crude=f(self.crude), adjust=adjust, **words)


def _exposure_intervals(data, pf) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ls = data.listings
    named = ls["doctor_id"].notna().to_numpy()
    sub = ls.loc[named]
    code = pf.codes(sub["person_id"], "listings")
    st = days(sub["start_date"])
    en_raw = pd.to_datetime(sub["end_date"])
    en = np.where(en_raw.isna().to_numpy(), pf.period[1], days(en_raw.fillna(pd.Timestamp("1970-01-01"))))
    st = np.maximum(st, pf.entry[code])
    en = np.minimum(en, pf.exit[code])
    keep = en > st
    code, st, en = code[keep], st[keep], en[keep]
    order = np.lexsort((st, code))
    return code[order], st[order], en[order]


def named_doctor_starts(listings: pd.DataFrame, *, intervention: str = "named_doctor") -> pd.DataFrame:
    """Each person's first named-doctor start as an ``enrolments`` table.

    A listing row with ``doctor_id`` present starts a named doctor; the first such row of a person
    becomes one enrolment (``team_id`` = its ``unit_id``, ``end_date`` = that listing's end), so
    :func:`~naravard_analysis.methods.evaluation.evaluate_enrolments` can evaluate "getting a named
    doctor" like a team enrolment (use ``area="unit"``).

    Examples
    --------
    >>> ls = pd.DataFrame({"person_id": [1, 1, 2], "doctor_id": [None, "D1", None], "unit_id": "VC1",
    ...                    "start_date": pd.to_datetime(["2018-01-01", "2019-03-01", "2018-01-01"]),
    ...                    "end_date": pd.to_datetime(["2019-03-01", None, None])})
    >>> named_doctor_starts(ls)[["person_id", "start_date"]].to_dict("records")
    [{'person_id': 1, 'start_date': Timestamp('2019-03-01 00:00:00')}]
    """
    for c in ("person_id", "doctor_id", "unit_id", "start_date", "end_date"):
        if c not in listings:
            raise SchemaError("listings", c, "named_doctor_starts needs this column")
    named = listings.loc[listings["doctor_id"].notna().to_numpy(bool)]
    first = named.sort_values(["start_date"], kind="stable").drop_duplicates("person_id")
    return pd.DataFrame({"person_id": first["person_id"].to_numpy(), "intervention": intervention,
                         "team_id": first["unit_id"].astype(str).to_numpy(),
                         "start_date": pd.to_datetime(first["start_date"]).to_numpy(),
                         "end_date": pd.to_datetime(first["end_date"]).to_numpy()}).sort_values(
        ["start_date", "person_id"], kind="stable").reset_index(drop=True)


#: Chronic condition groups of :func:`conditions_first`: ICD-10 code prefixes, after the Charlson
#: and Elixhauser coding algorithms of Quan et al. (*Med Care* 2005;43:1130), with atrial
#: fibrillation and hypertension as in Elixhauser.
CHRONIC_GROUPS: dict[str, tuple[str, ...]] = {
    "hypertension": ("I10", "I11", "I12", "I13", "I15"),
    "diabetes": ("E10", "E11", "E12", "E13", "E14"),
    "ischaemic_heart_disease": ("I20", "I21", "I22", "I23", "I24", "I25"),
    "heart_failure": ("I50", "I110", "I130", "I132"),
    "atrial_fibrillation": ("I48",),
    "copd": ("J41", "J42", "J43", "J44"),
    "asthma": ("J45", "J46"),
    "dementia": ("F00", "F01", "F02", "F03", "G30"),
    "chronic_kidney_disease": ("N18",),
    "cancer": tuple(f"C{i:02d}" for i in range(98)),
}


def conditions_first(data, pf) -> np.ndarray:
    """First day (int days) each chronic condition group (:data:`CHRONIC_GROUPS`) was recorded as
    the main or another diagnosis of an admission, per person code; ``2**40`` when never.

    Shape ``(persons, groups)``. A register proxy of multimorbidity that only looks backwards
    (what was recorded before a day), as the trial designs need.
    """
    n = len(pf.ids)
    groups = list(CHRONIC_GROUPS)
    out = np.full((n, len(groups)), np.int64(2**40))
    a = data.admissions
    if a is None or not len(a):
        return out
    a = a.reset_index(drop=True)
    code = pf.codes(a["person_id"], "admissions")
    day = days(a["admission_date"])
    other = a["other_diagnoses"].fillna("").astype(str) if "other_diagnoses" in a else pd.Series("", index=a.index)
    diag = (a["main_diagnosis"].astype(str) + " " + other).str.split()
    long = diag.explode()
    row = long.index.to_numpy()
    pos = a.index.get_indexer(row)
    codes = long.fillna("").to_numpy(dtype=str)
    for j, g in enumerate(groups):  # ten groups, each vectorised over all recorded diagnoses
        m = np.zeros(codes.size, bool)
        for prefix in CHRONIC_GROUPS[g]:
            m |= np.char.startswith(codes, prefix)
        col = out[:, j].copy()
        np.minimum.at(col, code[pos[m]], day[pos[m]])
        out[:, j] = col
    return out


def _conditions_before(data, pf, year_starts: np.ndarray) -> np.ndarray:
    """Avoidable chronic groups recorded as the main diagnosis of an earlier admission, per person and
    year start (:func:`~naravard_analysis.methods.trial.avoidable_groups_first`)."""
    from naravard_analysis.methods.trial import avoidable_groups_first

    first = avoidable_groups_first(data, pf)
    return (first[:, :, None] < year_starts[None, None, :]).sum(1).astype(np.int64)


def listing_effect(
    data,
    *,
    outcome: str = "avoidable_admissions",
    adjust: Sequence[str] = ADJUST,
    design: str = "trial",
    window_months: int = 12,
    controls_per_case: int = 3,
    seed: int = 0,
    level: float = 0.95,
    negative_control: str | None = "hip_fractures",
    placebo_months: int = 24,
) -> ListingEffect:
    """Effect of getting a named doctor on an outcome (module docstring).

    Parameters
    ----------
    data : RegisterData
        ``persons``, ``listings`` (``doctor_id`` missing = listed without a named doctor) and the
        outcome's table; ``contacts`` optional (the trial's history is admission-based without it).
    outcome
        An outcome of :data:`~naravard_analysis.methods.person_time.OUTCOMES`; default avoidable
        admissions.
    adjust
        Poisson design only: any of ``"age"``, ``"sex"``, ``"conditions"``.
    design
        ``"trial"`` (default; target-trial emulation) or ``"poisson"`` (adjusted association).
    window_months
        Trial follow-up after the start (months of 30.44 days).
    controls_per_case, seed, level
        Controls sampled per person who gets a named doctor, the sampling seed, the interval level.
    negative_control, placebo_months
        Negative-control outcome (``None`` = none) and how far back the placebo index dates go
        (the placebo window, ``min(window, placebo_months - 6)`` months, ends before the six-month
        history the start is matched on).

    Returns
    -------
    ListingEffect

    Examples
    --------
    >>> res = listing_effect(world)  # doctest: +SKIP
    >>> res.estimate, res.lower, res.upper  # doctest: +SKIP
    """
    if design not in LISTING_DESIGNS:
        raise ParameterError(f"design must be one of {LISTING_DESIGNS}, got {design!r}")
    if design == "poisson":
        return _listing_poisson(data, outcome=outcome, adjust=adjust, level=level)
    return _listing_trial(data, outcome=outcome, window_months=window_months,
                          controls_per_case=controls_per_case, seed=seed, level=level,
                          negative_control=negative_control, placebo_months=placebo_months)


def _listing_trial(data, *, outcome, window_months, controls_per_case, seed, level, negative_control,
                   placebo_months) -> ListingEffect:
    from naravard_analysis.methods.person_time import OUTCOMES, EventIndex
    from naravard_analysis.methods.trial import (
        emulate_trials,
        listing_area,
        trial_checks,
        trial_history,
        trial_rate_ratio,
    )

    if outcome not in OUTCOMES or outcome == "deaths":
        raise ParameterError(f"unknown outcome {outcome!r}; choose from {sorted(OUTCOMES)}")
    if data.listings is None or data.persons is None:
        raise SchemaError("listings", None, "listing_effect needs the persons and listings tables")
    if getattr(data, OUTCOMES[outcome]) is None:
        raise SchemaError(OUTCOMES[outcome], None, f"outcome {outcome!r} needs the {OUTCOMES[outcome]} table")
    if isinstance(window_months, bool) or not isinstance(window_months, int | np.integer) or not 1 <= window_months <= 36:
        raise ParameterError(f"window_months must be an integer from 1 to 36, got {window_months!r}")
    if data.admissions is None:
        raise SchemaError("admissions", None, "the trial design matches on admissions; the table is required")
    pf = person_frame(data)
    W = int(round(window_months * _YEAR / 12))
    starts = named_doctor_starts(data.listings)
    start = np.full(len(pf.ids), np.int64(2**40))
    np.minimum.at(start, pf.codes(starts["person_id"], "listings"), days(starts["start_date"]))
    names = [outcome] + ([negative_control] if negative_control and negative_control != outcome else [])
    ix = {o: EventIndex(*outcome_events(data, o, pf)) for o in names}
    history = trial_history(data, pf, conditions_first=conditions_first(data, pf))
    male = (data.persons["sex"] == "M").to_numpy(dtype=float)
    frame = emulate_trials(pf, start, area_at=listing_area(data, pf), male=male, history=history,
                           window_days=W, history_days=365, controls_per_case=int(controls_per_case), seed=seed)
    pp = trial_rate_ratio(frame, ix[outcome], per_protocol=True, level=level)
    itt = trial_rate_ratio(frame, ix[outcome], per_protocol=False, level=level)
    est = pd.DataFrame([{k: pp[k] for k in ("estimate", "lower", "upper")}], index=pd.Index([outcome], name="outcome"))
    event_study, sensitivity, nc = trial_checks(frame, pf, ix, est, negative_control=negative_control,
                                                placebo_months=placebo_months, level=level)
    # crude: the same person-trials without matching weights or censoring weights
    crude_frame = type(frame)(units=frame.units.assign(weight=1.0), lo=frame.lo, hi_itt=frame.hi_itt,
                              hi_pp=frame.hi_pp, ipcw=frame.ipcw, report=frame.report,
                              balance=frame.balance, settings=frame.settings)
    crude = trial_rate_ratio(crude_frame, ix[outcome], per_protocol=False, level=level)["estimate"]
    totals = pd.DataFrame({"events": [pp.get("events_controls", np.nan), pp.get("events_treated", np.nan)],
                           "person_years": [pp.get("person_years_controls", np.nan),
                                            pp.get("person_years_treated", np.nan)]},
                          index=pd.Index([0, 1], name="exposed"))
    totals["rate_per_1000"] = 1000 * totals["events"] / totals["person_years"]
    bad = frame.balance.index[frame.balance["smd_after"].abs() > 0.1].tolist()
    if bad:
        warnings.warn(f"listing_effect: covariates with |standardised mean difference| > 0.1 after "
                      f"matching: {bad} (see result.balance)", DataWarning, stacklevel=3)
    settings = {**frame.settings, "window_months": int(window_months), "level": level,
                "placebo_months": placebo_months, "negative_control": negative_control}
    return ListingEffect(estimate=pp["estimate"], lower=pp["lower"], upper=pp["upper"], p_value=pp["p_value"],
                         crude=float(crude), cells=event_study, totals=totals, outcome=outcome, adjust=(),
                         design="trial", estimate_itt=itt["estimate"], lower_itt=itt["lower"],
                         upper_itt=itt["upper"], balance=frame.balance, matching=frame.report,
                         sensitivity=sensitivity, negative_control=nc, event_study=event_study, settings=settings)


def _listing_poisson(
    data,
    *,
    outcome: str = "avoidable_admissions",
    adjust: Sequence[str] = ADJUST,
    level: float = 0.95,
) -> ListingEffect:
    """Rate ratio of an outcome with vs without a named doctor (time-varying exposure): the adjusted
    association of ``design="poisson"``.

    Parameters
    ----------
    data : RegisterData
        ``persons``, ``listings`` (``doctor_id`` missing = listed without a named doctor) and the
        outcome's table.
    outcome
        An outcome of :data:`~naravard_analysis.methods.person_time.OUTCOMES`; default avoidable
        admissions (Socialstyrelsen's chronic list, unplanned, transfers in excluded).
    adjust
        Any of ``"age"``, ``"sex"``, ``"conditions"`` (module docstring); the year is always in.
    level
        Confidence level of the quasi-Poisson Wald interval (default 0.95).

    Returns
    -------
    ListingEffect

    Examples
    --------
    >>> res = listing_effect(world)  # doctest: +SKIP
    >>> round(res.estimate, 2)  # doctest: +SKIP
    0.86
    """
    adjust = (adjust,) if isinstance(adjust, str) else tuple(adjust)
    bad = [a for a in adjust if a not in ADJUST]
    if bad:
        raise ParameterError(f"adjust: unknown term(s) {bad}; choose from {ADJUST}")
    if data.listings is None or data.persons is None:
        raise SchemaError("listings", None, "listing_effect needs the persons and listings tables")
    pf = person_frame(data)
    lo, hi = pf.period
    y0 = int(np.datetime64(np.datetime64(lo, "D"), "Y").astype(int)) + 1970
    y1 = int(np.datetime64(np.datetime64(hi - 1, "D"), "Y").astype(int)) + 1970
    years = np.arange(y0, y1 + 1)
    ys = np.maximum(np.array([np.datetime64(f"{y}-01-01", "D").astype(np.int64) for y in years]), lo)
    ye = np.minimum(np.array([np.datetime64(f"{y + 1}-01-01", "D").astype(np.int64) for y in years]), hi)
    n, Y = len(pf.ids), len(years)

    # person-days at risk per person and year, and exposed days from the named-doctor intervals
    total = np.clip(np.minimum(pf.exit[:, None], ye) - np.maximum(pf.entry[:, None], ys), 0, None)
    ic, ist, ien = _exposure_intervals(data, pf)
    exposed = np.zeros((n, Y))
    for j in range(Y):  # a loop over calendar years; each step covers every interval at once
        ov = np.clip(np.minimum(ien, ye[j]) - np.maximum(ist, ys[j]), 0, None)
        exposed[:, j] = np.bincount(ic, weights=ov, minlength=n)
    exposed = np.minimum(exposed, total)

    # events, attributed to year and exposure state
    code, day, value = outcome_events(data, outcome, pf)
    inside = (day >= pf.entry[code]) & (day < pf.exit[code]) & (day >= lo) & (day < hi)
    code, day, value = code[inside], day[inside], value[inside]
    ikey = ic * _SHIFT + ist
    pos = np.searchsorted(ikey, code * _SHIFT + day, side="right") - 1
    ok = pos >= 0
    pos_c = np.maximum(pos, 0)
    is_exp = ok & (ic[pos_c] == code) & (ien[pos_c] > day)
    yi = np.searchsorted(ys, day, side="right") - 1

    # covariates per person-year
    mid = (ys + ye) / 2
    age = (mid[None, :] - pf.birth[:, None]) / _YEAR
    age_band = np.searchsorted(_AGE_EDGES, age, side="right")
    male = (data.persons["sex"] == "M").to_numpy()
    sex = np.broadcast_to(male[:, None], (n, Y)).astype(np.int64)
    cond = np.minimum(_conditions_before(data, pf, ys), 2) if "conditions" in adjust else np.zeros((n, Y), np.int64)

    keys = {"year": np.broadcast_to(np.arange(Y)[None, :], (n, Y))}
    if "age" in adjust:
        keys["age_band"] = age_band
    if "sex" in adjust:
        keys["sex"] = sex
    if "conditions" in adjust:
        keys["conditions"] = cond
    names = list(keys)
    cell_rows = []
    for flag, py in ((1, exposed), (0, total - exposed)):
        m = py > 0
        d = pd.DataFrame({k: v[m] for k, v in keys.items()})
        d["exposed"] = flag
        d["person_years"] = py[m] / _YEAR
        d["events"] = 0.0
        cell_rows.append(d)
    ev = pd.DataFrame({k: v[code, yi] for k, v in keys.items()})
    ev["exposed"] = is_exp.astype(int)
    ev["events"] = value
    ev["person_years"] = 0.0
    cells = (pd.concat([*cell_rows, ev], ignore_index=True)
             .groupby([*names, "exposed"], as_index=False)[["events", "person_years"]].sum())
    cells = cells[cells["person_years"] > 0].reset_index(drop=True)

    X = pd.get_dummies(cells[names].astype(str), drop_first=True, dtype=float)
    X.insert(0, "exposed", cells["exposed"].astype(float))
    X.insert(0, "const", 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sm.GLM(cells["events"].to_numpy(), X.to_numpy(), family=sm.families.Poisson(),
                     offset=np.log(cells["person_years"].to_numpy())).fit()
    # quasi-Poisson: Pearson chi2 / df (1 when the model is saturated)
    scale = fit.pearson_chi2 / fit.df_resid if fit.df_resid > 0 else 1.0
    b, se = float(fit.params[1]), float(fit.bse[1] * np.sqrt(scale))
    tot = cells.groupby("exposed")[["events", "person_years"]].sum()
    tot["rate_per_1000"] = 1000 * tot["events"] / tot["person_years"]
    crude = float(tot.loc[1, "rate_per_1000"] / tot.loc[0, "rate_per_1000"]) if len(tot) == 2 else np.nan
    cells["year"] = years[cells["year"].to_numpy()]
    if "age_band" in cells:
        cells["age_band"] = _AGE_LABELS[cells["age_band"].to_numpy()]
    if "sex" in cells:
        cells["sex"] = np.where(cells["sex"].to_numpy() == 1, "M", "F")
    z = normal_quantile(level)
    return ListingEffect(estimate=float(np.exp(b)), lower=float(np.exp(b - z * se)),
                         upper=float(np.exp(b + z * se)), p_value=float(2 * stats.norm.sf(abs(b / se))),
                         crude=crude, cells=cells, totals=tot, outcome=outcome, adjust=adjust,
                         design="poisson", settings={"outcome": outcome, "adjust": list(adjust),
                                                     "design": "poisson", "level": level})
