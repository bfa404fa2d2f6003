"""Entropy balancing within strata: kernel = reference, exact balance, totals kept, known truth."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from naravard_analysis.methods.balancing import entropy_balance, entropy_balance_reference


def _problem(seed: int, n: int = 300, k: int = 3, strata: int = 4):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, k))
    s = rng.integers(0, strata, n)
    t = rng.random(n) < 1 / (1 + np.exp(-(0.8 * x[:, 0] - 0.5 * x[:, 1] - 1 + 0.3 * s)))
    b = rng.uniform(0.5, 2.0, n)
    return x, t, b, s


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000))
def test_kernel_equals_reference(seed):
    x, t, b, s = _problem(seed)
    fast = entropy_balance(x, t, base_weight=b, strata=s).weights
    ref = entropy_balance_reference(x, t, base_weight=b, strata=s)
    np.testing.assert_allclose(fast, ref, rtol=1e-4, atol=1e-5)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000))
def test_means_balance_and_stratum_totals_are_kept(seed):
    x, t, b, s = _problem(seed)
    r = entropy_balance(x, t, base_weight=b, strata=s)
    assert r.converged
    w = r.weights
    np.testing.assert_allclose(w[~t] @ x[~t] / w[~t].sum(), x[t].mean(0), atol=1e-3)
    np.testing.assert_allclose(np.bincount(s[~t], weights=w[~t], minlength=4),
                               np.bincount(s[t], minlength=4), rtol=1e-9)
    assert (w[t] == 1).all() and (w[~t] > 0).all()


def test_impossible_balance_is_reported_not_hidden():
    x, t, b, s = _problem(3)
    x = x.copy()
    x[t, 0] += 10  # treated far outside every control
    r = entropy_balance(x, t, base_weight=b, strata=s)
    assert not r.converged
    assert r.max_abs_smd > 0.1
    assert np.isfinite(r.weights).all()


def test_recovers_the_att_when_assignment_is_log_linear_within_strata():
    """Known truth: outcome depends on x and stratum; the effect on the treated is exactly 2."""
    rng = np.random.default_rng(7)
    n = 40_000
    x = rng.normal(size=(n, 2))
    s = rng.integers(0, 5, n)
    t = rng.random(n) < 1 / (1 + np.exp(-(1.2 * x[:, 0] + 0.5 * x[:, 1] - 2 + 0.4 * s)))
    y0 = 1 + 2 * x[:, 0] + x[:, 1] + 0.5 * s + rng.normal(size=n)
    y = y0 + 2 * t
    naive = y[t].mean() - y[~t].mean()
    w = entropy_balance(x, t, strata=s).weights
    att = y[t].mean() - np.average(y[~t], weights=w[~t])
    assert abs(naive - 2) > 1  # confounded
    assert abs(att - 2) < 0.05


def test_no_covariates_keeps_the_stratum_weights():
    t = np.array([True, False, False, True, False])
    s = np.array([0, 0, 0, 1, 1])
    w = entropy_balance(np.zeros((5, 1)), t, strata=s).weights
    np.testing.assert_allclose(w, [1, 0.5, 0.5, 1, 1])
