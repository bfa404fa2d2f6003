"""Effect of having a named doctor (fast läkarkontakt) as a time-varying exposure.

A person's time is split into calendar years and, within each year, into days *with* a named doctor
(a listing row with ``doctor_id`` present) and days *without*; events of the outcome are attributed
to the year and exposure state of their day. The cells (year × age band × sex × number of chronic
conditions × exposure) are summed and a Poisson model with offset ``log(person-years)`` gives the
adjusted rate ratio of "with" vs "without" a named doctor:

    log E[events] = log(PY) + b·exposed + year + age band + sex + conditions,

with a quasi-Poisson scale (Pearson χ² / df) for overdispersion. This is the person-time
alternative the issue names beside Cox with time-varying covariates; both give a hazard/rate ratio
for a time-varying exposure, and the Poisson form runs on a whole region in seconds.

These are **observational associations** (DEFINITIONS.md §7.5: Sandvik et al. BJGP 2022; Region
Jönköping 2019): who gets a named doctor depends on the unit's roll-out, age, special housing and
possibly on health, and only the measured part is adjusted. Unit of analysis: person-time.

Adjustment terms (``adjust``): ``"age"`` (bands 0-19, 20-64, then five-year bands to 90+, at mid-year),
``"sex"``, ``"conditions"`` (number of chronic condition groups of Socialstyrelsen's avoidable list,
DEFINITIONS.md §3.1, recorded as main diagnosis of any admission before the year: 0, 1, 2+; a
register proxy of multimorbidity) and always the calendar year.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from naravard_analysis.errors import ParameterError, SchemaError
from naravard_analysis.methods.person_time import _SHIFT, days, outcome_events, person_frame

__all__ = ["listing_effect", "ListingEffect", "ADJUST"]

ADJUST = ("age", "sex", "conditions")
_YEAR = 365.25
_AGE_EDGES = np.array([20, 65, 70, 75, 80, 85, 90])
_AGE_LABELS = np.array(["0-19", "20-64", "65-69", "70-74", "75-79", "80-84", "85-89", "90+"])
_Z = float(stats.norm.ppf(0.975))


@dataclass
class ListingEffect:
    """Result of :func:`listing_effect`.

    Attributes
    ----------
    estimate, lower, upper, p_value
        Adjusted rate ratio (with vs without a named doctor) and its 95 % interval.
    crude
        Unadjusted rate ratio.
    cells
        The aggregated person-time table the model was fitted to (``events``, ``person_years``
        by year, the adjustment variables and ``exposed``); aggregate, safe to suppress and publish.
    totals
        Events, person-years and rates with and without a named doctor.
    outcome, adjust
        What was estimated.
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

    def summary(self, language: str = "sv") -> str:
        """One-paragraph summary in Swedish or English."""
        from naravard_analysis.report.labels import format_number, label

        def f(v: float) -> str:
            return format_number(v, language, decimals=2)

        if language == "sv":
            return (f"{label(self.outcome, 'sv')}: kvot med/utan fast läkarkontakt {f(self.estimate)} "
                    f"(95 % KI {f(self.lower)}–{f(self.upper)}; ojusterad {f(self.crude)}), justerat för "
                    f"år och {', '.join(self.adjust) or 'inget annat'}. Ett samband, inte en bevisad effekt.")
        return (f"{label(self.outcome, 'en')}: rate ratio with/without a named doctor {f(self.estimate)} "
                f"(95% CI {f(self.lower)}-{f(self.upper)}; crude {f(self.crude)}), adjusted for year and "
                f"{', '.join(self.adjust) or 'nothing else'}. An association, not a proven effect.")


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


def _conditions_before(data, pf, year_starts: np.ndarray) -> np.ndarray:
    """Chronic condition groups (main diagnosis of an earlier admission) per person and year start."""
    from naravard_analysis.indicators.avoidable import flag_avoidable

    flags = flag_avoidable(data.admissions, data.persons, unit="admission", min_age=0)
    groups = [c for c in ("heart_failure", "copd", "asthma", "diabetes", "hypertension", "angina", "anemia")
              if c in flags]
    code = pf.codes(flags["person_id"], "admissions")
    day = days(flags["admission_date"])
    out = np.zeros((len(pf.ids), len(year_starts)), np.int64)
    for g in groups:  # a handful of condition groups, each vectorised over all admissions
        m = flags[g].to_numpy(bool)
        first = np.full(len(pf.ids), np.iinfo(np.int64).max)
        np.minimum.at(first, code[m], day[m])
        out += first[:, None] < year_starts[None, :]
    return out


def listing_effect(
    data,
    *,
    outcome: str = "avoidable_admissions",
    adjust: Sequence[str] = ADJUST,
) -> ListingEffect:
    """Rate ratio of an outcome with vs without a named doctor (time-varying exposure).

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
    return ListingEffect(estimate=float(np.exp(b)), lower=float(np.exp(b - _Z * se)),
                         upper=float(np.exp(b + _Z * se)), p_value=float(2 * stats.norm.sf(abs(b / se))),
                         crude=crude, cells=cells, totals=tot, outcome=outcome, adjust=adjust)
