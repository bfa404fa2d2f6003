"""fit_its: segmented-regression interrupted time series for Gaussian and count outcomes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from naravard_analysis.errors import ParameterError, SchemaError

from ._time import TimeAxis, axis_and_index
from .design import build_design
from .engines import LOG_FAMILIES, fit_engine
from .result import ITSResult

__all__ = ["fit_its"]

_TABLE = "its data"
FAMILIES = ("gaussian", *LOG_FAMILIES)


def fit_its(
    data: pd.DataFrame,
    *,
    outcome: str,
    time: str,
    interruption: Any,
    family: str = "gaussian",
    exposure: str | None = None,
    harmonics: int = 0,
    period: float = 12,
    season: str | None = None,
    slope_change: bool = True,
    cov_type: str = "nonrobust",
    hac_lags: int | None = None,
    group: str | None = None,
    treated: Any = None,
    interruptions: Sequence[Any] | dict[str, Any] | None = None,
    exclude: Any = None,
    errors: str = "iid",
    arima_order: tuple[int, int, int] = (1, 0, 0),
    mode: str = "segmented",
    level: float = 0.95,
) -> ITSResult:
    """Fit an interrupted time series by segmented regression (or a pre-period forecast).

    Model (methods reference §6.1-6.4; Linden 2015; Lopez Bernal, Cummins & Gasparrini 2017)::

        g(E[Y_t]) = [log exposure_t] + b0 + b1*T + b2*X + b3*X*(T - T_I) + seasonal + further breaks

    with T the number of periods since the first period of the data (0-based, as ``itsa`` >= 2.0.5; only
    the intercept depends on the origin), X = 1{T >= T_I}: **the interruption period belongs to the
    post period** (CausalPy convention, methods reference §6.1). The slope-change regressor is centred at
    the interruption (Linden: 0 in the first post period, §6.2), so ``level_change`` is the step at
    T_I whatever the time origin. Lopez Bernal's ``I(time-36):smokban`` (1 in the first post period)
    gives the same fit with level_change(ours) = level_change(theirs) + slope_change.

    Parameters
    ----------
    data
        One row per period (and per unit when ``group`` is given). Unit of analysis: a period of a
        series (e.g. region-month).
    outcome
        Column with the outcome: counts for count families, any number for ``"gaussian"``.
    time
        Column with whole-number periods (e.g. 1..n) or dates (monthly, quarterly or yearly; one
        per period, mapped to pandas period ordinals -- months, not days, methods reference §6.1).
    interruption
        First time value of the post period (an integer or a date in ``time``'s units).
    family
        ``"gaussian"`` (OLS), ``"poisson"``, ``"quasipoisson"`` (Poisson with SEs scaled by
        sqrt(phi), phi = Pearson X^2/(n - p): R ``quasipoisson``, Stata ``scale(x2)``, §6.3) or
        ``"negbin"`` (NB2 by maximum likelihood, alpha estimated: ``statsmodels.NegativeBinomial``).
        Count families use the log link.
    exposure
        Column whose log is the offset (population at risk or age-standardised population, §6.3),
        used in fitting, predictions and counterfactuals. Only for count families (model a rate as
        a Gaussian outcome instead).
    harmonics, period, season
        ``harmonics`` = K Fourier pairs sin/cos(2 pi k S/P), k = 1..K, of period ``period`` built from
        column ``season`` (default: the period index, which spans the same column space as the
        calendar month for monthly data, §6.4). Requires 2K < P.
    slope_change
        Include slope-change terms (False gives the step-only models of Lopez Bernal's tutorial).
    cov_type, hac_lags
        ``"nonrobust"``; ``"robust"`` (HC1); ``"hac"`` with ``hac_lags=L``: Newey-West with Bartlett
        weights 1 - l/(L+1), small-sample factor n/(n - k) and t(n - k) inference for OLS -- identical
        to Stata ``newey, lag(L)`` (statsmodels ``cov_type="HAC", use_correction=True, use_t=True``,
        §6.5); panel version (``hac-panel``, lags within units) for a controlled ITS, with p-values and
        intervals from t(n - k) as Stata (not statsmodels' n_groups - 1). Lags are by row position
        within a unit, so excluded periods are skipped over (unverified: believed to match
        ``newey, force``). For GLMs the HAC sandwich has no Stata cross-check upstream (§6.5).
    group, treated
        Controlled ITS (Linden ``itsa``, §6.8): ``group`` names the unit column, ``treated`` the
        treated unit(s). Terms: ``level_difference`` (_z), ``pre_trend_difference`` (_z_t),
        ``level_change_difference`` (_z_x), ``slope_change_difference`` (_z_x_t); the un-suffixed
        terms (pre_trend, level_change, slope_change, post_trend) are the control group's (with
        several controls pooled, their mean when balanced). Seasonal terms and further interruptions
        are common to all units (design choice).
    interruptions
        Further breakpoints (e.g. COVID-19 start and end), a list of time values (terms named
        ``level_change_2``, ``slope_change_2``, ...) or a dict ``{name: time}``
        (``level_change_<name>`` ...). Each has its own level and (if ``slope_change``) slope term and
        is kept in the counterfactual.
    exclude
        Periods left out of the fit but still predicted and shown (hollow, shaded) in plots: a
        ``(start, end)`` pair (inclusive; None = open), a list of pairs, or the name of a boolean
        column. Excluded periods are counted in the result and left out of cumulative effects.
    errors, arima_order
        Autocorrelation model beyond HAC (Gaussian, single series; §6.6): ``"iid"`` (default),
        ``"prais"`` (iterated Prais-Winsten keeping the first observation, as Stata ``prais``) or
        ``"arima"`` (regression with ARMA(p, 0, q) errors by exact ML, statsmodels SARIMAX).
    mode
        ``"segmented"`` (default; estimand (a) of §6.7: segmented regression on the full series) or
        ``"forecast"`` (estimand (b): fit trend/season on the pre-period only and project forward, as
        CausalPy ``InterruptedTimeSeries``; effects are observed minus projection).
    level
        Confidence level of the intervals of ``effects`` (``table``); ``predict``, ``effect_at``
        and ``cumulative_effect`` take their own ``level`` (default 0.95).

    Returns
    -------
    ITSResult
        ``effects`` (term table with Wald intervals: z for GLMs, t(n - k) for OLS/HAC/Prais; rate
        ratios exp(b), exp(b +- q se) for log links), ``dispersion``, ``predict``, ``effect_at``,
        ``cumulative_effect``, ``plot``, ``summary``, ``diagnostics``.

    Raises
    ------
    SchemaError
        Missing columns, missing or negative outcomes, non-positive exposure, duplicate periods.
    ParameterError
        Invalid options, or a model that is not identified.

    Examples
    --------
    >>> import pandas as pd
    >>> from naravard_analysis.data.official import reference_dir
    >>> d = pd.read_csv(reference_dir() / "sicily" / "sicily.csv")
    >>> r = fit_its(d, outcome="aces", time="time", interruption=37, family="quasipoisson",
    ...             exposure="stdpop", harmonics=2, season="month")
    >>> round(float(r.effects.loc["level_change", "ratio"]), 2)
    0.88
    """
    if not isinstance(data, pd.DataFrame):
        raise ParameterError(f"data must be a pandas DataFrame, not {type(data).__name__}")
    if family not in FAMILIES:
        raise ParameterError(f"family must be one of {FAMILIES}, not {family!r}")
    if mode not in ("segmented", "forecast"):
        raise ParameterError(f"mode must be 'segmented' or 'forecast', not {mode!r}")
    if not isinstance(level, float | int) or not 0 < level < 1:
        raise ParameterError(f"level must lie strictly between 0 and 1, got {level!r}")
    if exposure is not None and family == "gaussian":
        raise ParameterError("exposure (offset) is for count families; for a Gaussian model pass a rate "
                             "column as the outcome")
    if (group is None) != (treated is None):
        raise ParameterError("group and treated go together (controlled ITS)")
    harmonics = int(harmonics)
    if harmonics < 0 or (harmonics and 2 * harmonics >= period):
        raise ParameterError(f"harmonics must be 0 <= K < period/2 (K={harmonics}, period={period})")
    cols = [c for c in (outcome, time, exposure, season, group) if c is not None]
    if isinstance(exclude, str):
        cols.append(exclude)
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise SchemaError(_TABLE, missing[0], f"column(s) {missing} not found; columns are {list(data.columns)}")

    axis, index = axis_and_index(data[time], table=_TABLE)
    t_int = int(axis.to_index(interruption)[0])
    extra = _extra(interruptions, axis)

    cols_: dict[str, Any] = {"index": index, "row": np.arange(len(data)),
                             "observed": pd.to_numeric(data[outcome], errors="coerce").to_numpy(float)}
    if exposure is not None:
        cols_["exposure"] = pd.to_numeric(data[exposure], errors="coerce").to_numpy(float)
    if group is not None:
        g = data[group].to_numpy()
        tl = list(treated) if isinstance(treated, (list, tuple, set, np.ndarray, pd.Index)) else [treated]
        z = pd.Index(g).isin(tl)
        if not z.any() or z.all():
            raise ParameterError(f"treated={treated!r} must name some but not all values of {group!r}")
        codes, uniq = pd.factorize(g, sort=True)
        order = np.lexsort((index, codes, ~z))  # treated units first, then by unit and time
        cols_.update(group=g, treated=z, _code=codes)
    else:
        order = np.argsort(index, kind="stable")
    cols_ = {k: v[order] for k, v in cols_.items()}
    key = cols_["index"] if group is None else cols_["_code"] * (1 << 40) + (cols_["index"] - index.min())
    dup_mask = np.zeros(len(key), bool)
    same = key[1:] == key[:-1]
    dup_mask[1:] |= same
    dup_mask[:-1] |= same
    dup = np.flatnonzero(dup_mask)
    if len(dup):
        raise SchemaError(_TABLE, time, "one row per period" + (" and group" if group else ""),
                          len(dup), cols_["row"][dup])
    cols_["post"] = cols_["index"] >= t_int
    cols_["time"] = axis.to_time(cols_["index"])
    frame = pd.DataFrame(cols_)
    frame["excluded"] = _excluded(exclude, frame, data, axis)
    fitmask = ~frame["excluded"].to_numpy()
    if mode == "forecast":
        fitmask &= ~frame["post"].to_numpy()
    _check_values(frame, fitmask, family, exposure, outcome)

    n_pre = int((fitmask & ~frame["post"].to_numpy()).sum())
    n_post = int((~frame["excluded"].to_numpy() & frame["post"].to_numpy()).sum())
    if n_pre < 2 or (n_post < 1):
        raise ParameterError(f"need >= 2 fitted periods before and >= 1 after the interruption "
                             f"(have {n_pre} and {n_post})")
    if mode == "forecast" and any(at >= t_int for _, at in extra):
        raise ParameterError("in forecast mode further interruptions must lie before the main one")

    season_values = None
    if season is not None:
        season_values = pd.to_numeric(data[season], errors="coerce").to_numpy(float)[frame["row"].to_numpy()]
    design = build_design(
        frame["index"].to_numpy(), origin=int(frame["index"].min()), interruption=t_int,
        slope_change=slope_change, step=(mode == "segmented"), extra=extra, season=season_values,
        harmonics=harmonics, period=period,
        treated=frame["treated"].to_numpy() if group is not None else None,
        interruption_label=_stata_label(axis, t_int),
    )
    offset = np.log(frame["exposure"].to_numpy(float)) if exposure is not None else None
    y = frame["observed"].to_numpy(float)
    groups = frame["_code"].to_numpy()[fitmask] if group is not None else None
    fit = fit_engine(
        family, y[fitmask], design.X[fitmask],
        offset=None if offset is None else offset[fitmask],
        cov_type=cov_type, hac_lags=hac_lags, groups=groups, errors=errors, arima_order=tuple(arima_order),
        y_full=np.where(fitmask, y, np.nan), X_full=design.X,
    )
    settings = {"outcome": outcome, "time": time, "interruption": interruption, "family": family,
                "exposure": exposure, "harmonics": harmonics, "period": period, "season": season,
                "slope_change": slope_change, "cov_type": cov_type, "hac_lags": hac_lags,
                "group": group, "treated": treated, "interruptions": interruptions,
                "excluded_periods": int(frame["excluded"].sum()), "errors": errors,
                "arima_order": tuple(arima_order), "mode": mode, "level": float(level)}
    return ITSResult(
        frame=frame, design=design, fit=fit, family=family, axis=axis, interruption=interruption,
        interruption_index=t_int, outcome=outcome, time=time, exposure=exposure, cov_type=cov_type,
        hac_lags=hac_lags, errors=errors, mode=mode, group=group, extra_interruptions=extra,
        level=float(level), settings=settings,
    )


def _extra(interruptions: Any, axis: TimeAxis) -> list[tuple[str, int]]:
    if interruptions is None:
        return []
    if isinstance(interruptions, dict):
        items = list(interruptions.items())
    elif isinstance(interruptions, (list, tuple)):
        items = [(str(i + 2), v) for i, v in enumerate(interruptions)]
    else:
        items = [("2", interruptions)]
    return [(str(name), int(axis.to_index(v)[0])) for name, v in items]


def _excluded(exclude: Any, frame: pd.DataFrame, data: pd.DataFrame, axis: TimeAxis) -> np.ndarray:
    n = len(frame)
    if exclude is None:
        return np.zeros(n, bool)
    if isinstance(exclude, str):
        col = data[exclude].to_numpy()[frame["row"].to_numpy()]
        return pd.array(col, dtype="boolean").fillna(False).to_numpy(bool)
    ranges = [exclude] if (isinstance(exclude, tuple) and len(exclude) == 2
                           and not isinstance(exclude[0], (tuple, list))) else list(exclude)
    idx = frame["index"].to_numpy()
    mask = np.zeros(n, bool)
    for rng in ranges:
        if not isinstance(rng, (tuple, list)) or len(rng) != 2:
            raise ParameterError(f"exclude ranges are (start, end) pairs, got {rng!r}")
        lo = -np.inf if rng[0] is None else axis.to_index(rng[0])[0]
        hi = np.inf if rng[1] is None else axis.to_index(rng[1])[0]
        mask |= (idx >= lo) & (idx <= hi)
    return mask


def _check_values(frame: pd.DataFrame, fitmask: np.ndarray, family: str, exposure: str | None,
                  outcome: str) -> None:
    rows = frame["row"].to_numpy()
    y = frame["observed"].to_numpy(float)
    bad = np.flatnonzero(fitmask & ~np.isfinite(y))
    if len(bad):
        raise SchemaError(_TABLE, outcome, "outcome missing or non-numeric in fitted periods "
                          "(exclude those periods explicitly)", len(bad), rows[bad])
    if family != "gaussian":
        bad = np.flatnonzero(fitmask & (y < 0))
        if len(bad):
            raise SchemaError(_TABLE, outcome, "counts must be >= 0", len(bad), rows[bad])
    if exposure is not None:
        e = frame["exposure"].to_numpy(float)
        bad = np.flatnonzero(~(np.isfinite(e) & (e > 0)))
        if len(bad):
            raise SchemaError(_TABLE, exposure, "exposure must be > 0 in every period (it is the offset "
                              "of fitted values and counterfactuals)", len(bad), rows[bad])


def _stata_label(axis: TimeAxis, index: int) -> str:
    """``itsa``'s trperiod suffix: Stata %tm/%tq counts from 1960, pandas ordinals from 1970."""
    if axis.kind == "integer":
        return str(index)
    return str(index + {"M": 120, "Q": 40, "Y": 1970}[axis.freq])
