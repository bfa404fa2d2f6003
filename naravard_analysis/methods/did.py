"""Staggered difference-in-differences (Callaway & Sant'Anna 2021) for roll-outs over units and years.

Typical use: avoidable admissions 65+ per municipality and year while mobile teams start in different
municipalities in different years. Each municipality belongs to the *group* (cohort) of the year its
team started; ``ATT(g, t)`` is the average effect in year ``t`` for the municipalities that started in
year ``g``, estimated by a 2×2 difference-in-differences against a comparison group that is not (yet)
treated. The ATT(g, t) are then aggregated by event time, cohort or calendar year.

Source: methods reference §7.3 (Callaway & Sant'Anna, J Econometrics 2021;225(2):200–230) and §7.4
(Sant'Anna & Zhao, J Econometrics 2020;219(1):101–122). The numbers reproduce the authors' R package
`did` (2.5.0), which calls `DRDID::drdid_panel`, `DRDID::std_ipw_did_panel` and `DRDID::reg_did_panel`
for each cell; see ``naravard_analysis/data/reference/did/PROVENANCE.md`` and ``tests/methods/test_did.py``.

Implemented from the papers and the documented behaviour of R `did`; no code of the GPL R package is
copied. Only numpy/scipy are used: the PyPI port ``csdid`` (0.4.3) was considered but declares plotnine,
joblib, patsy and twine as run-time dependencies, and its own parity tests accept 1e-4/3 % differences.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from naravard_analysis.core.results import ResultDisplay
from naravard_analysis.errors import DataWarning, ParameterError, SchemaError

__all__ = ["staggered_did", "StaggeredDiDResult", "AggregatedEffect"]

_TABLE = "panel"
_EPS = np.finfo(float).eps
# R `did` reports a standard error below this as NA (numerically zero, e.g. the base-period cell).
_SE_ZERO = np.sqrt(_EPS) * 10
# DRDID drops comparison units whose propensity score is at or above this (`trim.level`).
_TRIM_LEVEL = 0.995
_CONTROL_ALIASES = {"never": "never", "nevertreated": "never", "notyet": "notyet",
                    "notyettreated": "notyet"}


# ------------------------------------------------------------------------------------------------
# Results
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True, repr=False)
class AggregatedEffect(ResultDisplay):
    """One aggregation of the ATT(g, t) (see :meth:`StaggeredDiDResult.aggregate`; result protocol).

    Attributes
    ----------
    kind
        ``"simple"``, ``"dynamic"``, ``"group"`` or ``"calendar"``.
    att, se, lower, upper
        Overall effect, its analytic standard error and pointwise ``level`` interval.
    table
        Per-period effects for the non-simple kinds: first column ``event_time`` (dynamic), ``group``
        (group) or ``time`` (calendar), then ``att``, ``se``, ``lower``, ``upper``; for simple one
        row ``att``, ``se``, ``lower``, ``upper``.
    level
        Confidence level of the intervals.
    settings
        ``kind`` and ``level``.
    """

    kind: str
    att: float
    se: float
    lower: float
    upper: float
    table: pd.DataFrame
    level: float
    influence: np.ndarray = field(repr=False, compare=False)

    _TITLE = {"en": "Aggregated ATT(g, t) (Callaway & Sant'Anna 2021)",
              "sv": "Aggregerad ATT(g, t) (Callaway & Sant'Anna 2021)"}

    @property
    def settings(self) -> dict:
        return {"kind": self.kind, "level": self.level}

    def _repr_html_(self) -> str:  # pragma: no cover - JupyterLab display
        head = (f"<p><b>{self.kind}</b> ATT = {self.att:.4g} (SE {self.se:.4g}; "
                f"{self.level:.0%} CI {self.lower:.4g} to {self.upper:.4g})</p>")
        return head + ("" if self.table is None else self.table.to_html(index=False))

    def __repr__(self) -> str:
        return f"<AggregatedEffect {self.kind} ATT={self.att:.4g} se={self.se:.4g}>"


@dataclass(frozen=True, repr=False)
class StaggeredDiDResult(ResultDisplay):
    """Group-time average treatment effects with their influence functions (result protocol).

    Attributes
    ----------
    att_gt
        One row per (group, time) cell: ``group``, ``time``, ``att``, ``se``, ``lower``, ``upper``
        (pointwise intervals at ``level``). Cells that cannot be estimated (no comparison units,
        overlap violated) have NaN and were announced by a :class:`DataWarning`.
    n_units
        Units used (after the exclusions counted in ``excluded``).
    excluded
        Counts of units left out or recoded, by reason.
    influence
        ``n_units × len(att_gt)`` matrix of the cells' influence functions (rows in the order of
        ``unit_ids``); ``se = sqrt(mean(IF²) / n)``.
    table
        ``att_gt`` (the protocol's estimates table).
    settings
        ``control_group``, ``estimator``, ``base_period``, ``anticipation``, ``level``, ``n_units``
        and the ``excluded`` counts.
    """

    att_gt: pd.DataFrame
    n_units: int
    control_group: str
    estimator: str
    base_period: str
    anticipation: int
    level: float
    excluded: dict[str, int]
    periods: np.ndarray = field(repr=False)
    unit_ids: np.ndarray = field(repr=False)
    unit_group: np.ndarray = field(repr=False)
    influence: np.ndarray = field(repr=False, compare=False)

    _TITLE = {"en": "Group-time average treatment effects ATT(g, t) (Callaway & Sant'Anna 2021)",
              "sv": "Genomsnittliga behandlingseffekter per grupp och tid ATT(g, t) (Callaway & Sant'Anna 2021)"}

    @property
    def table(self) -> pd.DataFrame:
        return self.att_gt

    @property
    def settings(self) -> dict:
        return {"control_group": self.control_group, "estimator": self.estimator,
                "base_period": self.base_period, "anticipation": self.anticipation,
                "level": self.level, "n_units": self.n_units, "excluded": dict(self.excluded)}

    # -- aggregation --------------------------------------------------------------------------
    def aggregate(
        self,
        kind: Literal["simple", "dynamic", "group", "calendar"] = "simple",
        *,
        min_e: float = -np.inf,
        max_e: float = np.inf,
    ) -> AggregatedEffect:
        """Aggregate the ATT(g, t) as R ``did::aggte`` does, with analytic standard errors.

        Weights are cohort shares P(G = g | ...) estimated from the data (methods reference §7.3):

        - ``simple``: Σ ATT(g, t)·P(G = g) / Σ P(G = g) over post-treatment cells (t ≥ g).
        - ``group``: θ(g) = mean of ATT(g, t) over t ≥ g; overall Σ_g θ(g)·P(G = g | G ≤ T).
        - ``dynamic``: θ(e) = Σ_g ATT(g, g + e)·P(G = g | G + e ≤ T) for every event time e = t − g
          (negative e are pre-trend placebos); overall = mean of θ(e) over e ≥ 0.
        - ``calendar``: θ(t) = Σ_{g ≤ t} ATT(g, t)·P(G = g | G ≤ t) for t ≥ first cohort; overall =
          mean of θ(t).

        The influence function of each aggregate is the weighted sum of the cells' influence functions
        plus, where weights are estimated shares, the influence function of the weights (the ``wif`` of
        R ``did``); the overall group/dynamic/calendar effects combine the per-period influence functions.

        Parameters
        ----------
        kind
            Which aggregation.
        min_e, max_e
            Event-time window, as in R: ``max_e`` limits the post-treatment cells used by simple, group
            and dynamic; ``min_e`` limits the event times of dynamic.
        """
        if kind not in ("simple", "dynamic", "group", "calendar"):
            raise ParameterError(f"aggregate: kind must be 'simple', 'dynamic', 'group' or "
                                 f"'calendar', got {kind!r}")
        tab = self.att_gt
        ok = tab["att"].notna().to_numpy()
        if not ok.all():
            warnings.warn(f"{int((~ok).sum())} ATT(g, t) cells could not be estimated and are left out "
                          "of the aggregation", DataWarning, stacklevel=2)
        group = tab["group"].to_numpy(float)[ok]
        time = tab["time"].to_numpy(float)[ok]
        att = tab["att"].to_numpy(float)[ok]
        inf = self.influence[:, ok]
        n = self.n_units
        glist = np.unique(group)
        shares = np.array([np.mean(self.unit_group == g) for g in glist])
        pg = shares[np.searchsorted(glist, group)]
        # group/time/event comparisons use the ranks of all period and group values, as R does
        ranks = np.unique(np.concatenate([self.periods, glist]))
        g_r, t_r = np.searchsorted(ranks, group), np.searchsorted(ranks, time)
        unit_r = np.full(self.unit_group.shape, -1)
        finite = np.isfinite(self.unit_group)
        unit_r[finite] = np.searchsorted(ranks, self.unit_group[finite])
        z = stats.norm.ppf(0.5 + self.level / 2)

        def combine(keep: np.ndarray, weights: np.ndarray, with_wif: bool) -> tuple[float, np.ndarray]:
            est = float(np.sum(att[keep] * weights))
            infl = inf[:, keep] @ weights
            if with_wif:
                infl = infl + _weights_influence(unit_r, g_r[keep], pg[keep]) @ att[keep]
            return est, infl

        def per_period(label: str, keys: np.ndarray, parts: list[tuple[float, np.ndarray]]):
            est = np.array([p[0] for p in parts])
            infl = np.column_stack([p[1] for p in parts]) if parts else np.zeros((n, 0))
            se = _se(infl, n)
            frame = pd.DataFrame({label: keys, "att": est, "se": se,
                                  "lower": est - z * se, "upper": est + z * se})
            return frame, est, infl

        post = (g_r <= t_r) & (time - group <= max_e)
        if kind == "simple":
            w = pg[post] / pg[post].sum()
            est, infl = combine(post, w, with_wif=True)
            table = None  # the one-row table is built below, once the standard error is known
        elif kind == "group":
            keys = np.array([g for g in glist if np.any(post & (group == g))])
            parts = []
            for g in keys:
                keep = post & (group == g)
                parts.append(combine(keep, np.full(keep.sum(), 1 / keep.sum()), with_wif=False))
            table, est_g, inf_g = per_period("group", keys, parts)
            pgg = shares[np.searchsorted(glist, keys)]
            est = float(np.sum(est_g * pgg) / pgg.sum())
            wif = _weights_influence(unit_r, np.searchsorted(ranks, keys), pgg)
            infl = inf_g @ (pgg / pgg.sum()) + wif @ est_g
        elif kind == "dynamic":
            event = time - group
            keys = np.unique(event)
            keys = keys[(keys >= min_e) & (keys <= max_e)]
            parts = []
            for e in keys:
                keep = event == e
                parts.append(combine(keep, pg[keep] / pg[keep].sum(), with_wif=True))
            table, est_e, inf_e = per_period("event_time", keys, parts)
            pos = keys >= 0
            est = float(np.mean(est_e[pos])) if pos.any() else np.nan
            infl = inf_e[:, pos].mean(axis=1) if pos.any() else np.full(n, np.nan)
        else:  # calendar
            keys = self.periods[self.periods >= group.min()]
            keys = np.array([t for t in keys if np.any((time == t) & (g_r <= t_r))])
            parts = []
            for t in keys:
                keep = (time == t) & (g_r <= t_r)
                parts.append(combine(keep, pg[keep] / pg[keep].sum(), with_wif=True))
            table, est_t, inf_t = per_period("time", keys, parts)
            est = float(np.mean(est_t))
            infl = inf_t.mean(axis=1)
        if table is not None:
            table = _as_int_column(table, table.columns[0])
        se = float(_se(infl[:, None], n)[0])
        if table is None:
            table = pd.DataFrame({"att": [est], "se": [se], "lower": [est - z * se],
                                  "upper": [est + z * se]})
        return AggregatedEffect(kind=kind, att=est, se=se, lower=est - z * se, upper=est + z * se,
                                table=table, level=self.level, influence=infl)

    # -- pre-trend test --------------------------------------------------------------------------
    def pretest(self) -> dict[str, float]:
        """Wald test that all pre-treatment ATT(g, t) (cells with t < g) are zero.

        W = n · a' V⁻¹ a with a the pre-treatment ATT(g, t) and V = IF'IF / n their influence-function
        covariance; p-value from χ² with as many degrees of freedom as cells (R ``did``'s ``W``/``Wpval``;
        methods reference §7.3 "Pre-trend check"). Cells with NaN or zero standard error are left out.

        Returns
        -------
        dict with ``W``, ``df`` and ``p_value`` (NaN when there are no usable pre-treatment cells or
        their covariance is singular).
        """
        tab = self.att_gt
        pre = ((tab["group"] > tab["time"]) & tab["se"].notna()).to_numpy()
        n = self.n_units
        a = tab["att"].to_numpy(float)[pre]
        if a.size == 0:
            return {"W": np.nan, "df": 0, "p_value": np.nan}
        inf = self.influence[:, pre]
        v = inf.T @ inf / n
        if np.linalg.cond(v) * _EPS >= 1:
            warnings.warn("pre-test: covariance of the pre-treatment ATT(g, t) is singular",
                          DataWarning, stacklevel=2)
            return {"W": np.nan, "df": int(a.size), "p_value": np.nan}
        w = float(n * a @ np.linalg.solve(v, a))
        return {"W": w, "df": int(a.size), "p_value": float(stats.chi2.sf(w, a.size))}

    def _repr_html_(self) -> str:  # pragma: no cover - JupyterLab display
        head = (f"<p>Callaway–Sant'Anna ATT(g, t): {self.n_units} units, estimator "
                f"{self.estimator!r}, comparison {self.control_group!r}, base period "
                f"{self.base_period!r}, anticipation {self.anticipation}</p>")
        return head + self.att_gt.to_html(index=False)

    def __repr__(self) -> str:
        return (f"<StaggeredDiDResult units={self.n_units} ATT(g,t) cells={len(self.att_gt)} "
                f"control={self.control_group} estimator={self.estimator}>")


# ------------------------------------------------------------------------------------------------
# Main entry point
# ------------------------------------------------------------------------------------------------
def staggered_did(
    panel: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    first_treated: str,
    control_group: Literal["never", "notyet"] = "never",
    estimator: Literal["dr", "ipw", "reg", "dr_imp"] = "dr",
    covariates: list[str] | tuple[str, ...] | str | None = None,
    anticipation: int = 0,
    base_period: Literal["varying", "universal"] = "varying",
    level: float = 0.95,
) -> StaggeredDiDResult:
    """Callaway & Sant'Anna (2021) group-time average treatment effects on a balanced panel.

    For each cohort g (units first treated in period g) and period t::

        ATT(g, t) = E[Y_t − Y_b | G = g] − E[Y_t − Y_b | comparison],

    with base period b = g − 1 − anticipation for t ≥ g, and b = t − 1 for t < g (``"varying"``;
    ``"universal"`` uses g − 1 − anticipation for all t and reports ATT(g, b) = 0). Each cell is a 2×2
    estimate on the units of cohort g and the comparison units (methods reference §7.3–7.4):

    - ``"reg"``: outcome regression, ΔY on covariates fitted by OLS on comparison units, averaged over
      treated units (Heckman et al.; ``DRDID::reg_did_panel``).
    - ``"ipw"``: standardised (Hájek) inverse probability weighting with a logistic propensity score
      (``DRDID::std_ipw_did_panel``).
    - ``"dr"``: doubly robust, logistic propensity score + OLS outcome regression
      (Sant'Anna & Zhao 2020, eq. 3.1; ``DRDID::drdid_panel``, the estimator R ``did`` uses), with
      comparison units of propensity ≥ 0.995 trimmed as in DRDID.
    - ``"dr_imp"``: the *improved* locally efficient DR estimator of Sant'Anna & Zhao (2020, §3.1;
      ``DRDID::drdid_imp_panel``, methods reference §7.4): propensity score by inverse probability tilting
      (the comparison units' weights p/(1 − p) balance the covariate means of the treated exactly) and
      outcome regression by least squares weighted with p/(1 − p), so that the first-stage estimation
      adds nothing to the influence function. R ``did`` does not use it; it is not checked against R
      output here (no reference), only against its defining properties (see the tests).

    Without covariates the three coincide with the simple DiD of means. Standard errors come from the
    influence functions, scaled by n / n_cell because each cell uses a subset of the units, exactly as in
    R ``did`` (``bstrap = FALSE``); intervals are pointwise normal intervals.

    Parameters
    ----------
    panel
        Long data, one row per unit and period; must be balanced.
    outcome, unit, time, first_treated
        Column names. ``time`` and ``first_treated`` numeric (e.g. year); ``first_treated`` is the first
        period of treatment and constant within unit; 0, NaN or +inf mean never treated. Units first
        treated after the last period (+ anticipation) count as never treated, as in R ``did``.
    control_group
        ``"never"``: never-treated units only. ``"notyet"``: never-treated plus units not yet treated in
        period max(t, b) + anticipation, other than cohort g. (R names ``"nevertreated"``,
        ``"notyettreated"`` are accepted.)
    estimator
        ``"dr"`` (default, as R ``did``), ``"ipw"``, ``"reg"`` or ``"dr_imp"``.
    covariates
        Column name(s) of pre-treatment covariates; numeric columns enter linearly, text/categorical
        columns as dummies of all levels but the first (like R's ``model.matrix``). Time-varying values
        are taken from the earlier period of each 2×2 comparison.
    anticipation
        Number of periods before g in which effects may already show (δ).
    base_period
        ``"varying"`` (default, as R) or ``"universal"``.
    level
        Confidence level of the intervals.

    Returns
    -------
    StaggeredDiDResult
        ``.att_gt`` and ``.aggregate(kind)``; ``.pretest()`` for the pre-trend Wald test.

    Raises
    ------
    SchemaError
        Missing columns, non-numeric time/outcome, missing values, duplicate (unit, time) rows,
        ``first_treated`` varying within a unit, an unbalanced panel.
    ParameterError
        Unknown options, or no never-treated unit with ``control_group="never"``.

    Warns
    -----
    DataWarning
        Units already treated in the first period (+ anticipation) are dropped and counted, as R does;
        units first treated after the last period are used as never treated; cells that cannot be
        estimated are set to NaN.

    Examples
    --------
    >>> res = staggered_did(mpdta, outcome="lemp", unit="countyreal", time="year",
    ...                     first_treated="first.treat")                  # doctest: +SKIP
    >>> res.aggregate("dynamic").table                                     # doctest: +SKIP
    """
    control = _CONTROL_ALIASES.get(control_group) if isinstance(control_group, str) else None
    if control is None:
        raise ParameterError(f"control_group must be 'never' or 'notyet', got {control_group!r}")
    if estimator not in ("dr", "ipw", "reg", "dr_imp"):
        raise ParameterError(f"estimator must be 'dr', 'ipw', 'reg' or 'dr_imp', got {estimator!r}")
    if base_period not in ("varying", "universal"):
        raise ParameterError(f"base_period must be 'varying' or 'universal', got {base_period!r}")
    if isinstance(anticipation, bool) or not isinstance(anticipation, int | np.integer) \
            or anticipation < 0:
        raise ParameterError(f"anticipation must be a non-negative integer, got {anticipation!r}")
    if not (isinstance(level, float | int) and 0 < level < 1):
        raise ParameterError(f"level must be between 0 and 1, got {level!r}")
    covs = [covariates] if isinstance(covariates, str) else list(covariates or [])

    prep = _prepare(panel, outcome, unit, time, first_treated, covs, control, anticipation)
    return _estimate(prep, control, estimator, base_period, int(anticipation), float(level))


# ------------------------------------------------------------------------------------------------
# Data preparation
# ------------------------------------------------------------------------------------------------
@dataclass
class _Prepared:
    y: np.ndarray  # n × T outcomes
    x: np.ndarray  # T × n × k design (intercept first)
    g: np.ndarray  # n cohort (inf = never treated)
    periods: np.ndarray
    glist: np.ndarray
    unit_ids: np.ndarray
    excluded: dict[str, int]


def _prepare(panel, outcome, unit, time, first_treated, covs, control, anticipation) -> _Prepared:
    if not isinstance(panel, pd.DataFrame):
        raise ParameterError(f"panel must be a pandas DataFrame, got {type(panel).__name__}")
    needed = [outcome, unit, time, first_treated, *covs]
    missing = [c for c in dict.fromkeys(needed) if c not in panel.columns]
    if missing:
        raise SchemaError(_TABLE, ", ".join(map(str, missing)), "required column missing")
    if len(panel) == 0:
        raise SchemaError(_TABLE, None, "panel has no rows")
    for col in (outcome, time, first_treated):
        if not pd.api.types.is_numeric_dtype(panel[col]) or pd.api.types.is_bool_dtype(panel[col]):
            raise SchemaError(_TABLE, col, f"must be numeric, got dtype {panel[col].dtype}")
    for col in dict.fromkeys([outcome, unit, time, *covs]):
        bad = np.flatnonzero(panel[col].isna().to_numpy())
        if bad.size:
            raise SchemaError(_TABLE, col, "missing values are not allowed", bad.size, bad)
    yv = panel[outcome].to_numpy(dtype=float, na_value=np.nan)
    bad = np.flatnonzero(~np.isfinite(yv))
    if bad.size:
        raise SchemaError(_TABLE, outcome, "must be finite", bad.size, bad)

    ucodes, unit_ids = pd.factorize(panel[unit], sort=True)
    tvals = panel[time].to_numpy(dtype=float, na_value=np.nan)
    periods, tcodes = np.unique(tvals, return_inverse=True)
    n_all, n_t = len(unit_ids), len(periods)

    dup = pd.Series(ucodes * n_t + tcodes).duplicated(keep=False).to_numpy()
    if dup.any():
        pos = np.flatnonzero(dup)
        raise SchemaError(_TABLE, f"{unit}, {time}", "each unit may appear once per period",
                          pos.size, pos)

    # nullable integer columns: pd.NA (never treated) becomes NaN
    gv = panel[first_treated].to_numpy(dtype=float, na_value=np.nan)
    gv = np.where(np.isnan(gv) | (gv == 0), np.inf, gv)
    # first_treated must be constant within a unit (treatment is absorbing and assigned once)
    gmin = np.full(n_all, np.inf)
    gmax = np.full(n_all, -np.inf)
    np.minimum.at(gmin, ucodes, gv)
    np.maximum.at(gmax, ucodes, gv)
    varying = gmin != gmax
    if varying.any():
        pos = np.flatnonzero(varying[ucodes])
        raise SchemaError(_TABLE, first_treated,
                          f"must be constant within each unit; {int(varying.sum())} units have more "
                          "than one value", pos.size, pos)

    counts = np.bincount(ucodes, minlength=n_all)
    short = counts < n_t
    if short.any():
        pos = np.flatnonzero(short[ucodes])
        raise SchemaError(_TABLE, f"{unit}, {time}",
                          f"panel is unbalanced: {int(short.sum())} of {n_all} units are not observed "
                          f"in all {n_t} periods", pos.size, pos,
                          hint="balance the panel (or fill the missing unit-periods) before estimating")

    y = np.empty((n_all, n_t))
    y[ucodes, tcodes] = yv
    g = gmin
    excluded: dict[str, int] = {}

    late = np.isfinite(g) & (g > periods[-1] + anticipation)
    if late.any():
        excluded["treated_after_last_period_used_as_never_treated"] = int(late.sum())
        warnings.warn(f"{int(late.sum())} units are first treated after the last period "
                      f"({periods[-1]:g} + anticipation {anticipation}) and are used as never treated",
                      DataWarning, stacklevel=3)
        g = np.where(late, np.inf, g)

    x_long = _design(panel, covs)
    x = np.empty((n_t, n_all, x_long.shape[1]))
    x[tcodes, ucodes] = x_long

    if not np.isinf(g).any():
        if control == "never":
            raise ParameterError(
                "control_group='never' needs never-treated units, but every unit is treated within "
                f"the panel ({periods[0]:g}–{periods[-1]:g}); use control_group='notyet'")
        # as R `did`: the last cohort only serves as comparison, and periods from its start are dropped
        latest = g.max()
        keep_t = periods < latest - anticipation
        excluded["periods_dropped_no_never_treated"] = int((~keep_t).sum())
        warnings.warn(f"no never-treated units: cohort {latest:g} is used only as comparison and the "
                      f"{int((~keep_t).sum())} periods from {latest - anticipation:g} on are dropped",
                      DataWarning, stacklevel=3)
        periods, y, x = periods[keep_t], y[:, keep_t], x[keep_t]
        if periods.size < 2:
            raise SchemaError(_TABLE, time, "fewer than two periods before the last cohort starts")

    first = np.isfinite(g) & (g <= periods[0] + anticipation)
    if first.any():
        excluded["treated_in_first_period"] = int(first.sum())
        warnings.warn(f"Dropped {int(first.sum())} units that were already treated in the first period "
                      f"({periods[0]:g}" + (f" + anticipation {anticipation}" if anticipation else "")
                      + ") and have no pre-treatment period", DataWarning, stacklevel=3)
        keep = ~first
        y, x, g, unit_ids = y[keep], x[:, keep], g[keep], unit_ids[keep]

    glist = np.unique(g[np.isfinite(g)])
    if not np.isinf(g).any():
        glist = glist[glist < g.max()]
    if glist.size == 0:
        raise SchemaError(_TABLE, first_treated, "no treated cohort with a pre-treatment period")
    if periods.size < 2:
        raise SchemaError(_TABLE, time, "at least two periods are needed")
    return _Prepared(y=y, x=x, g=g, periods=periods, glist=glist,
                     unit_ids=np.asarray(unit_ids), excluded=excluded)


def _design(panel: pd.DataFrame, covs: list[str]) -> np.ndarray:
    """Model matrix [1, covariates] in row order (text columns as treatment-coded dummies)."""
    parts = [np.ones((len(panel), 1))]
    for c in covs:
        col = panel[c]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            parts.append(col.to_numpy(dtype=float, na_value=np.nan)[:, None])
        else:
            codes, levels = pd.factorize(col, sort=True)
            if len(levels) > 1:
                parts.append((codes[:, None] == np.arange(1, len(levels))[None, :]).astype(float))
    return np.hstack(parts)


# ------------------------------------------------------------------------------------------------
# Estimation over (g, t) cells
# ------------------------------------------------------------------------------------------------
def _estimate(prep: _Prepared, control, estimator, base_period, anticipation, level):
    y, x, g, periods, glist = prep.y, prep.x, prep.g, prep.periods, prep.glist
    n, n_t = y.shape
    tfac = 1 if base_period == "varying" else 0
    never = np.isinf(g)
    rows, infs = [], []
    for gv in glist:
        treated = g == gv
        pre_idx = np.flatnonzero(periods + anticipation < gv)
        pret_g = int(pre_idx[-1])  # exists: cohorts treated in the first period were dropped
        for ti in range(n_t - tfac):
            cur = ti + tfac
            post = gv <= periods[cur]
            base = pret_g if (post or base_period == "universal") else ti
            if base_period == "universal" and base == cur:
                rows.append((gv, periods[cur], 0.0))
                infs.append(np.zeros(n))
                continue
            if control == "never":
                comp = never
            else:
                cutoff = periods[max(ti, base) + tfac] + anticipation
                comp = never | ((g > cutoff) & ~treated)
            idx = treated | comp
            label = f"ATT({gv:g}, {periods[cur]:g})"
            if not comp.any():
                warnings.warn(f"{label}: no comparison units; set to NaN", DataWarning, stacklevel=3)
                rows.append((gv, periods[cur], np.nan))
                infs.append(np.full(n, np.nan))
                continue
            dy = y[idx, cur] - y[idx, base]
            d = treated[idx].astype(float)
            xc = x[min(base, cur)][idx]
            att, inf = _two_by_two(dy, d, xc, estimator, label)
            full = np.zeros(n)
            full[idx] = inf * (n / idx.sum())
            rows.append((gv, periods[cur], att))
            infs.append(full)

    inf_mat = np.column_stack(infs)
    tab = pd.DataFrame(rows, columns=["group", "time", "att"])
    se = _se(inf_mat, n)
    se[~np.isfinite(tab["att"].to_numpy())] = np.nan
    z = stats.norm.ppf(0.5 + level / 2)
    tab["se"] = se
    tab["lower"] = tab["att"] - z * tab["se"]
    tab["upper"] = tab["att"] + z * tab["se"]
    tab = _as_int_column(_as_int_column(tab, "group"), "time")
    return StaggeredDiDResult(
        att_gt=tab, n_units=n, control_group=control, estimator=estimator, base_period=base_period,
        anticipation=anticipation, level=level, excluded=prep.excluded, periods=periods,
        unit_ids=prep.unit_ids, unit_group=g, influence=np.nan_to_num(inf_mat, nan=0.0),
    )


def _se(inf: np.ndarray, n: int) -> np.ndarray:
    """sqrt(mean(IF²)/n) per column; numerically zero values become NaN (as R `did`)."""
    se = np.sqrt(np.mean(inf**2, axis=0) / n)
    se[se <= _SE_ZERO] = np.nan
    return se


def _weights_influence(unit_rank: np.ndarray, cell_rank: np.ndarray, pg: np.ndarray) -> np.ndarray:
    """Influence function of estimated weights w_k = p_k / Σ p (R `did`'s ``wif``), n × K.

    p_k = P(G = g_k) is estimated by the share of units in cohort g_k, whose influence function is
    1{G_i = g_k} − p_k; the delta method for the ratio gives the two terms below.
    """
    s = pg.sum()
    dev = (unit_rank[:, None] == cell_rank[None, :]).astype(float) - pg[None, :]
    return dev / s - np.outer(dev.sum(axis=1), pg / s**2)


def _as_int_column(frame: pd.DataFrame, col: str) -> pd.DataFrame:
    v = frame[col].to_numpy(float)
    if np.all(np.isfinite(v)) and np.all(v == np.round(v)):
        frame = frame.assign(**{col: v.astype(np.int64)})
    return frame


# ------------------------------------------------------------------------------------------------
# 2×2 panel estimators (Sant'Anna & Zhao 2020; R DRDID *_panel) with their influence functions
# ------------------------------------------------------------------------------------------------
def _two_by_two(dy, d, xc, estimator, label) -> tuple[float, np.ndarray]:
    n1 = dy.size
    ctrl = d == 0
    if estimator in ("dr", "ipw", "dr_imp"):
        ps, hess = _logit(d, xc)
        if ps.max() >= 0.999:  # R `did`'s overlap check: the cell is not estimated
            warnings.warn(f"{label}: overlap condition violated (propensity score ≥ 0.999); "
                          "set to NaN", DataWarning, stacklevel=4)
            return np.nan, np.full(n1, np.nan)
    if estimator == "dr_imp":
        return _dr_improved(dy, d, xc)
    if estimator in ("dr", "reg"):
        xtx = xc[ctrl].T @ xc[ctrl]
        if 1.0 / np.linalg.cond(xtx, 1) < _EPS:
            warnings.warn(f"{label}: not enough comparison units to fit the outcome regression; "
                          "set to NaN", DataWarning, stacklevel=4)
            return np.nan, np.full(n1, np.nan)
        beta = np.linalg.solve(xtx, xc[ctrl].T @ dy[ctrl])
        fit = xc @ beta
        # asymptotically linear representation of the OLS coefficients (controls only)
        w_ols = (1 - d)[:, None]
        alr_ols = (w_ols * (dy - fit)[:, None] * xc) @ np.linalg.inv((w_ols * xc).T @ xc / n1)

    if estimator == "reg":
        w_t = d
        eta_t = np.mean(w_t * dy) / np.mean(w_t)
        eta_c = np.mean(w_t * fit) / np.mean(w_t)
        inf_t = (w_t * dy - w_t * eta_t) / np.mean(w_t)
        inf_c1 = w_t * fit - w_t * eta_c
        inf_c2 = alr_ols @ np.mean(w_t[:, None] * xc, axis=0)
        inf_c = (inf_c1 + inf_c2) / np.mean(w_t)
        return float(eta_t - eta_c), inf_t - inf_c

    ps = np.minimum(ps, 1 - 1e-6)
    trim = np.where(ctrl, ps < _TRIM_LEVEL, True).astype(float)
    w_t = trim * d
    w_c = trim * ps * (1 - d) / (1 - ps)
    alr_ps = ((d - ps)[:, None] * xc) @ hess

    if estimator == "ipw":
        eta_t = np.mean(w_t * dy) / np.mean(w_t)
        eta_c = np.mean(w_c * dy) / np.mean(w_c)
        inf_t = (w_t * dy - w_t * eta_t) / np.mean(w_t)
        inf_c1 = w_c * dy - w_c * eta_c
        inf_c2 = alr_ps @ np.mean((w_c * (dy - eta_c))[:, None] * xc, axis=0)
        inf_c = (inf_c1 + inf_c2) / np.mean(w_c)
        return float(eta_t - eta_c), inf_t - inf_c

    # doubly robust (locally efficient, eq. 3.1 of Sant'Anna & Zhao; DRDID::drdid_panel)
    resid = dy - fit
    eta_t = np.mean(w_t * resid) / np.mean(w_t)
    eta_c = np.mean(w_c * resid) / np.mean(w_c)
    inf_t1 = w_t * resid - w_t * eta_t
    inf_t2 = alr_ols @ np.mean(w_t[:, None] * xc, axis=0)
    inf_t = (inf_t1 - inf_t2) / np.mean(w_t)
    inf_c1 = w_c * resid - w_c * eta_c
    inf_c2 = alr_ps @ np.mean((w_c * (resid - eta_c))[:, None] * xc, axis=0)
    inf_c3 = alr_ols @ np.mean(w_c[:, None] * xc, axis=0)
    inf_c = (inf_c1 + inf_c2 - inf_c3) / np.mean(w_c)
    return float(eta_t - eta_c), inf_t - inf_c


def _dr_improved(dy: np.ndarray, d: np.ndarray, xc: np.ndarray) -> tuple[float, np.ndarray]:
    """Improved DR panel estimator (Sant'Anna & Zhao 2020, §3.1; ``DRDID::drdid_imp_panel``).

    Propensity score by inverse probability tilting, outcome regression weighted by p/(1 − p) on the
    comparison units; with these first stages the influence function has no estimation-effect terms.
    """
    ctrl = d == 0
    ps = _ipt_pscore(d, xc)
    odds = ps / (1 - ps)
    # outcome regression on comparison units weighted by the odds
    wc = np.where(ctrl, odds, 0.0)
    beta = np.linalg.lstsq((wc[:, None] * xc).T @ xc, xc.T @ (wc * dy), rcond=None)[0]
    resid = dy - xc @ beta
    trim = np.where(ctrl, ps < _TRIM_LEVEL, True).astype(float)
    w_t = trim * d
    w_c = trim * odds * (1 - d)
    summand = (w_t - w_c) * resid
    att = np.mean(summand) / np.mean(w_t)
    return float(att), (summand - w_t * att) / np.mean(w_t)


def _ipt_pscore(d: np.ndarray, xc: np.ndarray) -> np.ndarray:
    """Propensity score by inverse probability tilting (Graham, Pinto & Egel 2012), capped at 1 − 1e-6.

    γ minimises mean((1 − D)·exp(Xγ) − D·Xγ) (convex), whose first-order condition
    Σ_{D=0} exp(X_iγ) X_i = Σ_{D=1} X_i balances the covariates; p = expit(Xγ), so p/(1 − p) = exp(Xγ).
    """
    n1 = d.size
    gamma = np.zeros(xc.shape[1])
    gamma[0] = np.log(d.sum() / (n1 - d.sum()))  # exact solution with an intercept only

    def loss(gm):
        eta = np.clip(xc @ gm, -35, 35)
        return np.mean((1 - d) * np.exp(eta) - d * eta)

    for _ in range(100):
        e = (1 - d) * np.exp(np.clip(xc @ gamma, -35, 35))
        step = np.linalg.lstsq((e[:, None] * xc).T @ xc / n1, xc.T @ (e - d) / n1, rcond=None)[0]
        size, current = 1.0, loss(gamma)
        while loss(gamma - size * step) > current + 1e-15 and size > 1e-8:
            size /= 2  # convex loss: backtracking keeps Newton from overshooting
        gamma = gamma - size * step
        if np.max(np.abs(size * step)) < 1e-12 * (1 + np.max(np.abs(gamma))):
            break
    else:  # pragma: no cover - covariate balance has no solution (no overlap)
        warnings.warn("inverse probability tilting did not converge", DataWarning, stacklevel=5)
    return np.minimum(_expit(xc @ gamma), 1 - 1e-6)


def _logit(d: np.ndarray, xc: np.ndarray, tol: float = 1e-12, max_iter: int = 100):
    """Logistic regression by Newton–Raphson; returns fitted P(D = 1 | X) and n·(X'WX)⁻¹.

    n·(X'WX)⁻¹ is n times the GLM covariance (R ``vcov(glm) * n``), the inverse Hessian used in the
    propensity score's influence function.
    """
    n1, k = xc.shape
    if k == 1:  # intercept only: closed form
        p = np.full(n1, d.mean())
        return p, np.array([[n1 / (n1 * p[0] * (1 - p[0]))]])
    beta = np.zeros(k)
    converged = False
    for _ in range(max_iter):
        p = _expit(xc @ beta)
        w = p * (1 - p)
        step = np.linalg.lstsq((w[:, None] * xc).T @ xc, xc.T @ (d - p), rcond=None)[0]
        beta = beta + step
        if np.max(np.abs(step)) < tol * (1 + np.max(np.abs(beta))):
            converged = True
            break
    p = _expit(xc @ beta)
    # under separation the coefficients diverge; the overlap check (p >= 0.999) then voids the cell
    if not converged and p.max() < 0.999:
        warnings.warn("propensity-score model did not converge", DataWarning, stacklevel=5)
    w = p * (1 - p)
    return p, np.linalg.pinv((w[:, None] * xc).T @ xc) * n1


def _expit(eta: np.ndarray) -> np.ndarray:
    # clipped so that separated data do not overflow; |eta| = 35 is p = 1 - 6e-16
    return 1 / (1 + np.exp(-np.clip(eta, -35, 35)))
