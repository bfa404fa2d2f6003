"""Effects of patient-level interventions (mobile teams, named doctor) that survive regression to the mean.

Patients are enrolled in a mobile team *because* their use of care has just spiked; their use falls
afterwards whether or not the team does anything (regression to the mean, methods reference §7.1:
Roland et al. BMJ 2005;330:289; Gravelle et al. BMJ 2007;334:31; Finkelstein et al. NEJM
2020;382:152). The before/after comparisons the Swedish reports quote (seeds 001 and 004: "up to
80 % fewer ED visits and 90 % fewer inpatient days, six months before vs after enrolment") measure
mostly that. And teams start first where need is greatest -- in the municipalities with the most
admissions -- so a comparison across areas confounds the team with the area's baseline.
:func:`evaluate_enrolments` therefore offers three designs:

``design="trial"`` (default)
    Sequential target-trial emulation (:mod:`.trial`; Hernán & Robins, *Am J Epidemiol*
    2016;183:758; Hernán et al., *Epidemiology* 2008;19:766; Danaei et al., *Stat Methods Med Res*
    2013;22:70): each calendar month, the newly enrolled against the eligible not-yet-enrolled
    persons of the **same municipality** with the same trigger-window admission and ED counts,
    recent acute events, long-run admission history, chronic conditions, age band and sex, followed
    from the same point of the month; per protocol (controls censored when they enrol, weighted by
    the inverse probability of remaining unenrolled) with intention to treat beside it. Comparing
    within area and month removes the area's baseline and the secular trend; matching on the
    trigger window makes both groups regress to the mean alike, without the across-area matching
    bias Daw & Hatfield (*Health Serv Res* 2018;53:4138) describe for matched
    difference-in-differences. Every result carries falsification and sensitivity checks
    (``result.sensitivity``, ``result.negative_control``): a negative-control outcome (hip
    fractures), placebo index dates 12 months earlier, an event-study pre-trend test and the E-value
    (:mod:`.sensitivity`).
``design="pre_post"``
    The naive comparison: rate in the ``window_months`` after enrolment / rate in the same window
    before, among the enrolled. Shown for contrast only (§7.1 design rule 1: never report it alone).
``design="matched_did"`` (the previous default, kept for comparison)
    Risk-set matching with pseudo-index dates (§7.2, :mod:`.matching`): each enrolled person gets up
    to ``controls_per_case`` controls who, on the first of the same calendar month, had the same sex,
    age band and recent utilisation stratum, the nearest propensity score, and were alive, resident
    and not enrolled on the enrolment date (their pseudo-index date). The effect is the ratio of
    rate ratios ``(cases post/pre) / (controls post/pre)`` from a Poisson GLM with person-time
    offset and person-clustered standard errors (:mod:`.rate_models`). Biased when areas with
    different baselines start at different dates (controls come from other areas).

Outcomes are rates per person-time (:mod:`.person_time`): a person who dies or moves out
contributes the time they were at risk; deaths are reported beside (``result.deaths``). Unit of
analysis: the person-window (a case, or a control at one pseudo-index date).

``staggered_did`` (municipality-level roll-outs, §7.3–7.4) lives in :mod:`.did` and is re-exported
here; ``listing_effect`` (named doctor as a time-varying exposure) in :mod:`.listing_effect`.

Examples
--------
>>> from naravard_analysis.data.synthetic import make_world  # doctest: +SKIP
>>> world = make_world("demo", n_persons=4000, seed=1, effects="none")  # doctest: +SKIP
>>> res = evaluate_enrolments(world)  # doctest: +SKIP
>>> res.estimates[["naive_change", "estimate", "lower", "upper"]]  # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from naravard_analysis.core.defaults import DEFAULT_LANGUAGE
from naravard_analysis.core.intervals import normal_quantile
from naravard_analysis.core.labels import LABELS, format_level, format_number, label
from naravard_analysis.core.results import ResultDisplay
from naravard_analysis.errors import DataWarning, ParameterError, SchemaError
from naravard_analysis.methods.did import staggered_did
from naravard_analysis.methods.listing_effect import (
    ListingEffect,
    conditions_first,
    listing_effect,
    named_doctor_starts,
)
from naravard_analysis.methods.matching import COVARIATES, match_controls
from naravard_analysis.methods.person_time import (
    OUTCOMES,
    EventIndex,
    days,
    outcome_events,
    person_frame,
)
from naravard_analysis.methods.rate_models import log_ratio_influence, poisson_did
from naravard_analysis.methods.sensitivity import e_value, e_value_limit
from naravard_analysis.methods.trial import (
    TrialHistory,
    emulate_trials,
    listing_area,
    municipality_area,
    trial_checks,
    trial_history,
    trial_rate_ratio,
    trial_unit_sums,
)

__all__ = [
    "evaluate_enrolments",
    "EvaluationResult",
    "listing_effect",
    "ListingEffect",
    "named_doctor_starts",
    "staggered_did",
    "DESIGNS",
]

DESIGNS = ("trial", "matched_did", "pre_post")
#: Outcomes estimated when ``outcomes`` is not given (those whose table is missing are left out).
DEFAULT_OUTCOMES = ("unplanned_admissions", "ed_visits", "bed_days")
AREAS = ("municipality", "unit")
_YEAR = 365.25
_MONTH = _YEAR / 12
_BIG = np.int64(2**40)
_EVENT_MONTHS = np.arange(-12, 13)


def _t(key: str, language: str, **fmt: Any) -> str:
    """A sentence of :meth:`EvaluationResult.summary` (``evaluation_*`` in the one text store)."""
    return label("evaluation_" + key, language, **fmt)


@dataclass(repr=False)
class EvaluationResult(ResultDisplay):
    """Estimates of an intervention's effect (see :func:`evaluate_enrolments`; result protocol).

    Attributes
    ----------
    estimates
        Indexed by outcome: ``naive_change`` (relative before/after change, ``post / pre - 1`` on
        the rate scale, among *all* analysable enrolled: ``n_naive`` persons, the figure the
        before/after reports quote), ``naive_change_analysed`` (the same change among the cases
        the ``estimate`` is computed on: ``n_cases``, so the two describe the same people),
        ``n_naive``, ``estimate`` (rate ratio: ratio of rate ratios for
        ``matched_did``, post/pre for ``pre_post``), ``lower``, ``upper`` (at ``settings["level"]``), ``p_value``,
        ``n_cases``, ``n_controls`` (control windows), then the rates per person-year before and
        after for cases and (weighted) controls, the case event counts and person-years. The
        ``trial`` design also gives ``naive_events_pre`` and ``naive_events_post``: the events
        before and after enrolment behind ``naive_change`` (the same ``n_naive`` persons).
    balance
        Standardised mean differences of the matching covariates before matching (cases vs the
        whole risk set) and after (cases vs weighted matched controls), as R's cobalt reports them.
    event_study
        One row per outcome and event month −12..+12: case and control rates per person-year,
        ``ratio`` (case/control) and ``relative`` (ratio divided by the pre-window ratio: the
        monthly version of the DiD estimate) with intervals at the level, and event counts.
    matching
        How many cases found controls and why the others did not (one row per reason).
    deaths
        Deaths during the post window: counts, person-years, rates and (matched design) the
        case/control rate ratio.
    units
        Person-level analysis rows (never publish): set, person code, treated, weight, index day,
        person-years and counts before/after per outcome. Used by
        :func:`~naravard_analysis.methods.costs.value_effects` (all designs; for ``trial`` the
        per-protocol, censoring-weighted follow-up sums ``py_post`` and ``post_<outcome>``).
    sensitivity
        By outcome: ``e_value`` and ``e_value_limit`` (VanderWeele & Ding 2017), the placebo-date
        estimate ``placebo_estimate``/``placebo_lower``/``placebo_upper`` (index dates
        ``placebo_months`` earlier, follow-up ending before the real trigger window; expected 1)
        with the weighted events behind it, ``placebo_events_cases`` and
        ``placebo_events_controls`` (weighted sums, not always whole numbers), and the event-study pre-trend test ``pretrend_chi2``, ``pretrend_df``, ``pretrend_p_value``
        (``trial`` design; NaN where a design does not provide a check).
    negative_control
        The same contrast for an outcome the intervention cannot plausibly change (default hip
        fractures, ICD-10 S72): ``estimate``, ``lower``, ``upper``, ``p_value``; expected 1; and
        (``trial`` design) the weighted events behind it, ``events_cases`` and ``events_controls``.
    """

    estimates: pd.DataFrame
    balance: pd.DataFrame
    event_study: pd.DataFrame
    matching: pd.DataFrame
    deaths: pd.DataFrame
    design: str
    intervention: str
    outcomes: tuple[str, ...]
    window_months: int
    settings: dict[str, Any] = field(default_factory=dict)
    units: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    sensitivity: pd.DataFrame = field(default_factory=pd.DataFrame)
    negative_control: pd.DataFrame = field(default_factory=pd.DataFrame)

    def __repr__(self) -> str:
        e = self.estimates
        n = int(e["n_cases"].max()) if len(e) else 0
        return (f"<EvaluationResult {self.intervention} design={self.design} outcomes={len(e)} "
                f"cases={n} enrolled={self.settings.get('n_enrolled', '?')}>")

    @property
    def matching_report(self) -> pd.DataFrame:
        """Alias of :attr:`matching`."""
        return self.matching

    @property
    def table(self) -> pd.DataFrame:
        """The protocol's estimates table: :attr:`estimates`."""
        return self.estimates

    def comparison(self, language: str = DEFAULT_LANGUAGE) -> pd.DataFrame:
        """Naive vs adjusted side by side: per cent changes, by outcome (aggregate numbers only).

        ``naive_change_pct`` is the before/after change among all analysable enrolled
        (``n_naive``), ``naive_change_analysed_pct`` the same change among the ``n_cases`` the
        effect is estimated on; ``rtm_share_of_naive`` (the part of the naive change that the
        effect does not explain) compares the effect with the latter, on the same people.
        """
        e = self.estimates
        same = e["naive_change_analysed"] if "naive_change_analysed" in e else e["naive_change"]
        out = pd.DataFrame({
            "naive_change_pct": 100 * e["naive_change"],
            "naive_change_analysed_pct": 100 * same,
            "effect_pct": 100 * (e["estimate"] - 1),
            "effect_lower_pct": 100 * (e["lower"] - 1),
            "effect_upper_pct": 100 * (e["upper"] - 1),
            "rtm_share_of_naive": np.where(same != 0, 1 - np.log(e["estimate"]) / np.log1p(same), np.nan),
            "n_naive": e["n_naive"] if "n_naive" in e else e["n_cases"],
            "n_cases": e["n_cases"],
        }, index=e.index)
        out.index = [label(o, language) for o in out.index]
        return out

    def summary(self, language: str = DEFAULT_LANGUAGE) -> str:
        """A short text summary in Swedish (``"sv"``) or English (``"en"``)."""
        def f(v: float, d: int = 2) -> str:
            return format_number(v, language, decimals=d)

        def pct(v: float) -> str:
            return f"{format_number(100 * v, language, decimals=0)} %"

        lv = format_level(self.settings.get("level", 0.95), language)
        lines = [_t("title", language, intervention=self.intervention),
                 _t("design_" + self.design, language),
                 _t("window", language, m=self.window_months)]
        e = self.estimates
        n_ctrl = int(e["n_controls"].max()) if len(e) else 0
        lines.append(_t("cases", language, n=int(e["n_cases"].max()) if len(e) else 0, k=n_ctrl))
        lost = int(self.matching.loc[~self.matching.index.isin(["matched", "matched_fewer"]),
                                     "n_cases"].sum())
        if lost:
            lines.append(_t("unmatched", language, n=lost))
        for o, r in e.iterrows():
            lines.append(_t("row", language, o=label(o, language), naive=pct(r["naive_change"]),
                            est=f(r["estimate"]), lo=f(r["lower"]), hi=f(r["upper"]), lv=lv))
        if self.design in ("matched_did", "trial"):
            smd = self.balance["smd_after"].abs().max()
            lines.append(_t("balance", language, v=f(smd)))
            d = self.deaths.iloc[0]
            if np.isfinite(d.get("rate_ratio", np.nan)):
                lines.append(_t("deaths", language, est=f(d["rate_ratio"]), lo=f(d["lower"]),
                                hi=f(d["upper"]), lv=lv))
        sens = self.sensitivity
        for o, r in sens.iterrows():
            if np.isfinite(r.get("e_value", np.nan)):
                lines.append(_t("evalue", language, o=label(o, language), e=f(r["e_value"]),
                                l=f(r["e_value_limit"])))
            if np.isfinite(r.get("placebo_estimate", np.nan)):
                lines.append(_t("placebo", language, o=label(o, language), m=self.settings.get("placebo_months"),
                                est=f(r["placebo_estimate"]), lo=f(r["placebo_lower"]),
                                hi=f(r["placebo_upper"]), p=f(r["pretrend_p_value"], 3), lv=lv))
        for o, r in self.negative_control.iterrows():
            if np.isfinite(r["estimate"]):
                lines.append(_t("negctrl", language, o=label(o, language), est=f(r["estimate"]),
                                lo=f(r["lower"]), hi=f(r["upper"]), lv=lv))
        lines.append(_t("note_trial" if self.design == "trial" else "note", language))
        return "\n".join(lines)

    def plot(self, language: str = DEFAULT_LANGUAGE, *, column: str = "relative"):
        """Event-study figure: one panel per outcome, monthly estimate with its interval (at the level used).

        ``column`` = ``"relative"`` (ratio to the pre-window; the monthly DiD) or ``"ratio"``
        (case/control rate ratio) or ``"rate_cases"`` (case rates only, the naive picture).
        """
        import matplotlib.pyplot as plt

        es = self.event_study
        outs = list(dict.fromkeys(es["outcome"]))
        fig, axes = plt.subplots(1, len(outs), figsize=(4.2 * len(outs), 3.6), squeeze=False,
                                 sharey=column != "rate_cases")
        for ax, o in zip(axes[0], outs, strict=True):
            d = es[es["outcome"] == o]
            ax.plot(d["event_month"], d[column], marker="o", ms=3, color="#0072B2")
            if f"{column}_lower" in d:
                ax.fill_between(d["event_month"], d[f"{column}_lower"], d[f"{column}_upper"],
                                color="#0072B2", alpha=0.2, lw=0)
            if column != "rate_cases":
                ax.axhline(1.0, color="0.3", lw=0.8)
                ax.set_yscale("log")
            ax.axvline(-0.5, color="#D55E00", lw=1, ls="--")
            ax.set_title(label(o, language))
            ax.set_xlabel(label("event_month", language))
        axis = f"evaluation_axis_{column}"
        axes[0][0].set_ylabel(label(axis, language) if axis in LABELS else column)
        fig.tight_layout()
        return fig

    def _repr_html_(self) -> str:  # pragma: no cover - JupyterLab display
        return ("<pre>" + self.summary("en") + "</pre>" + self.estimates.to_html(float_format="%.3f")
                + self.matching.to_html())


# ------------------------------------------------------------------------------------------------
def _check(data, intervention, outcomes, window_months, design, controls_per_case, match_on,
           controls_from, family, area, level, negative_control) -> tuple[str, ...]:
    if design not in DESIGNS:
        raise ParameterError(f"design must be one of {DESIGNS}, got {design!r}")
    if data.enrolments is None or data.persons is None:
        raise SchemaError("enrolments", None, "evaluate_enrolments needs the enrolments and persons tables")
    if outcomes is None:  # the defaults whose table is present (no contacts: no ED visits)
        outcomes = tuple(o for o in DEFAULT_OUTCOMES if getattr(data, OUTCOMES[o]) is not None)
    if isinstance(outcomes, str):
        outcomes = (outcomes,)
    outcomes = tuple(outcomes)
    bad = [o for o in outcomes if o not in OUTCOMES or o == "deaths"]
    if not outcomes or bad:
        raise ParameterError(f"unknown outcome(s) {bad}; choose from "
                             f"{sorted(k for k in OUTCOMES if k != 'deaths')} (deaths are always reported)")
    for o in outcomes:
        if getattr(data, OUTCOMES[o]) is None:
            raise SchemaError(OUTCOMES[o], None, f"outcome {o!r} needs the {OUTCOMES[o]} table, which the "
                              "data do not hold (leave `outcomes` unset to estimate the available ones)")
    if negative_control is not None and (negative_control not in OUTCOMES or negative_control == "deaths"):
        raise ParameterError(f"negative_control must be None or an outcome of {sorted(OUTCOMES)}, "
                             f"got {negative_control!r}")
    if isinstance(window_months, bool) or not isinstance(window_months, int | np.integer) or not 1 <= window_months <= 24:
        raise ParameterError(f"window_months must be an integer from 1 to 24, got {window_months!r}")
    if isinstance(controls_per_case, bool) or not isinstance(controls_per_case, int | np.integer) or controls_per_case < 1:
        raise ParameterError(f"controls_per_case must be a positive integer, got {controls_per_case!r}")
    if match_on is not None:
        unknown = [c for c in match_on if c not in COVARIATES]
        if unknown:
            raise ParameterError(f"match_on: unknown covariate(s) {unknown}; choose from {COVARIATES}")
    if controls_from not in ("untreated_areas", "any"):
        raise ParameterError(f"controls_from must be 'untreated_areas' or 'any', got {controls_from!r}")
    if family not in ("poisson", "negbin"):
        raise ParameterError(f"family must be 'poisson' or 'negbin', got {family!r}")
    if area not in AREAS:
        raise ParameterError(f"area must be one of {AREAS}, got {area!r}")
    if area == "unit" and data.listings is None:
        raise SchemaError("listings", None, "area='unit' needs the listings table (unit_id)")
    if not isinstance(level, float | int) or not 0 < level < 1:
        raise ParameterError(f"level must be a number between 0 and 1, got {level!r}")
    known = pd.unique(data.enrolments["intervention"].astype(object))
    if intervention not in set(known):
        raise ParameterError(f"no enrolments in intervention {intervention!r}; the data hold "
                             f"{sorted(map(str, known))}")
    return outcomes


def _windows(units: pd.DataFrame, pf, W: int, censor: np.ndarray) -> dict[str, np.ndarray]:
    code = units["code"].to_numpy(np.int64)
    idx = units["index_day"].to_numpy(np.int64)
    pre_lo = np.maximum(idx - W, pf.entry[code])
    end = np.minimum(pf.exit[code], censor)
    post_hi = np.minimum(idx + W, end)
    return {"code": code, "idx": idx, "pre_lo": pre_lo, "post_hi": np.maximum(post_hi, idx), "end": end}


def evaluate_enrolments(
    data,
    *,
    intervention: str = "mobile_team",
    outcomes: Sequence[str] | None = None,
    window_months: int = 6,
    design: str = "trial",
    controls_per_case: int = 5,
    match_on: Sequence[str] | None = None,
    seed: int = 0,
    controls_from: str = "untreated_areas",
    caliper: float = 1.0,
    family: str = "poisson",
    area: str = "municipality",
    level: float = 0.95,
    negative_control: str | None = "hip_fractures",
    placebo_months: int = 12,
    area_exact: bool = True,
) -> EvaluationResult:
    """Estimate the effect of enrolment in an intervention on care use, net of regression to the mean.

    Parameters
    ----------
    data : RegisterData
        Needs ``persons``, ``enrolments`` and the tables of the outcomes (``admissions`` for
        admissions and bed days, ``contacts`` for ED visits); ``listings`` give move-in/move-out.
        Without ``contacts`` the admission outcomes are estimated on admission-based history.
    intervention
        Value of ``enrolments.intervention`` to evaluate; a person's first enrolment is the index.
        Named-doctor starts from :func:`named_doctor_starts` can be evaluated too (with
        ``area="unit"``).
    outcomes
        Names from :data:`~naravard_analysis.methods.person_time.OUTCOMES` (definitions there);
        ``None`` = unplanned admissions, ED visits and bed days, leaving out those whose table is
        missing. Asking for an outcome whose table is missing raises :class:`SchemaError`.
    window_months
        Months before and after the (pseudo-)index date (converted to ``round(m · 365.25/12)``
        days).
    design
        ``"trial"`` (default), ``"matched_did"`` or ``"pre_post"`` (module docstring).
    controls_per_case
        Controls per case (``trial``: sampled at random within the exact cell; ``matched_did``:
        nearest first; fewer when the risk set has fewer).
    match_on
        Covariates of the propensity score (names in
        :data:`~naravard_analysis.methods.matching.COVARIATES`); ``None`` = all. The exact strata
        (sex, age band, admissions and ED visits in the last 6 months) always apply.
    seed
        Seed of the random tie-breaking between identical controls.
    controls_from
        ``"untreated_areas"`` (default): controls only from municipalities where nobody had been
        enrolled in the intervention before the end of the control's follow-up (no team there yet,
        §7.2 "non-team area or period"; the first enrolment in a municipality is taken as its
        team's start). ``"any"``: any not-yet-enrolled person; a control who is enrolled later is
        censored at that date.
    caliper
        Caliper in standard deviations of the logit propensity score (design choice: 1.0, wider
        than the usual 0.2 because the exact strata already fix the trigger counts and the recency
        of the spike; at 0.2 about a third of the enrolled in the demo world lost every control).
    family
        ``"poisson"`` or ``"negbin"`` working likelihood of the DiD model (``matched_did``).
    area
        ``trial``: the area within which treated and controls are compared: ``"municipality"``
        (``persons.municipality_code``; mobile teams) or ``"unit"`` (the care unit of the listing
        on the first of the trial month; named doctors).
    area_exact
        ``trial``: compare only within the area (default). ``False`` takes controls from every
        area and balances the area's baseline rate by weighting instead (more controls in small
        data, but it relies on the weighting model for the area).
    level
        Confidence level of every interval (estimates, event study, deaths; default 0.95).
    negative_control
        Outcome for the negative-control check (default hip fractures); ``None`` = none.
    placebo_months
        ``trial``: the placebo check moves every index date of the same trials this many months
        earlier and follows for ``min(window, placebo_months - 6)`` months, ending before the
        real trigger window.

    Returns
    -------
    EvaluationResult

    Raises
    ------
    ParameterError, SchemaError
        Unknown design/outcome/intervention, bad window or controls, missing tables.

    Notes
    -----
    Inclusion: a person's first enrolment in ``intervention``; cases need 12 months (or the window,
    if longer) of residence and data before the enrolment month, else they are counted as
    ``short_history`` in :attr:`EvaluationResult.matching` and left out of every design. The naive
    ``naive_change`` covers all of these analysable enrolled (``n_naive``); cases without a control
    (or trial) drop out of the estimate, so ``naive_change_analysed`` repeats the before/after
    change on exactly the ``n_cases`` behind ``estimate``. Cases are followed to death, moving out
    or the end of the data (intention to treat: leaving the team does not end follow-up).
    """
    outcomes = _check(data, intervention, outcomes, window_months, design, controls_per_case,
                      match_on, controls_from, family, area, level, negative_control)
    W = int(round(window_months * _MONTH))
    history_days = max(365, W)
    pf = person_frame(data)
    n_p = len(pf.ids)

    enr = data.enrolments.loc[(data.enrolments["intervention"] == intervention).to_numpy(bool),
                              ["person_id", "start_date"]]
    enr = enr.sort_values(["start_date"], kind="stable").drop_duplicates("person_id")
    case_code = pf.codes(enr["person_id"], "enrolments")
    case_day = days(enr["start_date"])
    inside = (case_day >= pf.period[0]) & (case_day < pf.period[1])
    case_code, case_day = case_code[inside], case_day[inside]
    order = np.lexsort((case_code, case_day))
    case_code, case_day = case_code[order], case_day[order]
    enrol_day = np.full(n_p, _BIG, np.int64)
    enrol_day[case_code] = case_day

    extra = (negative_control,) if negative_control and negative_control not in outcomes else ()
    ix = {o: EventIndex(*outcome_events(data, o, pf)) for o in (*outcomes, *extra, "deaths")}
    if design == "trial":
        return _evaluate_trial(data, pf, ix, intervention=intervention, case_code=case_code,
                               case_day=case_day, outcomes=outcomes, W=W, history_days=history_days,
                               window_months=int(window_months), controls_per_case=int(controls_per_case),
                               seed=seed, area=area, level=float(level), negative_control=negative_control,
                               placebo_months=int(placebo_months), area_exact=bool(area_exact))
    if design == "matched_did":
        # matching history; a missing table gives all-zero covariates (the strata still apply)
        for o in ("unplanned_admissions", "ed_visits", "bed_days"):
            if o not in ix:
                have = getattr(data, OUTCOMES[o]) is not None
                ix[o] = (EventIndex(*outcome_events(data, o, pf)) if have
                         else EventIndex(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)))
    male = (data.persons["sex"] == "M").to_numpy(dtype=float)

    area_ok = None
    if controls_from == "untreated_areas":
        muni, muni_codes = pd.factorize(data.persons["municipality_code"].astype(object))
        first = np.full(len(muni_codes) + 1, _BIG, np.int64)
        np.minimum.at(first, muni[case_code], case_day)
        area_ok = first[muni]
        area_ok[muni < 0] = _BIG

    short = (month_floor(case_day) - history_days < pf.period[0]) | (
        pf.entry[case_code] > month_floor(case_day) - history_days)
    all_cases = pd.DataFrame({"set_id": np.arange(case_code.size), "code": case_code, "treated": True,
                              "index_day": case_day, "weight": 1.0})[~short]

    if design == "matched_did":
        m = match_controls(case_code, case_day, pf, male=male, adm=ix["unplanned_admissions"],
                           ed=ix["ed_visits"], bed=ix["bed_days"], enrol_day=enrol_day,
                           area_ok_until=area_ok, horizon_days=W, controls_per_case=int(controls_per_case),
                           caliper_sd=caliper, history_days=history_days, seed=seed,
                           covariates=match_on)
        units = m.pairs.reset_index(drop=True)
        matching, balance, caliper_used = m.report, m.balance, m.caliper
    else:
        units = all_cases.reset_index(drop=True)
        counts = pd.Series({"analysed": int((~short).sum()), "short_history": int(short.sum())})
        matching = pd.DataFrame({"n_cases": counts, "share": counts / max(len(short), 1)})
        matching.index.name = "reason"
        balance = pd.DataFrame(columns=["mean_cases", "mean_risk_set", "mean_matched_controls",
                                        "smd_before", "smd_after"], dtype=float)
        caliper_used = np.nan

    censor_ctrl = enrol_day if controls_from == "any" else np.full(n_p, _BIG, np.int64)

    def censor_for(u: pd.DataFrame) -> np.ndarray:
        c = np.full(len(u), _BIG, np.int64)
        ctrl = ~u["treated"].to_numpy(bool)
        c[ctrl] = censor_ctrl[u["code"].to_numpy(np.int64)[ctrl]]
        return c

    # ---- per-unit windows and counts
    def unit_table(u: pd.DataFrame) -> pd.DataFrame:
        w = _windows(u, pf, W, censor_for(u))
        out = u.copy()
        out["py_pre"] = (w["idx"] - w["pre_lo"]) / _YEAR
        out["py_post"] = (w["post_hi"] - w["idx"]) / _YEAR
        for o in [*outcomes, *extra, "deaths"]:
            out[f"pre_{o}"] = ix[o].sum(w["code"], w["pre_lo"], w["idx"])
            out[f"post_{o}"] = ix[o].sum(w["code"], w["idx"], w["post_hi"])
        return out

    units = unit_table(units)
    naive_units = unit_table(all_cases.reset_index(drop=True)) if design == "matched_did" else units

    rows = {}
    for o in outcomes:
        rows[o] = _estimate_row(units, naive_units, o, family, level)
    estimates = pd.DataFrame.from_dict(rows, orient="index")
    estimates.index.name = "outcome"

    event_study = _event_study(units, pf, ix, outcomes, W, censor_for(units), level)
    deaths = _deaths(units, design, level)
    nc = pd.DataFrame(columns=["estimate", "lower", "upper", "p_value", "events_cases", "events_controls"],
                      dtype=float)
    if negative_control:
        r = _estimate_row(units, naive_units, negative_control, family, level)
        # the events of this design's estimate span both windows of both arms: not one pair
        nc.loc[negative_control] = [r["estimate"], r["lower"], r["upper"], r["p_value"], np.nan, np.nan]
    nc.index.name = "outcome"
    sensitivity = _sensitivity(estimates, None, None)
    settings = {"window_days": W, "history_days": history_days, "controls_per_case": int(controls_per_case),
                "controls_from": controls_from, "caliper_sd": caliper, "caliper_logit": caliper_used,
                "family": family, "seed": seed, "match_on": list(match_on or COVARIATES), "level": level,
                "n_enrolled": int(case_code.size)}
    return EvaluationResult(estimates=estimates, balance=balance, event_study=event_study,
                            matching=matching, deaths=deaths, design=design, intervention=intervention,
                            outcomes=outcomes, window_months=int(window_months), settings=settings,
                            units=units, sensitivity=sensitivity, negative_control=nc)


def _sensitivity(estimates: pd.DataFrame, placebo: pd.DataFrame | None,
                 pretrend: pd.DataFrame | None) -> pd.DataFrame:
    """E-values, placebo-date estimates and the pre-trend test by outcome (NaN where not run)."""
    out = pd.DataFrame(index=estimates.index)
    out["e_value"] = e_value(estimates["estimate"].to_numpy(float))
    out["e_value_limit"] = e_value_limit(estimates["estimate"].to_numpy(float),
                                         estimates["lower"].to_numpy(float), estimates["upper"].to_numpy(float))
    for c in ("estimate", "lower", "upper", "events_cases", "events_controls"):
        out[f"placebo_{c}"] = placebo[c].reindex(out.index).to_numpy(float) if placebo is not None else np.nan
    for c in ("chi2", "df", "p_value"):
        out[f"pretrend_{c}"] = pretrend[c].reindex(out.index).to_numpy(float) if pretrend is not None else np.nan
    return out


def _trial_history(data, pf, ix: dict[str, EventIndex]) -> TrialHistory:
    return trial_history(data, pf, conditions_first=conditions_first(data, pf))


def _evaluate_trial(data, pf, ix, *, intervention, case_code, case_day, outcomes, W, history_days,
                    window_months, controls_per_case, seed, area, level, negative_control,
                    placebo_months, area_exact) -> EvaluationResult:
    """The ``trial`` design (module docstring; :mod:`.trial`)."""
    n_p = len(pf.ids)
    start = np.full(n_p, _BIG, np.int64)
    # persons enrolled before the data period (dropped from the cases above) are never eligible
    enr = data.enrolments.loc[(data.enrolments["intervention"] == intervention).to_numpy(bool)]
    all_code = pf.codes(enr["person_id"], "enrolments")
    np.minimum.at(start, all_code, days(enr["start_date"]))
    male = (data.persons["sex"] == "M").to_numpy(dtype=float)
    history = _trial_history(data, pf, ix)
    area_at = municipality_area(data) if area == "municipality" else listing_area(data, pf)
    exact_area = area_exact
    common = {"area_at": area_at, "male": male, "history": history, "history_days": history_days,
              "controls_per_case": controls_per_case, "seed": seed, "exact_area": exact_area}
    frame = emulate_trials(pf, start, window_days=W, **common)
    u = frame.units
    rows, itt = {}, {}
    for o in outcomes:
        rows[o] = trial_rate_ratio(frame, ix[o], per_protocol=True, level=level)
        itt[o] = trial_rate_ratio(frame, ix[o], per_protocol=False, level=level)

    # the naive before/after among all analysable enrolled persons, for contrast
    short = (month_floor(case_day) - history_days < pf.period[0]) | (
        pf.entry[case_code] > month_floor(case_day) - history_days)
    naive_units = pd.DataFrame({"set_id": np.arange(int((~short).sum())), "code": case_code[~short],
                                "treated": True, "index_day": case_day[~short], "weight": 1.0})
    w = _windows(naive_units, pf, W, np.full(len(naive_units), _BIG, np.int64))
    naive_units["py_pre"] = (w["idx"] - w["pre_lo"]) / _YEAR
    naive_units["py_post"] = (w["post_hi"] - w["idx"]) / _YEAR
    # the same change among the persons the trial analyses as treated (same people as the estimate)
    analysed = np.isin(naive_units["code"].to_numpy(), u.loc[u["treated"].to_numpy(bool), "code"].to_numpy())

    def change(o: str, keep: np.ndarray) -> tuple[float, float, float]:
        """The before/after change among ``keep`` and its events before and after."""
        pre = ix[o].sum(w["code"][keep], w["pre_lo"][keep], w["idx"][keep]).sum()
        post = ix[o].sum(w["code"][keep], w["idx"][keep], w["post_hi"][keep]).sum()
        py_pre, py_post = naive_units["py_pre"][keep].sum(), naive_units["py_post"][keep].sum()
        rel = (post / py_post) / (pre / py_pre) - 1 if pre > 0 and py_post > 0 else np.nan
        return rel, float(pre), float(post)

    est = {}
    everyone = np.ones(len(naive_units), dtype=bool)
    for o in outcomes:
        r, ri = rows[o], itt[o]
        naive, naive_pre, naive_post = change(o, everyone)
        est[o] = {
            "naive_change": naive, "naive_change_analysed": change(o, analysed)[0],
            "n_naive": len(naive_units),
            # the events behind naive_change (the n_naive persons), so a report can check them
            "naive_events_pre": naive_pre, "naive_events_post": naive_post,
            "estimate": r["estimate"], "lower": r["lower"], "upper": r["upper"], "p_value": r["p_value"],
            "n_cases": r["n_treated"], "n_controls": r["n_controls"],
            "rate_post_cases": r.get("events_treated", np.nan) / r.get("person_years_treated", np.nan),
            "rate_post_controls": r.get("events_controls", np.nan) / r.get("person_years_controls", np.nan),
            "events_post_cases": r.get("events_treated", np.nan),
            "person_years_post_cases": r.get("person_years_treated", np.nan),
            "estimate_itt": ri["estimate"], "lower_itt": ri["lower"], "upper_itt": ri["upper"],
            "log_ratio": r["log_ratio"], "se": r["se"],
        }
    estimates = pd.DataFrame.from_dict(est, orient="index")
    estimates.index.name = "outcome"

    event_study, sensitivity, nc = trial_checks(frame, pf, ix, estimates, negative_control=negative_control,
                                                placebo_months=placebo_months, level=level)
    W_pl = sensitivity.attrs.get("placebo_window_days")
    d = trial_rate_ratio(frame, ix["deaths"], per_protocol=True, level=level)
    deaths = pd.DataFrame([{
        "deaths_cases": d.get("events_treated", np.nan), "person_years_cases": d.get("person_years_treated", np.nan),
        "rate_cases": d.get("events_treated", np.nan) / d.get("person_years_treated", np.nan),
        "deaths_controls": d.get("events_controls", np.nan),
        "person_years_controls": d.get("person_years_controls", np.nan),
        "rate_controls": d.get("events_controls", np.nan) / d.get("person_years_controls", np.nan),
        "rate_ratio": d["estimate"], "lower": d["lower"], "upper": d["upper"]}],
        index=pd.Index(["deaths"], name="outcome"))
    bad = frame.balance.index[frame.balance["smd_after"].abs() > 0.1].tolist()
    if bad:
        warnings.warn(f"evaluate_enrolments: covariates with |standardised mean difference| > 0.1 after "
                      f"matching: {bad} (see result.balance)", DataWarning, stacklevel=3)
    settings = {"window_days": W, "history_days": history_days, "controls_per_case": controls_per_case,
                "area": area, "area_exact": area_exact, "level": level, "seed": seed, "placebo_months": placebo_months,
                "placebo_window_days": W_pl, "negative_control": negative_control,
                "n_enrolled": int(case_code.size), "per_protocol": True, **{
                    k: frame.settings[k] for k in ("ipcw_max", "ipcw_mean", "n_trials")}}
    # per person-trial follow-up sums (per protocol, censoring-weighted; the sampling weight stays
    # in ``weight``): what the valuation of costs.value_effects resamples
    post = {}
    for o in outcomes:
        post[f"post_{o}"], py = trial_unit_sums(frame, ix[o], per_protocol=True, weighted=False)
        post["py_post"] = py
    units = u.assign(set_id=u["cell"], **post)
    return EvaluationResult(estimates=estimates, balance=frame.balance, event_study=event_study,
                            matching=frame.report, deaths=deaths, design="trial", intervention=intervention,
                            outcomes=outcomes, window_months=window_months, settings=settings, units=units,
                            sensitivity=sensitivity, negative_control=nc)


def month_floor(day: np.ndarray) -> np.ndarray:
    """First day of each day's calendar month (int days)."""
    from naravard_analysis.methods.matching import month_start

    return month_start(day)


def _stack(u: pd.DataFrame, o: str) -> tuple[np.ndarray, ...]:
    n = len(u)
    y = np.concatenate([u[f"pre_{o}"].to_numpy(), u[f"post_{o}"].to_numpy()])
    t = np.concatenate([u["py_pre"].to_numpy(), u["py_post"].to_numpy()])
    tr = np.tile(u["treated"].to_numpy(float), 2)
    post = np.repeat([0.0, 1.0], n)
    w = np.tile(u["weight"].to_numpy(float), 2)
    g = np.tile(u["code"].to_numpy(), 2)
    keep = t > 0
    return y[keep], t[keep], tr[keep], post[keep], w[keep], g[keep]


def _rates(u: pd.DataFrame, o: str, treated: bool) -> tuple[float, float, float, float]:
    s = u[u["treated"].to_numpy(bool) == treated]
    w = s["weight"].to_numpy(float)
    py_pre, py_post = float((w * s["py_pre"]).sum()), float((w * s["py_post"]).sum())
    e_pre, e_post = float((w * s[f"pre_{o}"]).sum()), float((w * s[f"post_{o}"]).sum())
    return e_pre, e_post, py_pre, py_post


def _estimate_row(units: pd.DataFrame, naive_units: pd.DataFrame, o: str, family: str,
                  level: float = 0.95) -> dict[str, float]:
    ne_pre, ne_post, npy_pre, npy_post = _rates(naive_units, o, True)
    naive = (ne_post / npy_post) / (ne_pre / npy_pre) - 1 if ne_pre > 0 and npy_post > 0 else np.nan
    fit = poisson_did(*_stack(units, o), family=family, level=level)
    e_pre, e_post, py_pre, py_post = _rates(units, o, True)
    c_pre, c_post, cpy_pre, cpy_post = _rates(units, o, False)
    treated = units["treated"].to_numpy(bool)

    def rate(e: float, py: float) -> float:
        return e / py if py > 0 else np.nan

    return {
        "naive_change": naive,
        # the same before/after change among the cases the estimate uses (same people)
        "naive_change_analysed": rate(e_post, py_post) / rate(e_pre, py_pre) - 1 if e_pre > 0 else np.nan,
        "n_naive": int(naive_units["treated"].to_numpy(bool).sum()),
        "estimate": fit["estimate"], "lower": fit["lower"], "upper": fit["upper"],
        "p_value": fit["p_value"],
        "n_cases": int(treated.sum()), "n_controls": int((~treated).sum()),
        "rate_pre_cases": rate(e_pre, py_pre), "rate_post_cases": rate(e_post, py_post),
        "rate_pre_controls": rate(c_pre, cpy_pre), "rate_post_controls": rate(c_post, cpy_post),
        "events_pre_cases": e_pre, "events_post_cases": e_post,
        "person_years_pre_cases": py_pre, "person_years_post_cases": py_post,
        "log_ratio": fit["log_ratio"], "se": fit["se"],
    }


def _event_study(units: pd.DataFrame, pf, ix: dict[str, EventIndex], outcomes: Sequence[str], W: int,
                 censor: np.ndarray, level: float = 0.95) -> pd.DataFrame:
    """Monthly rates by event month −12..+12 with the closed-form clustered intervals."""
    z = normal_quantile(level)
    code = units["code"].to_numpy(np.int64)
    idx = units["index_day"].to_numpy(np.int64)
    w = units["weight"].to_numpy(float)
    treated = units["treated"].to_numpy(bool)
    groups, uniq = pd.factorize(code)
    G = len(uniq)
    end = np.minimum(pf.exit[code], censor)
    lo = idx[:, None] + np.floor(_EVENT_MONTHS * _MONTH).astype(np.int64)[None, :]
    hi = idx[:, None] + np.floor((_EVENT_MONTHS + 1) * _MONTH).astype(np.int64)[None, :]
    pre = _EVENT_MONTHS < 0
    lo = np.where(pre, np.maximum(lo, pf.entry[code][:, None]), lo)
    hi = np.where(pre, np.minimum(hi, idx[:, None]), np.minimum(hi, end[:, None]))
    hi = np.maximum(hi, lo)
    # the pre-window (reference) as one more column
    lo = np.column_stack([lo, np.maximum(idx - W, pf.entry[code])])
    hi = np.column_stack([hi, idx])
    t = (hi - lo) / _YEAR * w[:, None]
    n_cells = lo.shape[1]
    frames = []
    for o in outcomes:
        y = ix[o].sum(np.repeat(code, n_cells), lo.ravel(), hi.ravel()).reshape(lo.shape) * w[:, None]
        lr_c, if_c, Yc = log_ratio_influence(y[treated], t[treated], groups[treated], G)
        res = {"outcome": o, "event_month": _EVENT_MONTHS,
               "rate_cases": np.exp(lr_c[:-1]), "events_cases": Yc[:-1],
               "person_years_cases": t[treated].sum(0)[:-1]}
        if (~treated).any():
            lr_k, if_k, Yk = log_ratio_influence(y[~treated], t[~treated], groups[~treated], G)
            d = lr_c - lr_k
            infl = if_c - if_k
        else:  # pre_post: the case rate relative to its own pre-window
            Yk = np.full(n_cells, np.nan)
            d = np.zeros(n_cells)
            infl = np.zeros_like(if_c)
            lr_k = np.full(n_cells, np.nan)
        rel = (d[:-1] - d[-1]) if (~treated).any() else (lr_c[:-1] - lr_c[-1])
        infl_rel = (infl[:, :-1] - infl[:, -1:]) if (~treated).any() else (if_c[:, :-1] - if_c[:, -1:])
        corr = G / (G - 1) if G > 1 else 1.0
        se_d = np.sqrt(corr * (infl[:, :-1] ** 2).sum(0))
        se_rel = np.sqrt(corr * (infl_rel ** 2).sum(0))
        res.update({
            "rate_controls": np.exp(lr_k[:-1]), "events_controls": Yk[:-1],
            "ratio": np.exp(d[:-1]) if (~treated).any() else np.nan,
            "ratio_lower": np.exp(d[:-1] - z * se_d) if (~treated).any() else np.nan,
            "ratio_upper": np.exp(d[:-1] + z * se_d) if (~treated).any() else np.nan,
            "relative": np.exp(rel), "relative_lower": np.exp(rel - z * se_rel),
            "relative_upper": np.exp(rel + z * se_rel),
        })
        frames.append(pd.DataFrame(res))
    return pd.concat(frames, ignore_index=True)


def _deaths(units: pd.DataFrame, design: str, level: float = 0.95) -> pd.DataFrame:
    treated = units["treated"].to_numpy(bool)
    w = units["weight"].to_numpy(float)
    y = units["post_deaths"].to_numpy(float) * w
    t = units["py_post"].to_numpy(float) * w
    out = {"deaths_cases": y[treated].sum(), "person_years_cases": t[treated].sum()}
    out["rate_cases"] = out["deaths_cases"] / out["person_years_cases"] if out["person_years_cases"] else np.nan
    if design == "matched_did" and (~treated).any():
        groups, uniq = pd.factorize(units["code"].to_numpy())
        cells = np.column_stack([np.where(treated, y, 0), np.where(~treated, y, 0)])
        times = np.column_stack([np.where(treated, t, 0), np.where(~treated, t, 0)])
        lr, infl, Y = log_ratio_influence(cells, times, groups, len(uniq))
        d = lr[0] - lr[1]
        se = np.sqrt(len(uniq) / max(len(uniq) - 1, 1) * ((infl[:, 0] - infl[:, 1]) ** 2).sum())
        out.update({"deaths_controls": Y[1], "person_years_controls": times[:, 1].sum(),
                    "rate_controls": np.exp(lr[1]), "rate_ratio": np.exp(d),
                    "lower": np.exp(d - normal_quantile(level) * se),
                    "upper": np.exp(d + normal_quantile(level) * se)})
    return pd.DataFrame([out], index=pd.Index(["deaths"], name="outcome"))
