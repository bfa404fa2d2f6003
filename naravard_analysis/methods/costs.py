"""Kronor value of an estimated intervention effect, with bootstrap intervals.

For each outcome with a unit cost, the events avoided per enrolled person-year are

    avoided = r_obs · (1 / RR − 1) = r_cf − r_obs,

where ``r_obs`` is the enrolled persons' observed rate after enrolment (per person-year) and ``RR``
the estimated rate ratio (the ratio of rate ratios of ``design="matched_did"``; for the default
``design="trial"`` the per-protocol ratio of the censoring-weighted rates, treated vs controls, of
:mod:`~naravard_analysis.methods.trial`; the before/after ratio of ``pre_post``), so ``r_cf = r_obs /
RR`` is their counterfactual rate without the intervention. Kronor per enrolled person-year =
``avoided × unit cost``; the total multiplies by the analysed person-years after enrolment; the
net value subtracts ``team_cost_per_person_year × person-years`` when given. Unit of analysis: the
enrolled person-year.

Intervals: nonparametric bootstrap over matched sets (a case with its controls; for ``pre_post``
the enrolled person; for ``trial`` the person, who may be a control in several monthly trials and
later be treated, as in the trial's person-clustered interval), percentile 95 % limits; the whole chain (rates, ratio, kronor, sum over
outcomes) is recomputed in every replicate, so the total's interval accounts for the correlation
between outcomes.

Unit costs are an **input**; there are no defaults. The seed reports (seeds 001 and 004) quote
totals (e.g. "16–24 mkr årligen" for about 90 patients in Södra Älvsborg, and 50 000 SEK of
short-term housing per person in Ronneby) but no cost per bed day, ED visit or admission, and no
other cited source is shipped. Take them from your region's cost-per-patient data (KPP) and keep
the source beside the figure. Avoid double counting: if the admission cost already includes the
bed days, value only one of the two.

Examples
--------
>>> value_effects(result, {"bed_days": 9000, "ed_visits": 3500,
...                        "team_cost_per_person_year": 40000})  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from naravard_analysis.errors import ParameterError

__all__ = ["value_effects", "TEAM_COST_KEY", "DESIGNS"]

TEAM_COST_KEY = "team_cost_per_person_year"
#: Designs of :func:`~naravard_analysis.methods.evaluation.evaluate_enrolments` that can be valued.
DESIGNS = ("trial", "matched_did", "pre_post")


def _check(result, unit_costs: Mapping[str, float], n_bootstrap: int) -> dict[str, float]:
    if not isinstance(unit_costs, Mapping) or not unit_costs:
        raise ParameterError("unit_costs must be a non-empty mapping outcome -> kronor per event "
                             "(there are no default unit costs: no cited Swedish source)")
    known = set(result.estimates.index) | {TEAM_COST_KEY}
    unknown = sorted(set(unit_costs) - known)
    if unknown:
        raise ParameterError(f"unit_costs: unknown key(s) {unknown}; the result has outcomes "
                             f"{sorted(result.estimates.index)} (plus {TEAM_COST_KEY!r})")
    out = {}
    for k, v in unit_costs.items():
        try:
            v = float(v)
        except (TypeError, ValueError) as exc:
            raise ParameterError(f"unit_costs[{k!r}] must be a number of kronor, got {v!r}") from exc
        if not np.isfinite(v) or v < 0:
            raise ParameterError(f"unit_costs[{k!r}] must be a finite number >= 0, got {v}")
        out[k] = v
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int | np.integer) or n_bootstrap < 0:
        raise ParameterError(f"n_bootstrap must be an integer >= 0, got {n_bootstrap!r}")
    if [k for k in out if k != TEAM_COST_KEY] == []:
        raise ParameterError("unit_costs holds only the team cost; give a cost for at least one outcome")
    design = getattr(result, "design", None)
    if design not in DESIGNS:
        raise ParameterError(f"value_effects values results of evaluate_enrolments with design in "
                             f"{DESIGNS}, got design {design!r}")
    need = ["py_post", *[f"post_{o}" for o in out if o != TEAM_COST_KEY]]
    if design != "trial":
        need += ["py_pre", *[f"pre_{o}" for o in out if o != TEAM_COST_KEY]]
    missing = [c for c in need if c not in result.units]
    if missing:
        raise ParameterError(f"value_effects: result.units (design {design!r}) lacks the column(s) "
                             f"{missing}; pass a result of evaluate_enrolments")
    return out


def _set_sums(units: pd.DataFrame, outcomes: list[str], design: str) -> tuple[np.ndarray, list[str]]:
    """Per resampling cluster (matched set; person for ``trial``): weighted sums of the columns the
    estimate needs (cases and controls)."""
    w = units["weight"].to_numpy(float)
    tr = units["treated"].to_numpy(bool)
    periods = ("post",) if design == "trial" else ("pre", "post")
    cols, names = [], []
    for who, m in (("c", tr), ("k", ~tr)):
        for base in [*[f"py_{p}" for p in periods], *[f"{p}_{o}" for o in outcomes for p in periods]]:
            cols.append(np.where(m, units[base].to_numpy(float) * w, 0.0))
            names.append(f"{who}_{base}")
    sid, _ = pd.factorize(units["code" if design == "trial" else "set_id"])
    mat = np.zeros((sid.max() + 1 if len(sid) else 0, len(cols)))
    np.add.at(mat, sid, np.column_stack(cols))
    return mat, names


def _values(S: np.ndarray, names: list[str], outcomes: list[str], costs: dict[str, float],
            design: str) -> np.ndarray:
    """Kronor per enrolled person-year for each outcome (last column: their sum); rows = replicates."""
    col = {n: S[..., i] for i, n in enumerate(names)}
    out = []
    with np.errstate(divide="ignore", invalid="ignore"):
        for o in outcomes:
            r_post = col[f"c_post_{o}"] / col["c_py_post"]
            if design == "trial":  # treated vs weighted controls over the same follow-up
                rr = r_post / (col[f"k_post_{o}"] / col["k_py_post"])
                out.append(r_post * (1 / rr - 1) * costs[o])
                continue
            rr = r_post / (col[f"c_pre_{o}"] / col["c_py_pre"])
            if design == "matched_did":
                rr = rr / ((col[f"k_post_{o}"] / col["k_py_post"]) / (col[f"k_pre_{o}"] / col["k_py_pre"]))
            out.append(r_post * (1 / rr - 1) * costs[o])
    v = np.stack(out, -1)
    return np.concatenate([v, v.sum(-1, keepdims=True)], -1)


def value_effects(result, unit_costs: Mapping[str, float], *, n_bootstrap: int = 1000,
                  seed: int = 0) -> pd.DataFrame:
    """Value an :class:`~naravard_analysis.methods.evaluation.EvaluationResult` in kronor.

    Parameters
    ----------
    result
        From :func:`~naravard_analysis.methods.evaluation.evaluate_enrolments`.
    unit_costs
        Kronor per event (per bed day for ``bed_days``) by outcome, and optionally
        ``"team_cost_per_person_year"`` (the intervention's cost per enrolled person-year).
    n_bootstrap
        Bootstrap replicates (0 = point estimates only).
    seed
        Seed of the bootstrap.

    Returns
    -------
    DataFrame
        Rows: each valued outcome, ``"total"`` (sum of the outcomes) and, with a team cost,
        ``"team_cost"`` and ``"net"``. Columns: ``unit_cost``, ``rate_ratio``,
        ``avoided_per_person_year`` (events or bed days), ``kronor_per_person_year`` with
        ``lower``/``upper``, ``kronor_total`` with ``total_lower``/``total_upper``,
        ``person_years`` (analysed enrolled person-years after enrolment).
        Positive kronor = care avoided (savings).
    """
    costs = _check(result, unit_costs, n_bootstrap)
    outcomes = [o for o in result.estimates.index if o in costs]
    S, names = _set_sums(result.units, outcomes, result.design)
    point = _values(S.sum(0), names, outcomes, costs, result.design)
    py = float(S[:, names.index("c_py_post")].sum())
    lo = hi = np.full(point.shape, np.nan)
    if n_bootstrap > 0 and len(S) > 1:
        rng = np.random.default_rng(seed)
        counts = rng.multinomial(len(S), np.full(len(S), 1 / len(S)), size=int(n_bootstrap))
        reps = counts @ S  # (B, columns): each replicate's sums over the resampled sets
        vals = _values(reps, names, outcomes, costs, result.design)
        py_rep = reps[:, names.index("c_py_post")]
        lo, hi = np.nanpercentile(vals, [2.5, 97.5], axis=0)
        tot_lo, tot_hi = np.nanpercentile(vals * py_rep[:, None], [2.5, 97.5], axis=0)
    else:
        tot_lo = tot_hi = lo
    rows = [*outcomes, "total"]
    e = result.estimates
    table = pd.DataFrame({
        "unit_cost": [costs[o] for o in outcomes] + [np.nan],
        "rate_ratio": [e.loc[o, "estimate"] for o in outcomes] + [np.nan],
        "avoided_per_person_year": [point[i] / costs[o] if costs[o] else np.nan
                                    for i, o in enumerate(outcomes)] + [np.nan],
        "kronor_per_person_year": point, "lower": lo, "upper": hi,
        "kronor_total": point * py, "total_lower": tot_lo, "total_upper": tot_hi,
        "person_years": py,
    }, index=pd.Index(rows, name="outcome"))
    if TEAM_COST_KEY in costs:
        c = costs[TEAM_COST_KEY]
        team = {"unit_cost": c, "kronor_per_person_year": -c, "lower": -c, "upper": -c,
                "kronor_total": -c * py, "total_lower": -c * py, "total_upper": -c * py, "person_years": py}
        net = table.loc["total"].copy()
        for k in ("kronor_per_person_year", "lower", "upper"):
            net[k] = net[k] - c
        for k in ("kronor_total", "total_lower", "total_upper"):
            net[k] = net[k] - c * py
        table.loc["team_cost"] = pd.Series(team)
        table.loc["net"] = net
    table.attrs["note"] = ("positive = care avoided; unit costs are inputs (no cited default); "
                           f"{n_bootstrap} bootstrap replicates over "
                           + ("persons" if result.design == "trial" else "matched sets"))
    return table
