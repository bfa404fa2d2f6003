"""Entropy balancing within exact strata: control weights whose covariate means equal the treated's.

Entropy balancing (Hainmueller, *Political Analysis* 2012;20:25, "Entropy balancing for causal
effects") chooses control weights ``w_i`` as close as possible to base weights ``b_i`` (in
Kullback-Leibler divergence) subject to the weighted control means of the covariates ``x``
equalling the treated means. Here the weights must also sum to the number of treated persons
within each exact stratum ``s`` (a trial month × area × trigger-count cell), so that the exact
match is kept and the balance is achieved *on top of it*:

.. math::

    \\min_w \\sum_i w_i \\log(w_i / b_i) \\quad \\text{s.t.} \\quad
    \\sum_{i \\in s} w_i = n_{1s} \\;\\forall s, \\qquad \\sum_i w_i x_i = \\sum_{j: T_j=1} x_j .

The solution is ``w_i = n_{1s} b_i exp(λ'x_i) / Σ_{k∈s} b_k exp(λ'x_k)`` with ``λ`` minimising the
convex dual

.. math::

    f(λ) = \\sum_s n_{1s} \\log \\sum_{i \\in s} b_i e^{λ'x_i} - λ' \\sum_{j: T_j=1} x_j
           + \\tfrac{κ}{2} \\lVert λ \\rVert^2 ,

solved by Newton's method with a backtracking line search; the small ridge ``κ`` keeps the
solution finite when exact balance is impossible (the treated mean outside what the controls can
reach), in which case balance is approximate and reported. The weights are exactly those of a
propensity model ``logit P(T=1 | x, s) = α_s + λ'x`` fitted by its balancing score equations
(stratum-specific intercepts, common slopes), so the estimate is consistent when either that model
or a linear outcome model in ``x`` is right (Zhao & Percival, *J Causal Inference* 2017;5:20160010,
"Entropy balancing is doubly robust").

:func:`entropy_balance_reference` is the readable definition (scipy's general optimiser on the
same dual); :func:`entropy_balance` is the vectorised Newton solver the trials use, pinned equal by
a test.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["EntropyBalance", "entropy_balance", "entropy_balance_reference"]


@dataclass
class EntropyBalance:
    """Result of :func:`entropy_balance`.

    Attributes
    ----------
    weights
        Per row: 1 for the treated, the balancing weight for controls (0 in strata without treated).
    converged
        Whether the dual's optimum was reached (gradient below ``tol``) with balance within 0.001 SD.
    max_abs_smd
        Largest absolute difference of weighted control and treated means, in units of each
        covariate's standard deviation.
    iterations
        Newton steps taken.
    """

    weights: np.ndarray
    converged: bool
    max_abs_smd: float
    iterations: int


def _standardise(x: np.ndarray, treated: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Covariates centred at the treated mean and scaled by their SD; constant columns dropped."""
    x = np.asarray(x, float).reshape(len(treated), -1)
    sd = x.std(0)
    keep = sd > 1e-12
    if not treated.any():
        return np.zeros((len(x), 0)), sd[keep]
    z = (x[:, keep] - x[treated][:, keep].mean(0)) / sd[keep]
    return z, sd[keep]


def _stratum_weights(zc: np.ndarray, bc: np.ndarray, sc: np.ndarray, n1: np.ndarray,
                     lam: np.ndarray) -> tuple[float, np.ndarray]:
    """``(sum_s n1_s log sum_i b_i exp(λ'z_i), w)`` with the per-stratum log-sum-exp kept stable."""
    eta = zc @ lam
    top = np.full(n1.size, -np.inf)
    np.maximum.at(top, sc, eta)
    e = bc * np.exp(eta - top[sc])
    tot = np.bincount(sc, weights=e, minlength=n1.size)
    has = (n1 > 0) & (tot > 0)
    value = float((n1[has] * (np.log(tot[has]) + top[has])).sum())
    w = np.where(tot[sc] > 0, n1[sc] * e / np.where(tot[sc] > 0, tot[sc], 1.0), 0.0)
    return value, w


def entropy_balance(x: np.ndarray, treated: np.ndarray, *, base_weight: np.ndarray | None = None,
                    strata: np.ndarray | None = None, tol: float = 1e-6, max_iter: int = 200,
                    ridge: float = 1e-5) -> EntropyBalance:
    """Entropy-balancing weights for the controls within exact strata (module docstring).

    Parameters
    ----------
    x
        ``(rows, covariates)`` covariates to balance (means).
    treated
        Boolean per row.
    base_weight
        Controls' base weights ``b`` (e.g. sampling weights); 1 when ``None``.
    strata
        Non-negative integer stratum per row; one stratum when ``None``.
    tol
        Convergence: the largest element of the dual's gradient per treated row.
    max_iter
        Newton steps at most.
    ridge
        ``κ / n_treated``: the ridge of the dual (approximate balance when exact balance is impossible).

    Returns
    -------
    EntropyBalance

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.], [1.], [0.], [1.], [2.]])
    >>> t = np.array([True, True, False, False, False])
    >>> r = entropy_balance(x, t)
    >>> r.converged, round(float(r.weights[~t] @ x[~t, 0] / r.weights[~t].sum()), 4)  # treated mean 0.5
    (True, 0.5)
    """
    treated = np.asarray(treated, bool)
    n = treated.size
    b = np.ones(n) if base_weight is None else np.asarray(base_weight, float)
    s = np.zeros(n, np.int64) if strata is None else np.asarray(strata, np.int64)
    z, _ = _standardise(x, treated)
    n_s = int(s.max()) + 1 if n else 0
    n1 = np.bincount(s[treated], minlength=n_s).astype(float)
    zc, bc, sc = z[~treated], b[~treated], s[~treated]
    nt = max(float(treated.sum()), 1.0)
    target = z[treated].sum(0)
    kappa = ridge * nt
    lam = np.zeros(z.shape[1])

    def objective(lam: np.ndarray) -> tuple[float, np.ndarray]:
        value, w = _stratum_weights(zc, bc, sc, n1, lam)
        return value - lam @ target + 0.5 * kappa * lam @ lam, w

    value, w = objective(lam)
    it = 0
    while it < max_iter:
        it += 1
        grad = w @ zc - target + kappa * lam
        # stop at the optimum of the (ridged) dual: exact balance when it is feasible
        if z.shape[1] == 0 or float(np.abs(grad).max() / nt) < tol:
            break
        # Hessian: sum_s n1_s Cov_s(z) under the stratum's current weights
        m = np.zeros((n_s, z.shape[1]))
        np.add.at(m, sc, w[:, None] * zc)
        hess = (zc * w[:, None]).T @ zc - (m.T / np.where(n1 > 0, n1, 1.0)) @ m + kappa * np.eye(z.shape[1])
        step = np.linalg.lstsq(hess, grad, rcond=None)[0]
        t = 1.0
        while t > 1e-8:
            new_value, new_w = objective(lam - t * step)
            if new_value <= value - 1e-4 * t * float(grad @ step):
                break
            t /= 2
        else:
            break  # no descent: at the (ridge) optimum up to rounding
        lam = lam - t * step
        value, w = new_value, new_w
    out = np.ones(n)
    out[~treated] = w
    final_gap = float(np.abs(w @ zc - target).max() / nt) if zc.size else 0.0
    at_optimum = z.shape[1] == 0 or float(np.abs(w @ zc - target + kappa * lam).max() / nt) < tol
    return EntropyBalance(weights=out, converged=bool(at_optimum and final_gap < 1e-3), max_abs_smd=final_gap,
                          iterations=it)


def entropy_balance_reference(x: np.ndarray, treated: np.ndarray, *, base_weight: np.ndarray | None = None,
                              strata: np.ndarray | None = None, ridge: float = 1e-5) -> np.ndarray:
    """Readable definition of :func:`entropy_balance`: the dual minimised by scipy's BFGS.

    Returns the weights (1 for the treated).
    """
    from scipy.optimize import minimize

    treated = np.asarray(treated, bool)
    n = treated.size
    b = np.ones(n) if base_weight is None else np.asarray(base_weight, float)
    s = np.zeros(n, np.int64) if strata is None else np.asarray(strata, np.int64)
    z, _ = _standardise(x, treated)
    nt = float(treated.sum())
    target = z[treated].sum(0)
    kappa = ridge * nt
    strata_with_treated = np.unique(s[treated])

    def dual(lam: np.ndarray) -> float:
        total = -lam @ target + 0.5 * kappa * lam @ lam
        for st in strata_with_treated:  # the reference loops over strata on purpose
            rows = (s == st) & ~treated
            total += (treated & (s == st)).sum() * np.log(np.sum(b[rows] * np.exp(z[rows] @ lam)))
        return float(total)

    lam = minimize(dual, np.zeros(z.shape[1]), method="BFGS", options={"gtol": 1e-10}).x
    w = np.zeros(n)
    for st in strata_with_treated:
        rows = (s == st) & ~treated
        e = b[rows] * np.exp(z[rows] @ lam)
        w[rows] = (treated & (s == st)).sum() * e / e.sum()
    w[treated] = 1.0
    return w
