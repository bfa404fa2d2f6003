"""Rate-scale contrasts with person-clustered standard errors.

Two routes to the same numbers:

* :func:`poisson_did` fits the difference-in-differences on the rate scale with statsmodels: a
  Poisson GLM of the count ``y`` on ``treated``, ``post`` and ``treated × post`` with offset
  ``log(person-time)`` and weights, covariance clustered on the person (a pseudo-likelihood,
  so overdispersion does not bias the standard errors). ``exp(b[treated × post])`` is the ratio of
  rate ratios ``(case post/pre) / (control post/pre)`` (methods reference §7.2: "the effect is a DiD of
  post vs pre between treated and matched controls").
* :func:`log_ratio_influence` gives, for a *saturated* model, the same point estimate in closed
  form (a ratio of weighted sums) and the same cluster-robust variance from influence functions;
  it is used for the 25 monthly cells of the event study, where a GLM with 50 parameters on
  millions of unit-months would be slow for no gain.

For a saturated Poisson model the MLE of each cell rate is ``sum(w·y) / sum(w·t)`` and the
cluster sandwich equals ``sum_g IF_g²`` with ``IF_g = (Y_g / Y - T_g / T)`` per cell on the log
scale (derived); ``tests/methods/test_evaluation.py`` checks the two routes against each other.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from naravard_analysis.core.intervals import normal_quantile

__all__ = ["poisson_did", "log_ratio_influence"]


def poisson_did(y: np.ndarray, t: np.ndarray, treated: np.ndarray, post: np.ndarray,
                weight: np.ndarray, groups: np.ndarray, *, family: str = "poisson",
                level: float = 0.95) -> dict[str, float]:
    """Ratio of rate ratios by a weighted Poisson (or negative binomial) GLM with clustered errors.

    Parameters
    ----------
    y, t
        Count (or bed days) and person-time (> 0) of each unit-period row.
    treated, post
        0/1 indicators. Without any control row (``treated`` all 1) the model is the before/after
        rate ratio ``exp(b[post])`` instead.
    weight
        Row weights (matched controls: 1 / number of controls in the set).
    groups
        Cluster (person) of each row.
    family
        ``"poisson"`` (default) or ``"negbin"`` (NB2 with alpha 1, a working variance; the
        clustered covariance keeps the inference valid either way).
    level
        Confidence level of the Wald interval ``exp(b ± z·se)`` (default 0.95).

    Returns
    -------
    dict
        ``log_ratio``, ``se``, ``estimate`` (exp), ``lower``, ``upper``, ``p_value``; all NaN
        when a cell (arm × period) has no events or the rows come from fewer than two clusters
        (the clustered covariance scales by ``G / (G - 1)``: one person gives no standard error).
    """
    treated = np.asarray(treated, float)
    post = np.asarray(post, float)
    if np.all(treated == 1):
        X = np.column_stack([np.ones_like(post), post])
    else:
        X = np.column_stack([np.ones_like(post), treated, post, treated * post])
    fam = sm.families.Poisson() if family == "poisson" else sm.families.NegativeBinomial(alpha=1.0)
    nan = {"log_ratio": np.nan, "se": np.nan, "estimate": np.nan, "lower": np.nan, "upper": np.nan,
           "p_value": np.nan}
    # a cell without events has no finite log rate
    cells = pd.DataFrame({"y": y * weight, "tr": treated, "post": post}).groupby(["tr", "post"])["y"].sum()
    if (cells <= 0).any() or len(cells) < (4 if X.shape[1] == 4 else 2) or len(pd.unique(groups)) < 2:
        return nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sm.GLM(y, X, family=fam, offset=np.log(t), var_weights=weight).fit(
            cov_type="cluster", cov_kwds={"groups": pd.factorize(groups)[0]})
    b = float(res.params[-1])
    se = float(res.bse[-1])
    z = normal_quantile(level)
    return {"log_ratio": b, "se": se, "estimate": float(np.exp(b)), "lower": float(np.exp(b - z * se)),
            "upper": float(np.exp(b + z * se)), "p_value": float(2 * stats.norm.sf(abs(b / se)))}


def log_ratio_influence(y: np.ndarray, t: np.ndarray, groups: np.ndarray,
                        n_groups: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log rate of each cell and its per-cluster influence.

    Parameters
    ----------
    y, t
        Weighted counts and person-time, shape ``(rows, cells)``.
    groups
        Cluster code (0..n_groups-1) of each row.

    Returns
    -------
    (log_rate, influence, totals)
        ``log_rate`` of each cell (``log(sum y / sum t)``; NaN without events), the influence
        matrix ``(n_groups, cells)`` such that ``var(a · log_rate) ≈ sum_g (IF_g · a)²``, and the
        summed counts per cell.
    """
    Y = y.sum(0)
    T = t.sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_rate = np.where((Y > 0) & (T > 0), np.log(Y / T), np.nan)
        yg = np.zeros((n_groups, y.shape[1]))
        tg = np.zeros((n_groups, y.shape[1]))
        np.add.at(yg, groups, y)
        np.add.at(tg, groups, t)
        infl = np.where(Y > 0, yg / Y, 0.0) - np.where(T > 0, tg / T, 0.0)
    return log_rate, infl, Y
