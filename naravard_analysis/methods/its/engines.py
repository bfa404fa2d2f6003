"""Estimation engines behind :func:`fit_its`: OLS, Poisson / quasi-Poisson GLM, NB2, Prais-Winsten, ARIMA errors.

Every engine returns an :class:`EngineFit` with the coefficient vector, its covariance matrix, the
residual degrees of freedom and whether inference uses t (OLS-type) or z (likelihood / GLM Wald).
The settings follow methods reference §6.3 (counts), §6.5 (Newey-West as Stata ``newey``) and §6.6 (AR(1)).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import statsmodels.api as sm

from naravard_analysis.errors import ParameterError

__all__ = ["EngineFit", "fit_engine", "prais_winsten"]

LOG_FAMILIES = ("poisson", "quasipoisson", "negbin")


@dataclass
class EngineFit:
    params: np.ndarray
    cov: np.ndarray
    df_resid: float
    use_t: bool
    dispersion: float
    pearson_dispersion: float
    model: Any
    rho: float | None = None
    extra_params: dict[str, float] | None = None


def _hac_kwds(cov_type: str, hac_lags: int | None, groups: np.ndarray | None) -> tuple[str, dict]:
    """statsmodels covariance settings equivalent to Stata ``newey, lag(L)`` (methods reference §6.5)."""
    if cov_type == "nonrobust":
        return "nonrobust", {}
    if cov_type == "robust":
        return "HC1", {}
    if cov_type != "hac":
        raise ParameterError(f"cov_type must be 'nonrobust', 'robust' or 'hac', not {cov_type!r}")
    if hac_lags is None or int(hac_lags) < 0:
        raise ParameterError("cov_type='hac' needs hac_lags=L >= 0 (Stata newey requires lag(); "
                             "choose L from the residual ACF, e.g. L = 1 for monthly AR(1))")
    if groups is None:
        return "HAC", {"maxlags": int(hac_lags), "use_correction": True}
    # Panel Newey-West: lags within units, Bartlett weights, n/(n-k) correction (methods reference §6.5).
    return "hac-panel", {"groups": groups, "maxlags": int(hac_lags), "use_correction": "hac"}


def _pearson(y: np.ndarray, mu: np.ndarray, var: np.ndarray, df: float) -> float:
    return float(np.sum((y - mu) ** 2 / var) / df) if df > 0 else np.nan


def fit_engine(
    family: str,
    y: np.ndarray,
    X: np.ndarray,
    *,
    offset: np.ndarray | None,
    cov_type: str,
    hac_lags: int | None,
    groups: np.ndarray | None,
    errors: str = "iid",
    arima_order: tuple[int, int, int] = (1, 0, 0),
    y_full: np.ndarray | None = None,
    X_full: np.ndarray | None = None,
) -> EngineFit:
    """Fit one ITS model; see the module docstring. ``y_full``/``X_full`` (with NaN outcome for
    excluded rows) are used by the ARIMA engine, whose Kalman filter skips missing periods."""
    n, k = X.shape
    if n <= k:
        raise ParameterError(f"{n} fitted periods for {k} parameters: the model is not identified")
    if np.linalg.matrix_rank(X) < k:
        raise ParameterError("the design matrix is rank deficient (an interruption with no periods "
                             "after it, a constant season, or an exclusion that removes a whole segment)")
    if errors == "prais":
        if family != "gaussian" or groups is not None or cov_type == "hac":
            raise ParameterError("errors='prais' is for a single Gaussian series with cov_type "
                                 "'nonrobust' (as Stata prais)")
        return prais_winsten(y, X)
    if errors == "arima":
        if family != "gaussian" or groups is not None:
            raise ParameterError("errors='arima' is for a single Gaussian series")
        return _fit_arima(y_full, X_full, arima_order)
    if errors != "iid":
        raise ParameterError(f"errors must be 'iid', 'prais' or 'arima', not {errors!r}")
    sm_cov, kw = _hac_kwds(cov_type, hac_lags, groups)
    df = float(n - k)
    if family == "gaussian":
        res = sm.OLS(y, X).fit(cov_type=sm_cov, cov_kwds=kw or None, use_t=True)
        return EngineFit(np.asarray(res.params), np.asarray(res.cov_params()), df, True,
                         float(res.scale), np.nan, res)
    if family in ("poisson", "quasipoisson"):
        model = sm.GLM(y, X, family=sm.families.Poisson(), offset=offset)
        scale = "X2" if family == "quasipoisson" else None
        res = model.fit(scale=scale, cov_type=sm_cov, cov_kwds=kw or None)
        mu = np.asarray(res.fittedvalues)
        pearson = _pearson(y, mu, mu, df)
        disp = pearson if family == "quasipoisson" else 1.0
        return EngineFit(np.asarray(res.params), np.asarray(res.cov_params()), df, False,
                         disp, pearson, res)
    if family == "negbin":
        model = sm.NegativeBinomial(y, X, offset=offset, loglike_method="nb2")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = model.fit(disp=0, maxiter=200, cov_type=sm_cov, cov_kwds=kw or None)
        params = np.asarray(res.params)
        cov = np.asarray(res.cov_params())
        alpha = float(params[-1])
        mu = np.exp(X @ params[:-1] + (0 if offset is None else offset))
        pearson = _pearson(y, mu, mu + alpha * mu**2, df)
        return EngineFit(params[:-1], cov[:-1, :-1], df, False, alpha, pearson, res,
                         extra_params={"alpha": alpha})
    raise ParameterError(f"family must be 'gaussian', 'poisson', 'quasipoisson' or 'negbin', not {family!r}")


def prais_winsten(y: np.ndarray, X: np.ndarray, *, tol: float = 1e-8, max_iter: int = 200) -> EngineFit:
    """Iterated Prais-Winsten AR(1) regression keeping the first observation.

    rho is re-estimated from the untransformed residuals e_t = y_t - x_t b as
    rho = sum_{t>=2} e_t e_{t-1} / sum_{t>=2} e_{t-1}^2 (Stata ``prais`` default ``rhotype(regress)``),
    the data are transformed as y*_1 = sqrt(1 - rho^2) y_1, y*_t = y_t - rho y_{t-1} (same for X) and
    OLS is refitted until rho changes by less than ``tol``. Covariance: s^2 (X*'X*)^-1 with
    s^2 = RSS*/(n - k), t(n - k) inference. statsmodels has no Prais-Winsten (methods reference §6.6:
    ``GLSAR`` drops the first observation and is Cochrane-Orcutt-like). Not cross-checked against
    Stata output (unverified); the transformation itself is checked by the tests.
    """
    n, k = X.shape
    b = np.linalg.lstsq(X, y, rcond=None)[0]
    rho = 0.0
    for _ in range(max_iter):
        e = y - X @ b
        new = float(np.dot(e[1:], e[:-1]) / np.dot(e[:-1], e[:-1]))
        new = float(np.clip(new, -0.999999, 0.999999))
        ys, Xs = _pw_transform(y, X, new)
        b = np.linalg.lstsq(Xs, ys, rcond=None)[0]
        if abs(new - rho) < tol:
            rho = new
            break
        rho = new
    ys, Xs = _pw_transform(y, X, rho)
    res = sm.OLS(ys, Xs).fit()
    return EngineFit(np.asarray(res.params), np.asarray(res.cov_params()), float(n - k), True,
                     float(res.scale), np.nan, res, rho=rho, extra_params={"rho": rho})


def _pw_transform(y: np.ndarray, X: np.ndarray, rho: float) -> tuple[np.ndarray, np.ndarray]:
    c = np.sqrt(1.0 - rho**2)
    ys = np.concatenate([[c * y[0]], y[1:] - rho * y[:-1]])
    Xs = np.vstack([c * X[:1], X[1:] - rho * X[:-1]])
    return ys, Xs


def _fit_arima(y: np.ndarray, X: np.ndarray, order: tuple[int, int, int]) -> EngineFit:
    """Regression with ARMA errors by exact ML (statsmodels SARIMAX, methods reference §6.6).

    The regressors (intercept included) enter as ``exog`` with ``trend='n'``; excluded periods are
    missing outcomes handled by the Kalman filter, so the AR structure keeps the calendar spacing.
    Covariance from the numerical Hessian (``cov_type='approx'``), z inference. Estimates are not
    comparable to OLS + Newey-West references.
    """
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    if order[1] != 0:
        raise ParameterError("arima_order must have d = 0: differencing would remove the level terms")
    k = X.shape[1]
    model = SARIMAX(y, exog=X, order=order, trend="n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = model.fit(disp=False, cov_type="approx", maxiter=500)
    params = np.asarray(res.params)
    cov = np.asarray(res.cov_params())
    n = int(np.isfinite(y).sum())
    names = list(model.param_names)[k:]
    return EngineFit(params[:k], cov[:k, :k], float(n - k), False, float(params[-1]), np.nan, res,
                     extra_params=dict(zip(names, params[k:].tolist(), strict=True)))
