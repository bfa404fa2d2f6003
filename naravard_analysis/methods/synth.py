"""Synthetic control and synthetic difference-in-differences for one or a few treated units.

:func:`synth_did` estimates the average effect on the treated (ATT) of a treatment that starts at one
date in one or several units (a region, a group of municipalities), against a pool of never-treated
units, on a balanced long panel. Three estimators share one weighted double-difference
(Arkhangelsky, Athey, Hirshberg, Imbens & Wager, *Synthetic difference in differences*, American
Economic Review 2021;111(12):4088-4118, eq. 1-4 and Algorithm 1)::

    tau = (Ybar_tr,post - sum_t lambda_t Ybar_tr,t) - sum_i omega_i (Ybar_i,post - sum_t lambda_t Y_i,t)

``method="sdid"``
    Unit weights ``omega`` (simplex, with an intercept) make the controls' pre-period path parallel to
    the treated units'; time weights ``lambda`` (simplex, with an intercept) make the pre-periods
    predict the controls' post-period mean. ``omega`` carries a ridge penalty
    ``zeta^2 T0 ||omega||^2`` with ``zeta = (N_tr T_post)^(1/4) sigma``, ``sigma`` the standard
    deviation of the controls' first differences before treatment; ``lambda`` an infinitesimal one
    (``1e-6 sigma``).
``method="sc"``
    The synthetic control of Abadie, Diamond & Hainmueller (J Am Stat Assoc 2010;105:493-505) on the
    outcome path alone: ``omega`` without intercept and with an infinitesimal penalty, ``lambda = 0``.
``method="did"``
    Ordinary difference-in-differences: uniform ``omega`` and ``lambda``.

The weights are found as the reference R package ``synthdid`` (version 0.0.9,
github.com/synth-inference/synthdid, commit 70c1ce3 of 2024-01) finds them, so the estimates agree with it: Frank-Wolfe
iterations with exact line search on the simplex, stopped when the penalised objective falls by less
than ``(1e-5 sigma)^2`` in an iteration or after 10 000 iterations; a first round of 100 iterations
from uniform weights is *sparsified* (weights at or below a quarter of the largest set to 0,
renormalised) and used to start the second round. On the Proposition 99 panel the three estimators
give -15.60383, -19.61966 and -27.34911 packs per capita (the R package and Stata ``sdid``; Clarke,
Pailañir, Athey & Imbens, Stata Journal 2024), reproduced in ``tests/methods/test_synth.py``.

Staggered adoption (units starting in different periods) is handled as in Arkhangelsky et al.
(2021, section 5 and appendix) and Stata ``sdid``: one estimate per adoption cohort, each against the
never-treated units over all periods, averaged with weights proportional to the cohort's number of
treated unit-periods ``N_a (T - a)``.

Inference (Arkhangelsky et al. 2021, section 5):

``se="placebo"`` (default; Algorithm 4)
    Controls are drawn at random to play the treated units (with their adoption periods) among the
    remaining controls; the standard deviation of the placebo estimates over ``replications`` draws
    is the standard error. The only option with a single treated unit; it assumes the treated units'
    errors are like the controls'.
``se="bootstrap"`` (Algorithm 2)
    Units resampled with replacement (draws without a treated or without a control are redrawn).
    Needs more than one treated unit.
``se="jackknife"`` (Algorithm 3)
    Leave-one-unit-out with the weights held fixed. Needs at least two treated units per cohort;
    not recommended for ``"sc"``.

Intervals are ``estimate ± z_{(1+level)/2} se`` (normal approximation, as the R package).
:meth:`SynthResult.placebo` runs the in-space placebo of Abadie et al. (2010): each control in turn
as the treated unit, with its rank and the ratio of post- to pre-period root mean squared gaps.

Implemented from the paper and the documented behaviour of R ``synthdid`` (BSD-3 licence); no code
is copied. Only numpy/scipy are used: Python ports (``azcausal``, ``mlsynth``, ``synthdid``) were not
adopted because validating one against R costs as much as the code here and they add dependencies the
package does not otherwise need.

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(1)
>>> units, years = np.arange(12), np.arange(2010, 2020)
>>> p = pd.DataFrame([(u, y) for u in units for y in years], columns=["unit", "year"])
>>> p["treated"] = ((p["unit"] < 2) & (p["year"] >= 2016)).astype(int)
>>> p["y"] = p["unit"] + 0.5 * (p["year"] - 2010) + rng.normal(0, 0.1, len(p)) - 3 * p["treated"]
>>> res = synth_did(p, unit="unit", time="year", outcome="y", treated="treated", se="jackknife")
>>> round(res.estimate, 1)
-3.0
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from naravard_analysis.core.defaults import DEFAULT_LANGUAGE
from naravard_analysis.core.results import ResultDisplay
from naravard_analysis.errors import DataWarning, ParameterError, SchemaError

__all__ = [
    "synth_did",
    "SynthResult",
    "PlaceboResult",
    "sparsify",
    "METHODS",
    "SE_METHODS",
]

METHODS = ("sdid", "sc", "did")
SE_METHODS = ("placebo", "jackknife", "bootstrap")
_TABLE = "panel"
# R synthdid defaults (synthdid_estimate): ridge factors, stopping rule, iteration limits.
_ETA_LAMBDA = 1e-6
_ETA_SC = 1e-6
_MIN_DECREASE = 1e-5
_MAX_ITER = 10_000
_MAX_ITER_PRE_SPARSIFY = 100


def sparsify(v: np.ndarray) -> np.ndarray:
    """Set weights at or below a quarter of the largest to 0 and renormalise (R ``sparsify_function``).

    Works on the last axis, so a stack of weight vectors is sparsified row by row.

    Examples
    --------
    >>> sparsify(np.array([0.5, 0.1, 0.4])).round(3).tolist()
    [0.556, 0.0, 0.444]
    """
    v = np.asarray(v, dtype=float)
    v = np.where(v <= v.max(axis=-1, keepdims=True) / 4, 0.0, v)
    return v / v.sum(axis=-1, keepdims=True)



# ------------------------------------------------------------------------------------------------
# Frank-Wolfe weights, for a stack of problems at once
# ------------------------------------------------------------------------------------------------
def _fw(Y: np.ndarray, zeta: np.ndarray, intercept: bool, init: np.ndarray, min_decrease: np.ndarray,
        max_iter: int, rows: np.ndarray | None = None, cols: np.ndarray | None = None) -> np.ndarray:
    """Simplex weights ``w`` on the first columns of each ``Y[b]`` that reproduce its last column.

    For each problem ``b`` (``Y`` is ``B x n x (k + 1)``) minimise
    ``f(w) = zeta_b^2 ||w||^2 + ||A w - y||^2 / n`` with ``A = Y[b, :, :k]``, ``y = Y[b, :, k]``
    (both centred over rows when ``intercept``) by Frank-Wolfe steps with exact line search, starting
    at ``init[b]``; problem ``b`` stops after the first iteration (from the second on) that lowers
    ``f`` by ``min_decrease_b^2`` or less, or after ``max_iter`` iterations (R ``sc.weight.fw``).

    The iterations work on the Gram matrix ``G = A'A`` and keep ``G w`` up to date, so a step costs
    O(k) instead of O(nk); the decrease of ``f`` is the exact quadratic
    ``(2 s g'(w - e_i) - s^2 (||A(e_i - w)||^2 + eta ||e_i - w||^2)) / n`` rather than a difference of
    two objective values (no cancellation). The replications of a standard error are solved together
    as one stack, which keeps the loop in numpy. Problems of different sizes share a stack padded
    with zeros: ``rows`` (``B x n``) marks each problem's real rows (``n`` and the centring count only
    them) and ``cols`` (``B x k``) its real weights (a padded weight is never chosen and stays 0).
    """
    B, n, k1 = Y.shape
    k = k1 - 1
    n_b = np.full(B, float(n)) if rows is None else rows.sum(axis=1).astype(float)
    if intercept:
        if rows is None:
            Y = Y - Y.mean(axis=1, keepdims=True)
        else:
            mean = (Y * rows[:, :, None]).sum(axis=1, keepdims=True) / n_b[:, None, None]
            Y = (Y - mean) * rows[:, :, None]
    A, y = Y[:, :, :k], Y[:, :, k]
    x_out = np.array(init, dtype=float, copy=True)
    G = np.einsum("bnk,bnj->bkj", A, A)
    c = np.einsum("bnk,bn->bk", A, y)
    pen = np.zeros((B, k)) if cols is None else np.where(cols, 0.0, np.inf)
    eta = n_b * np.asarray(zeta, dtype=float) ** 2
    tol = np.asarray(min_decrease, dtype=float) ** 2
    active = np.arange(B)
    x = x_out.copy()
    Gx = np.einsum("bkj,bj->bk", G, x)
    for t in range(max_iter):
        r = np.arange(len(active))
        grad = Gx - c + eta[:, None] * x  # half the gradient of n f
        i = (grad + pen).argmin(axis=1)
        x_i, Gx_i = x[r, i], Gx[r, i]
        xGx = (x * Gx).sum(axis=1)
        xx = (x * x).sum(axis=1)
        num = (grad * x).sum(axis=1) - grad[r, i]  # -grad'(e_i - x)
        den = (G[r, i, i] - 2 * Gx_i + xGx) + eta * (1 - 2 * x_i + xx)
        pos = den > 0
        step = np.minimum(np.maximum(num / np.where(pos, den, 1.0), 0.0), 1.0) * pos
        x = x * (1 - step)[:, None]
        x[r, i] += step
        Gx = Gx * (1 - step)[:, None] + step[:, None] * G[r, :, i]
        decrease = (2 * step * num - step**2 * den) / n_b
        go = (decrease > tol) | (t == 0)
        if not go.all():
            # the problems that stopped keep their weights; iterate on the others only
            x_out[active[~go]] = x[~go]
            active, x, Gx, G, c, eta, tol, n_b, pen = (
                active[go], x[go], Gx[go], G[go], c[go], eta[go], tol[go], n_b[go], pen[go])
            if not len(active):
                break
    x_out[active] = x
    return x_out


def _weights(Y: np.ndarray, zeta: np.ndarray, intercept: bool, init: np.ndarray | None,
             min_decrease: np.ndarray, rows: np.ndarray | None = None,
             cols: np.ndarray | None = None) -> np.ndarray:
    """Two rounds of Frank-Wolfe with :func:`sparsify` in between (R ``synthdid_estimate``)."""
    if init is None:
        init = np.full((Y.shape[0], Y.shape[2] - 1), 1.0 / (Y.shape[2] - 1))
    w = _fw(Y, zeta, intercept, init, min_decrease, _MAX_ITER_PRE_SPARSIFY, rows, cols)
    return _fw(Y, zeta, intercept, sparsify(w), min_decrease, _MAX_ITER, rows, cols)


# ------------------------------------------------------------------------------------------------
# One adoption cohort (block design), for a stack of panels of the same shape
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Opts:
    """Regularisation of a cohort's fit (arrays over the stack), kept in the replications as R does."""

    zeta_omega: np.ndarray
    zeta_lambda: np.ndarray
    min_decrease: np.ndarray
    omega_intercept: bool
    update_omega: bool
    update_lambda: bool

    def take(self, b: int | np.ndarray, size: int) -> _Opts:
        """The options of problem ``b`` repeated ``size`` times."""
        def pick(v: np.ndarray) -> np.ndarray:
            return np.full(size, np.asarray(v)[b], dtype=float)

        return replace(self, zeta_omega=pick(self.zeta_omega), zeta_lambda=pick(self.zeta_lambda),
                       min_decrease=pick(self.min_decrease))


def _noise(Y: np.ndarray, n0: int, t0: int) -> np.ndarray:
    """Standard deviation of the controls' first differences before treatment, per panel."""
    d = np.diff(Y[:, :n0, :t0], axis=2).reshape(Y.shape[0], -1)
    return d.std(axis=1, ddof=1)


def _default_opts(method: str, Y: np.ndarray, n0: int, t0: int) -> _Opts:
    """R's defaults: ``zeta_omega = (N1 T1)^(1/4) sigma`` (sdid) or ``1e-6 sigma`` (sc)."""
    n1, t1 = Y.shape[1] - n0, Y.shape[2] - t0
    sigma = _noise(Y, n0, t0)
    if method == "sdid":
        return _Opts((n1 * t1) ** 0.25 * sigma, _ETA_LAMBDA * sigma, _MIN_DECREASE * sigma,
                     True, True, True)
    if method == "sc":
        return _Opts(_ETA_SC * sigma, _ETA_LAMBDA * sigma, _MIN_DECREASE * sigma, False, True, False)
    return _Opts(0 * sigma, 0 * sigma, _MIN_DECREASE * sigma, True, False, False)


def _initial(method: str, B: int, n0: int, t0: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Starting (or, when not updated, fixed) weights: none for sdid, lambda = 0 for sc, uniform for did."""
    if method == "sc":
        return None, np.zeros((B, t0))
    if method == "did":
        return np.full((B, n0), 1.0 / n0), np.full((B, t0), 1.0 / t0)
    return None, None


def _collapsed(Y: np.ndarray, n0: int, t0: int) -> np.ndarray:
    """B x (n0 + 1) x (t0 + 1): controls by pre-period and their post mean; the treated mean below."""
    top = np.concatenate([Y[:, :n0, :t0], Y[:, :n0, t0:].mean(axis=2, keepdims=True)], axis=2)
    bottom = np.concatenate([Y[:, n0:, :t0].mean(axis=1), Y[:, n0:, t0:].mean(axis=(1, 2))[:, None]],
                            axis=1)
    return np.concatenate([top, bottom[:, None, :]], axis=1)


def _tau(Y: np.ndarray, n0: int, t0: int, omega: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """The weighted double difference (eq. 1 of Arkhangelsky et al.) for each panel of the stack."""
    B, N, T = Y.shape
    u = np.concatenate([-omega, np.full((B, N - n0), 1.0 / (N - n0))], axis=1)
    v = np.concatenate([-lam, np.full((B, T - t0), 1.0 / (T - t0))], axis=1)
    return np.einsum("bn,bnt,bt->b", u, Y, v)


def _fit_block(Y: np.ndarray, n0: int, t0: int, opts: _Opts, omega0: np.ndarray | None,
               lam0: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Estimate, omega and lambda for controls ``Y[:, :n0]`` and treated ``Y[:, n0:]`` from column t0."""
    tau, omega, lam = _fit_collapsed(_collapsed(Y, n0, t0), n0, t0, opts, omega0, lam0)
    return _tau(Y, n0, t0, omega, lam), omega, lam


def _fit_collapsed(Yc: np.ndarray, n0: int, t0: int, opts: _Opts, omega0: np.ndarray | None,
                   lam0: np.ndarray | None, controls: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The same from the collapsed form alone (it holds every average the weights and tau use)::

        tau = Yc[n0, t0] - Yc[n0, :t0] lambda - omega' (Yc[:n0, t0] - Yc[:n0, :t0] lambda)

    ``controls`` (``B x n0`` booleans) marks the real control rows of a zero-padded stack.
    """
    lam = lam0
    if opts.update_lambda:
        lam = _weights(Yc[:, :n0, :], opts.zeta_lambda, True, lam0, opts.min_decrease, rows=controls)
    omega = omega0
    if opts.update_omega:
        omega = _weights(np.swapaxes(Yc[:, :, :t0], 1, 2), opts.zeta_omega, opts.omega_intercept,
                         omega0, opts.min_decrease, cols=controls)
    d = Yc[:, :, t0] - np.einsum("bnt,bt->bn", Yc[:, :, :t0], lam)
    tau = d[:, n0] - np.einsum("bn,bn->b", omega, d[:, :n0])
    return tau, omega, lam


def _normalise(x: np.ndarray) -> np.ndarray:
    """Rows summing to one; uniform where a row is all zero (R ``sum_normalize``, used for starts)."""
    s = x.sum(axis=-1, keepdims=True)
    uniform = np.full_like(x, 1.0 / x.shape[-1])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(s != 0, x / np.where(s != 0, s, 1.0), uniform)


# ------------------------------------------------------------------------------------------------
# Adoption cohorts
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Cohort:
    """One cohort of the original fit: rows of its treated units and controls, weights, options."""

    adopt: int
    treated: np.ndarray
    controls: np.ndarray
    tau: float
    omega_full: np.ndarray  # over all rows of the panel (zero off the controls)
    lam: np.ndarray
    opts: _Opts


def _fit(Y: np.ndarray, adopt: np.ndarray, method: str, *, source: np.ndarray | None = None,
         base: dict[int, _Cohort] | None = None, update: bool = True
         ) -> tuple[np.ndarray, dict[int, np.ndarray], dict[int, tuple[np.ndarray, np.ndarray]]]:
    """Each adoption cohort against the never-treated rows, for a stack of panels.

    ``Y`` is ``B x N x T`` with one adoption vector ``adopt`` (column of the first treated period,
    ``T`` for never treated) shared by the stack. ``source`` (``B x N``) maps rows to the original
    panel's rows; with ``base`` the cohorts keep the original regularisation and start from (with
    ``update=False``: use) its weights restricted to the rows present, as R's standard errors do.

    Returns the overall estimates (``B``), each cohort's estimates and each cohort's (omega, lambda).
    """
    B, N, T = Y.shape
    controls = np.flatnonzero(adopt >= T)
    n0 = len(controls)
    taus: dict[int, np.ndarray] = {}
    weights: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    size: dict[int, float] = {}
    for a in np.unique(adopt[adopt < T]).tolist():
        tr = np.flatnonzero(adopt == a)
        Ya = Y[:, np.r_[controls, tr], :]
        if base is None:
            opts = _default_opts(method, Ya, n0, a)
            omega0, lam0 = _initial(method, B, n0, a)
        else:
            ref = base[a]
            omega0 = _normalise(ref.omega_full[source[:, controls]])
            lam0 = np.broadcast_to(ref.lam, (B, a)).copy()
            opts = ref.opts.take(0, B)
            if not update:
                opts = replace(opts, update_omega=False, update_lambda=False)
        taus[a], omega, lam = _fit_block(Ya, n0, a, opts, omega0, lam0)
        weights[a] = (omega, lam)
        size[a] = float(len(tr) * (T - a))
    total = sum(size.values())
    overall = sum(size[a] / total * taus[a] for a in taus)
    return np.asarray(overall, dtype=float), taus, weights


def _cohorts(Y: np.ndarray, adopt: np.ndarray, method: str) -> dict[int, _Cohort]:
    """The original fit, cohort by cohort, keeping what the replications need."""
    T = Y.shape[1]
    _, taus, weights = _fit(Y[None], adopt, method)
    controls = np.flatnonzero(adopt >= T)
    out = {}
    for a, (omega, lam) in weights.items():
        full = np.zeros(len(adopt))
        full[controls] = omega[0]
        opts = _default_opts(method, Y[None][:, np.r_[controls, np.flatnonzero(adopt == a)]],
                             len(controls), a)
        out[a] = _Cohort(a, np.flatnonzero(adopt == a), controls, float(taus[a][0]), full, lam[0], opts)
    return out


# ------------------------------------------------------------------------------------------------
# The panel
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Panel:
    """Wide outcome matrix with controls first (sorted by unit), then treated (by adoption, unit)."""

    Y: np.ndarray  # N x T
    adopt: np.ndarray  # column of the first treated period; T for never treated
    units: np.ndarray
    times: np.ndarray


def _check_columns(panel: pd.DataFrame, unit: str, time: str, outcome: str, treated: str) -> None:
    if not isinstance(panel, pd.DataFrame):
        raise ParameterError(f"panel must be a pandas DataFrame, got {type(panel).__name__}")
    missing = [c for c in dict.fromkeys([unit, time, outcome, treated]) if c not in panel.columns]
    if missing:
        raise SchemaError(_TABLE, ", ".join(map(str, missing)), "required column missing")
    if len(panel) == 0:
        raise SchemaError(_TABLE, None, "panel has no rows")
    for col in dict.fromkeys([unit, time, outcome, treated]):
        bad = np.flatnonzero(panel[col].isna().to_numpy())
        if bad.size:
            raise SchemaError(_TABLE, col, "missing values are not allowed", bad.size, bad)
    if not pd.api.types.is_numeric_dtype(panel[outcome]) or pd.api.types.is_bool_dtype(panel[outcome]):
        raise SchemaError(_TABLE, outcome, f"must be numeric, got dtype {panel[outcome].dtype}")
    y = panel[outcome].to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(y))
    if bad.size:
        raise SchemaError(_TABLE, outcome, "must be finite", bad.size, bad)
    w = panel[treated]
    if pd.api.types.is_bool_dtype(w):
        w = w.astype(int)
    wv = pd.to_numeric(w, errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isin(wv, (0.0, 1.0)))
    if bad.size:
        raise SchemaError(_TABLE, treated, "must be 0 or 1 (1 for a treated unit in its treated "
                          "periods)", bad.size, bad)


def _prepare(panel: pd.DataFrame, unit: str, time: str, outcome: str, treated: str,
             staggered: bool) -> _Panel:
    """Validate a long panel and pivot it (R ``panel.matrices``, extended to adoption cohorts)."""
    _check_columns(panel, unit, time, outcome, treated)
    ucodes, units = pd.factorize(panel[unit], sort=True)
    tcodes, times = pd.factorize(panel[time], sort=True)
    N, T = len(units), len(times)
    key = ucodes.astype(np.int64) * T + tcodes
    dup = pd.Series(key).duplicated(keep=False).to_numpy()
    if dup.any():
        pos = np.flatnonzero(dup)
        raise SchemaError(_TABLE, f"{unit}, {time}", "each unit may appear once per period",
                          pos.size, pos)
    if len(panel) != N * T:
        counts = np.bincount(ucodes, minlength=N)
        short = np.flatnonzero(np.isin(ucodes, np.flatnonzero(counts < T)))
        raise SchemaError(_TABLE, f"{unit}, {time}",
                          f"panel is unbalanced: {int((counts < T).sum())} of {N} units are not "
                          f"observed in all {T} periods ({N * T - len(panel)} unit-periods missing)",
                          short.size, short, hint="balance the panel before estimating")
    Y = np.empty((N, T))
    W = np.empty((N, T))
    Y[ucodes, tcodes] = panel[outcome].to_numpy(dtype=float)
    W[ucodes, tcodes] = pd.to_numeric(panel[treated].astype(int) if pd.api.types.is_bool_dtype(
        panel[treated]) else panel[treated]).to_numpy(dtype=float)
    switching = (np.diff(W, axis=1) < 0).any(axis=1)
    if switching.any():
        rows = np.flatnonzero(np.isin(ucodes, np.flatnonzero(switching)))
        raise SchemaError(_TABLE, treated, f"treatment must stay on once it starts; "
                          f"{int(switching.sum())} units switch from 1 back to 0", rows.size, rows)
    ever = W.any(axis=1)
    adopt = np.where(ever, W.argmax(axis=1), T)
    if not ever.any():
        raise SchemaError(_TABLE, treated, "no treated unit (the column is 0 everywhere)")
    if ever.all():
        raise SchemaError(_TABLE, treated, "no never-treated unit to build the synthetic control from",
                          len(panel))
    early = ever & (adopt < 2)
    if early.any():
        rows = np.flatnonzero(np.isin(ucodes, np.flatnonzero(early)))
        raise SchemaError(_TABLE, treated, f"{int(early.sum())} treated units have fewer than two "
                          "periods before treatment starts", rows.size, rows)
    cohorts = np.unique(adopt[ever])
    if len(cohorts) > 1 and not staggered:
        rows = np.flatnonzero(np.isin(ucodes, np.flatnonzero(ever & (adopt != cohorts[0]))))
        raise SchemaError(_TABLE, treated, f"adoption is not simultaneous ({len(cohorts)} start "
                          "periods); pass staggered=True to average over adoption cohorts",
                          rows.size, rows)
    # controls first (by unit), then the treated by adoption period and unit, as R orders them
    by_start = np.lexsort((np.arange(N), adopt))[: int(ever.sum())]
    order = np.r_[np.flatnonzero(~ever), by_start]
    return _Panel(Y[order], adopt[order], np.asarray(units)[order], np.asarray(times))


# ------------------------------------------------------------------------------------------------
# Standard errors (Arkhangelsky et al. 2021, Algorithms 2-4)
# ------------------------------------------------------------------------------------------------
def _stats(draws: np.ndarray) -> np.ndarray:
    """sqrt((B - 1) / B) x standard deviation over the draws (R), column by column, NaN ignored."""
    ok = np.isfinite(draws)
    n = ok.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 1, np.sqrt(np.nanvar(draws, axis=0, ddof=0)), np.nan)


def _collect(overall: np.ndarray, taus: dict[int, np.ndarray], cohorts: list[int]) -> np.ndarray:
    """B x (1 + cohorts): the overall estimate and each cohort's (NaN where a cohort is absent)."""
    out = np.full((len(overall), 1 + len(cohorts)), np.nan)
    out[:, 0] = overall
    for j, a in enumerate(cohorts):
        if a in taus:
            out[:, 1 + j] = taus[a]
    return out


def _placebo_se(p: _Panel, base: dict[int, _Cohort], method: str, B: int,
                rng: np.random.Generator) -> np.ndarray:
    """Algorithm 4: controls drawn to play the treated (with their adoption periods)."""
    T = p.Y.shape[1]
    controls = np.flatnonzero(p.adopt >= T)
    treated_adopt = p.adopt[p.adopt < T]
    n0, n1 = len(controls), len(treated_adopt)
    if n0 <= n1:
        raise ParameterError(f"se='placebo' needs more controls than treated units ({n0} controls, "
                             f"{n1} treated)")
    rows = np.stack([rng.permutation(controls) for _ in range(B)])
    adopt = np.r_[np.full(n0 - n1, T), treated_adopt]
    overall, taus, _ = _fit(p.Y[rows], adopt, method, source=rows, base=base)
    return _stats(_collect(overall, taus, sorted(base)))


def _bootstrap_rows(adopt: np.ndarray, T: int, B: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``B`` draws of units with replacement (sorted), redrawn while one holds no treated or no control."""
    N = len(adopt)
    draws: list[np.ndarray] = []
    while len(draws) < B:
        rows = np.sort(rng.integers(0, N, N))
        a = adopt[rows]
        if (a >= T).all() or (a < T).all():
            continue
        draws.append(rows)
    return draws


def _bootstrap_se(p: _Panel, base: dict[int, _Cohort], method: str, B: int,
                  rng: np.random.Generator) -> np.ndarray:
    """Algorithm 2: units drawn with replacement; draws with no treated or no control are redrawn.

    The draws differ in their number of controls; a cohort's weights depend on a draw only through
    its collapsed form, so every cohort's draws are solved as one stack of collapsed forms padded
    with zero rows to the largest number of controls.
    """
    T = p.Y.shape[1]
    draws = _bootstrap_rows(p.adopt, T, B, rng)
    cohorts = sorted(base)
    taus = np.full((B, len(cohorts)), np.nan)
    size = np.zeros((B, len(cohorts)))
    for j, a in enumerate(cohorts):
        ref = base[a]
        parts = [(rows[p.adopt[rows] >= T], rows[p.adopt[rows] == a]) for rows in draws]
        members = [b for b, (_, tr) in enumerate(parts) if len(tr)]
        if not members:
            continue
        m = max(len(parts[b][0]) for b in members)
        Yc = np.zeros((len(members), m + 1, a + 1))
        omega0 = np.zeros((len(members), m))
        real = np.zeros((len(members), m), dtype=bool)
        for r, b in enumerate(members):
            ctrl, tr = parts[b]
            k = len(ctrl)
            one = _collapsed(p.Y[np.r_[ctrl, tr]][None], k, a)[0]
            Yc[r, :k], Yc[r, m] = one[:k], one[k]
            omega0[r, :k] = _normalise(ref.omega_full[ctrl])
            real[r, :k] = True
            size[b, j] = len(tr) * (T - a)
        lam0 = np.broadcast_to(ref.lam, (len(members), a)).copy()
        tau, _, _ = _fit_collapsed(Yc, m, a, ref.opts.take(0, len(members)), omega0, lam0,
                                   controls=real)
        taus[members, j] = tau
    w = size / size.sum(axis=1, keepdims=True)
    overall = np.nansum(w * np.nan_to_num(taus), axis=1)
    return _stats(np.column_stack([overall, taus]))


def _jackknife_se(p: _Panel, base: dict[int, _Cohort], method: str) -> np.ndarray:
    """Algorithm 3: leave one unit out, weights fixed at the full-sample ones."""
    N = len(p.adopt)
    draws = []
    for i in range(N):
        rows = np.delete(np.arange(N), i)
        overall, taus, _ = _fit(p.Y[rows][None], p.adopt[rows], method, source=rows[None],
                                base=base, update=False)
        draws.append(_collect(overall, taus, sorted(base))[0])
    u = np.vstack(draws)
    with np.errstate(invalid="ignore"):
        return np.sqrt((N - 1) / N * (N - 1) * np.nanvar(u, axis=0, ddof=1))


def _jackknife_problem(p: _Panel, base: dict[int, _Cohort]) -> str | None:
    """Why the fixed-weight jackknife is undefined here (R returns NA), or None."""
    small = [a for a, c in base.items() if len(c.treated) < 2]
    if small:
        return "the jackknife needs at least two treated units in every adoption cohort"
    single = [a for a, c in base.items() if (c.omega_full != 0).sum() < 2]
    if single:
        return "the jackknife is undefined when one control carries all the unit weight"
    return None


# ------------------------------------------------------------------------------------------------
# Results
# ------------------------------------------------------------------------------------------------
_LABELS = {
    "en": {"treated": "Treated", "synthetic": "Synthetic control", "start": "Treatment starts",
           "time": "Time", "value": "Outcome", "lambda": "Time weight",
           "placebo": "Placebo estimates (controls as treated)", "estimate": "Estimate",
           "count": "Units", "cohort": "cohort {c}"},
    "sv": {"treated": "Intervention", "synthetic": "Syntetisk kontroll", "start": "Insatsen börjar",
           "time": "Tid", "value": "Utfall", "lambda": "Tidsvikt",
           "placebo": "Placeboskattningar (kontroller som intervention)", "estimate": "Skattning",
           "count": "Enheter", "cohort": "kohort {c}"},
}
_METHOD_NAMES = {"sdid": "synthetic difference-in-differences", "sc": "synthetic control",
                 "did": "difference-in-differences"}
_METHOD_NAMES_SV = {"sdid": "syntetisk skillnad-i-skillnader", "sc": "syntetisk kontroll",
                    "did": "skillnad-i-skillnader"}


# Text of SynthResult.summary (kept beside _LABELS, the words of this module's plots).
_SUMMARY = {
    "en": {"cite": "(Arkhangelsky et al. 2021; weights as R synthdid)",
           "att": "ATT {e:.4f}, se {se:.4f} ({m}{reps}), {lv} CI {lo:.4f} to {hi:.4f}",
           "reps": ", {r} replications, seed {s}",
           "units": "treated units: {t} in {k} cohort(s); controls: {c}",
           "weights": "largest unit weights: "},
    "sv": {"cite": "(Arkhangelsky m.fl. 2021; vikter som R synthdid)",
           "att": "ATT {e:.4f}, medelfel {se:.4f} ({m}{reps}), {lv} KI {lo:.4f} till {hi:.4f}",
           "reps": ", {r} replikat, frö {s}",
           "units": "enheter med insats: {t} i {k} kohort(er); kontroller: {c}",
           "weights": "största enhetsvikter: "},
}


def _labels_language(language: str) -> str:
    _labels(language)
    return language


def _labels(language: str) -> dict[str, str]:
    if language not in _LABELS:
        raise ParameterError(f"language must be one of {tuple(_LABELS)}, got {language!r}")
    return _LABELS[language]


@dataclass(frozen=True, repr=False)
class PlaceboResult(ResultDisplay):
    """In-space placebo (Abadie, Diamond & Hainmueller 2010): every control in turn as the treated unit.

    Attributes
    ----------
    table
        One row per unit (controls, then the treated estimate as ``treated=True``): ``unit``,
        ``estimate``, ``pre_rmspe`` and ``post_rmspe`` (root mean squared gap between the unit and
        its synthetic control before and after the start, after the ``lambda``-weighted pre-period
        adjustment of the method), ``ratio`` = post/pre RMSPE, ``treated``.
    rank, rank_ratio
        Rank of the treated estimate among all units by ``|estimate|`` and by ``ratio``
        (1 = most extreme).
    p_value, p_value_ratio
        ``rank / number of units``: the share of units with an effect at least as extreme.
    settings
        ``method`` of the estimate the placebo repeats.
    """

    table: pd.DataFrame
    rank: int
    rank_ratio: int
    p_value: float
    p_value_ratio: float
    settings: dict = field(default_factory=dict)

    _TITLE = {"en": "In-space placebo (Abadie, Diamond & Hainmueller 2010)",
              "sv": "Placebo i rummet (Abadie, Diamond & Hainmueller 2010)"}

    def plot(self, ax: Any = None, *, language: str = DEFAULT_LANGUAGE) -> Any:
        """Placebo estimates as a strip, the treated estimate marked."""
        import matplotlib.pyplot as plt

        lab = _labels(language)
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 2.6))
        pl = self.table[~self.table["treated"]]
        tr = self.table[self.table["treated"]]
        ax.hist(pl["estimate"], bins=min(30, max(5, len(pl) // 2)), color="0.7", label=lab["placebo"])
        for v in tr["estimate"]:
            ax.axvline(v, color="#D55E00", lw=2, label=lab["treated"])
        ax.set_xlabel(lab["estimate"])
        ax.set_ylabel(lab["count"])
        ax.legend(fontsize=8, frameon=False)
        return ax.figure

    def _repr_html_(self) -> str:  # pragma: no cover - JupyterLab display
        return (f"<p>In-space placebo: treated ranks {self.rank} of {len(self.table)} by |estimate| "
                f"(p = {self.p_value:.3f}), {self.rank_ratio} by post/pre RMSPE (p = "
                f"{self.p_value_ratio:.3f})</p>" + self.table.to_html(index=False, float_format="%.4f"))

    def __repr__(self) -> str:
        return f"<PlaceboResult units={len(self.table)} rank={self.rank} p={self.p_value:.3f}>"


@dataclass(frozen=True, eq=False, repr=False)
class SynthResult(ResultDisplay):
    """Synthetic control / synthetic difference-in-differences estimate (see :func:`synth_did`).

    Follows the package's result protocol (``table``, ``settings``, ``summary(language)``, HTML
    view, short repr).

    Attributes
    ----------
    estimate, se, lower, upper, level
        ATT, its standard error (``se_method``) and the normal interval at ``level``.
    method, se_method, replications, seed
        Settings used.
    unit_weights
        ``cohort`` (first treated period), ``unit``, ``weight`` (omega; sums to 1 per cohort).
    time_weights
        ``cohort``, ``time`` (pre-period), ``weight`` (lambda; sums to 1 per cohort, 0 for sc).
    effects
        One row per cohort and period: ``cohort``, ``time``, ``event_time`` (periods since the start),
        ``post``, ``treated`` (mean outcome of the cohort's treated units), ``synthetic`` (their
        counterfactual: omega-weighted controls shifted by the lambda-weighted pre-period gap) and
        ``effect`` = treated - synthetic. The mean of ``effect`` over a cohort's post periods is its
        estimate; pre-period effects show the fit.
    cohorts
        One row per adoption cohort: ``cohort``, ``estimate``, ``se``, ``lower``, ``upper``,
        ``weight`` (share of treated unit-periods), ``n_treated``, ``n_control``, ``n_pre``,
        ``n_post``.
    notes
        Why a standard error is missing, and similar.
    settings
        ``method``, ``se_method``, ``replications``, ``seed``, ``level``.
    """

    estimate: float
    se: float
    lower: float
    upper: float
    level: float
    method: str
    se_method: str
    replications: int
    seed: int
    unit_weights: pd.DataFrame
    time_weights: pd.DataFrame
    effects: pd.DataFrame
    cohorts: pd.DataFrame
    notes: tuple[str, ...] = ()
    _panel: _Panel | None = field(default=None, repr=False)
    _base: dict[int, _Cohort] | None = field(default=None, repr=False)

    @property
    def before_after(self) -> float:
        """The naive estimate: the treated units' mean after minus before, no comparison group.

        Cohort by cohort ``mean(Y_tr, post) - mean(Y_tr, pre)``, averaged with the cohort weights of
        the estimate; what a before/after evaluation reports. Shown for contrast: it attributes
        every change over time (trends, other reforms) to the treatment.
        """
        e = self.effects
        w = self.cohorts.set_index("cohort_index")["weight"]
        by = e.groupby(["cohort_index", "post"])["treated"].mean().unstack("post")
        return float(((by[True] - by[False]) * w.reindex(by.index)).sum())

    @property
    def table(self) -> pd.DataFrame:
        """One row: ``estimate, se, lower, upper, level, method, se_method, n_treated, n_control``."""
        n_tr = int(self.cohorts["n_treated"].sum())
        return pd.DataFrame([{
            "term": "ATT", "estimate": self.estimate, "se": self.se, "lower": self.lower,
            "upper": self.upper, "level": self.level, "method": self.method,
            "se_method": self.se_method, "before_after": self.before_after, "n_treated": n_tr,
            "n_control": int(self.cohorts["n_control"].iloc[0]), "n_cohorts": len(self.cohorts)}])

    @property
    def settings(self) -> dict[str, Any]:
        return {"method": self.method, "se_method": self.se_method,
                "replications": self.replications, "seed": self.seed, "level": self.level}

    def placebo(self) -> PlaceboResult:
        """In-space placebo: each control as the treated unit (same method, same adoption periods).

        The donors of a placebo unit are the other controls (the treated units never enter). For
        several adoption cohorts the placebo unit is treated at each cohort's start and the
        estimates are averaged with the cohort weights, like the real estimate. The treated row is
        the real estimate: with several treated units it is their average, which is less variable
        than a single placebo unit's, so read the rank as conservative for a large effect.
        """
        p, base = self._panel, self._base
        if p is None or base is None:
            raise ParameterError("this result holds no panel (was it built by synth_did?)")
        T = p.Y.shape[1]
        controls = np.flatnonzero(p.adopt >= T)
        n0 = len(controls)
        if n0 < 3:
            raise ParameterError(f"the in-space placebo needs at least 3 controls, got {n0}")
        # placebo j: the other controls, then j
        rows = np.stack([np.r_[np.delete(controls, j), controls[j]] for j in range(n0)])
        est = np.zeros(n0)
        pre = np.zeros(n0)
        post = np.zeros(n0)
        ratio = np.zeros(n0)
        cw = self.cohorts.set_index("cohort_index")["weight"]
        for a in sorted(base):
            adopt = np.r_[np.full(n0 - 1, T), a]
            _, taus, weights = _fit(p.Y[rows], adopt, self.method)
            omega, lam = weights[a]
            gap = _gaps(p.Y[rows], n0 - 1, a, omega, lam)
            w = float(cw.loc[a])
            r_pre = np.sqrt((gap[:, :a] ** 2).mean(axis=1))
            r_post = np.sqrt((gap[:, a:] ** 2).mean(axis=1))
            est += w * taus[a]
            pre += w * r_pre
            post += w * r_post
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio += w * (r_post / r_pre)
        tr = self.effects
        t_pre = t_post = t_ratio = 0.0
        for a in base:
            e = tr[tr["cohort_index"] == a]
            w = float(cw.loc[a])
            rp = float(np.sqrt((e.loc[~e["post"], "effect"] ** 2).mean()))
            rq = float(np.sqrt((e.loc[e["post"], "effect"] ** 2).mean()))
            t_pre, t_post = t_pre + w * rp, t_post + w * rq
            t_ratio += w * (rq / rp if rp > 0 else np.inf)
        table = pd.DataFrame({
            "unit": np.r_[p.units[controls], ["treated" if (p.adopt < T).sum() > 1
                                              else p.units[p.adopt < T][0]]],
            "estimate": np.r_[est, self.estimate], "pre_rmspe": np.r_[pre, t_pre],
            "post_rmspe": np.r_[post, t_post], "ratio": np.r_[ratio, t_ratio],
            "treated": np.r_[np.zeros(n0, bool), True]})
        n = len(table)
        rank = int((table["estimate"].abs() >= abs(self.estimate)).sum())
        rank_ratio = int((table["ratio"] >= t_ratio).sum())
        return PlaceboResult(table, rank, rank_ratio, rank / n, rank_ratio / n,
                             settings={"method": self.method})

    def plot(self, ax: Any = None, *, language: str = DEFAULT_LANGUAGE, cohort: Any = None) -> Any:
        """Treated units' mean and their synthetic counterfactual over time, start marked, and the
        time weights as bars along the bottom (one cohort: the first unless ``cohort`` is given)."""
        import matplotlib.pyplot as plt

        lab = _labels(language)
        c = self.cohorts["cohort"].iloc[0] if cohort is None else cohort
        e = self.effects[self.effects["cohort"] == c]
        if e.empty:
            raise ParameterError(f"no cohort {cohort!r}; cohorts are {self.cohorts['cohort'].tolist()}")
        if ax is None:
            _, ax = plt.subplots(figsize=(8, 4))
        ax.plot(e["time"], e["treated"], "-", color="#D55E00", lw=1.8, label=lab["treated"])
        ax.plot(e["time"], e["synthetic"], "--", color="#0072B2", lw=1.6, label=lab["synthetic"])
        start = e.loc[e["post"], "time"].iloc[0]
        ax.axvline(start, color="0.3", lw=1, label=lab["start"])
        tw = self.time_weights[self.time_weights["cohort"] == c]
        if self.method != "sc" and tw["weight"].sum() > 0:
            lo, hi = ax.get_ylim()
            ax.bar(tw["time"], tw["weight"] * 0.15 * (hi - lo), bottom=lo, color="0.6", alpha=0.6,
                   label=lab["lambda"])
            ax.set_ylim(lo, hi)
        ax.set_xlabel(lab["time"])
        ax.set_ylabel(lab["value"])
        names = _METHOD_NAMES_SV if language == "sv" else _METHOD_NAMES
        title = f"{names[self.method]}: {self.estimate:.3g}"
        if len(self.cohorts) > 1:
            title += f" ({lab['cohort'].format(c=c)})"
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8, frameon=False)
        return ax.figure

    def summary(self, language: str = DEFAULT_LANGUAGE) -> str:
        """Plain-text summary of the estimate, its inference and the largest weights."""
        w = _SUMMARY[_labels_language(language)]
        names = _METHOD_NAMES_SV if language == "sv" else _METHOD_NAMES
        top = self.unit_weights.sort_values("weight", ascending=False).head(5)
        reps = (w["reps"].format(r=self.replications, s=self.seed)
                if self.se_method != "jackknife" else "")
        lines = [
            f"{names[self.method]} {w['cite']}",
            w["att"].format(e=self.estimate, se=self.se, m=self.se_method, reps=reps,
                            lv=f"{self.level:.0%}", lo=self.lower, hi=self.upper),
            w["units"].format(t=int(self.cohorts["n_treated"].sum()), k=len(self.cohorts),
                              c=int(self.cohorts["n_control"].iloc[0])),
            w["weights"] + ", ".join(f"{u} {x:.3f}" for u, x in
                                     zip(top["unit"], top["weight"], strict=True)),
        ]
        lines += list(self.notes)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = "<br>".join(self.summary().split("\n"))
        return f"<p>{head}</p>" + self.cohorts.drop(columns="cohort_index").to_html(
            index=False, float_format=lambda v: f"{v:.4f}")

    def __repr__(self) -> str:
        return (f"<SynthResult {self.method} ATT={self.estimate:.4g} se={self.se:.4g} "
                f"cohorts={len(self.cohorts)}>")


def _gaps(Y: np.ndarray, n0: int, t0: int, omega: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Treated mean minus its counterfactual in every period (R ``synthdid_effect_curve``, extended
    to the pre-periods), for a stack of panels: ``tau_t = d_t - lambda' d_pre`` with ``d`` the
    treated mean minus the omega-weighted controls."""
    d = Y[:, n0:, :].mean(axis=1) - np.einsum("bn,bnt->bt", omega, Y[:, :n0, :])
    return d - np.einsum("bt,bt->b", lam, d[:, :t0])[:, None]


# ------------------------------------------------------------------------------------------------
# Entry point
# ------------------------------------------------------------------------------------------------
def synth_did(
    panel: pd.DataFrame,
    *,
    unit: str,
    time: str,
    outcome: str,
    treated: str,
    method: str = "sdid",
    se: str = "placebo",
    replications: int = 200,
    seed: int = 0,
    level: float = 0.95,
    staggered: bool = True,
) -> SynthResult:
    """Synthetic difference-in-differences, synthetic control or DiD on a balanced long panel.

    The estimate is the weighted double difference of Arkhangelsky et al. (2021, eq. 1)::

        tau = (Ybar_tr,post - lambda' Ybar_tr,pre) - omega' (Ybar_co,post - Y_co,pre lambda)

    with unit weights ``omega`` and time weights ``lambda`` on the simplex found as R ``synthdid``
    finds them (module docstring); ``method`` chooses sdid, sc (``lambda = 0``, ``omega`` without
    intercept) or did (uniform weights). With several adoption cohorts each is estimated against the
    never-treated units and the estimates are averaged with weights ``N_a (T - a)`` (§5 of the paper).

    Parameters
    ----------
    panel
        Long, balanced: one row per unit and period, no missing values.
    unit, time, outcome
        Column names. ``time`` is sorted (years, dates, period numbers).
    treated
        A 0/1 (or boolean) column that is 1 for a treated unit in its treated periods, as in R's
        ``panel.matrices``; once 1 it must stay 1. Units never 1 are the controls.
    method
        ``"sdid"`` (default), ``"sc"`` or ``"did"``.
    se
        ``"placebo"`` (default; the only choice with one treated unit), ``"bootstrap"`` or
        ``"jackknife"`` (Arkhangelsky et al. Algorithms 4, 2, 3). When a method is undefined (one
        treated unit for bootstrap/jackknife) the standard error is NaN, the reason is in ``notes``
        and a :class:`~naravard_analysis.errors.DataWarning` is issued.
    replications
        Draws for placebo and bootstrap (R's default 200).
    seed
        Seed of the draws.
    level
        Confidence level of ``lower``/``upper`` (normal approximation).
    staggered
        Allow several adoption periods (cohort averaging); ``False`` demands simultaneous adoption
        as R ``synthdid`` does.

    Returns
    -------
    SynthResult
        ``estimate``, ``se``, ``lower``, ``upper``, ``unit_weights``, ``time_weights``, ``effects``
        (per-period), ``cohorts``, ``table``; ``plot()``, ``placebo()``, ``summary()``.

    Raises
    ------
    SchemaError
        Missing columns or values, a non 0/1 treatment column, an unbalanced panel, duplicated
        unit-periods, treatment switching off, no treated or no never-treated unit, fewer than two
        pre-treatment periods, or (with ``staggered=False``) several adoption periods.
    ParameterError
        Unknown ``method``/``se``, a bad ``level`` or ``replications``, or too few controls for the
        placebo standard error.

    Examples
    --------
    >>> from naravard_analysis.data import official  # doctest: +SKIP
    >>> prop99 = pd.read_csv(official.reference_dir() / "synthdid" / "california_prop99.csv",
    ...                      sep=";")  # doctest: +SKIP
    >>> res = synth_did(prop99, unit="State", time="Year", outcome="PacksPerCapita",
    ...                 treated="treated")  # doctest: +SKIP
    >>> round(res.estimate, 5)  # doctest: +SKIP
    -15.60383
    """
    if method not in METHODS:
        raise ParameterError(f"method must be one of {METHODS}, got {method!r}")
    if se not in SE_METHODS:
        raise ParameterError(f"se must be one of {SE_METHODS}, got {se!r}")
    if not 0 < level < 1:
        raise ParameterError(f"level must be between 0 and 1, got {level!r}")
    if isinstance(replications, bool) or not isinstance(replications, int | np.integer) or replications < 2:
        raise ParameterError(f"replications must be an integer of at least 2, got {replications!r}")
    p = _prepare(panel, unit, time, outcome, treated, staggered)
    base = _cohorts(p.Y, p.adopt, method)
    notes: list[str] = []
    ses = _standard_errors(p, base, method, se, int(replications), seed, notes)
    for n in notes:
        warnings.warn(n, DataWarning, stacklevel=2)
    z = float(stats.norm.ppf(0.5 + level / 2))
    T = p.Y.shape[1]
    size = {a: len(c.treated) * (T - a) for a, c in base.items()}
    total = sum(size.values())
    estimate = float(sum(size[a] / total * c.tau for a, c in base.items()))
    cohorts = pd.DataFrame([{
        "cohort": p.times[a], "cohort_index": a, "estimate": c.tau, "se": ses[1 + j],
        "lower": c.tau - z * ses[1 + j], "upper": c.tau + z * ses[1 + j], "weight": size[a] / total,
        "n_treated": len(c.treated), "n_control": len(c.controls), "n_pre": a, "n_post": T - a}
        for j, (a, c) in enumerate(sorted(base.items()))])
    return SynthResult(
        estimate=estimate, se=float(ses[0]), lower=estimate - z * ses[0], upper=estimate + z * ses[0],
        level=level, method=method, se_method=se, replications=int(replications), seed=seed,
        unit_weights=_unit_weights(p, base), time_weights=_time_weights(p, base),
        effects=_effects(p, base), cohorts=cohorts, notes=tuple(notes), _panel=p, _base=base)


def _standard_errors(p: _Panel, base: dict[int, _Cohort], method: str, se: str, B: int, seed: int,
                     notes: list[str]) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n1 = int((p.adopt < p.Y.shape[1]).sum())
    nan = np.full(1 + len(base), np.nan)
    if se == "placebo":
        return _placebo_se(p, base, method, B, rng)
    if se == "bootstrap":
        if n1 < 2:
            notes.append("bootstrap standard error undefined with one treated unit; use se='placebo'")
            return nan
        return _bootstrap_se(p, base, method, B, rng)
    problem = _jackknife_problem(p, base)
    if problem:
        notes.append(f"jackknife standard error undefined: {problem}; use se='placebo'")
        return nan
    return _jackknife_se(p, base, method)


def _unit_weights(p: _Panel, base: dict[int, _Cohort]) -> pd.DataFrame:
    return pd.concat([pd.DataFrame({"cohort": p.times[a], "unit": p.units[c.controls],
                                    "weight": c.omega_full[c.controls]})
                      for a, c in sorted(base.items())], ignore_index=True)


def _time_weights(p: _Panel, base: dict[int, _Cohort]) -> pd.DataFrame:
    return pd.concat([pd.DataFrame({"cohort": p.times[a], "time": p.times[:a], "weight": c.lam})
                      for a, c in sorted(base.items())], ignore_index=True)


def _effects(p: _Panel, base: dict[int, _Cohort]) -> pd.DataFrame:
    T = p.Y.shape[1]
    frames = []
    for a, c in sorted(base.items()):
        Ya = p.Y[np.r_[c.controls, c.treated]][None]
        n0 = len(c.controls)
        gap = _gaps(Ya, n0, a, c.omega_full[c.controls][None], c.lam[None])[0]
        tr = Ya[0, n0:].mean(axis=0)
        frames.append(pd.DataFrame({
            "cohort": p.times[a], "cohort_index": a, "time": p.times, "event_time": np.arange(T) - a,
            "post": np.arange(T) >= a, "treated": tr, "synthetic": tr - gap, "effect": gap}))
    return pd.concat(frames, ignore_index=True)
