"""Interval functions against independent calculations."""

import numpy as np
from scipy import stats

from naravard_analysis.core.intervals import (
    byar_limits,
    fay_feuer_limits,
    garwood_limits,
    wilson_interval,
)


def test_garwood_is_the_gamma_form_and_byar_approximates_it():
    o = np.arange(0, 200, dtype=float)
    lo, hi = garwood_limits(o, 0.9)
    # Exact Poisson limits written with the gamma quantile (Ulm 1990): same numbers.
    assert np.array_equal(lo, np.where(o > 0, stats.gamma.ppf((1 - 0.9) / 2, np.where(o > 0, o, 1)), 0.0))
    assert np.array_equal(hi, stats.gamma.ppf(1 - (1 - 0.9) / 2, o + 1))
    blo, bhi = byar_limits(o[10:], 0.9)
    assert np.allclose(blo, lo[10:], rtol=0.01) and np.allclose(bhi, hi[10:], rtol=0.01)


def test_fay_feuer_single_stratum_is_garwood_rate():
    # One stratum, weight 1, n people: DSR = x/n, var = x/n², w_M = 1/n -> Garwood limits / n.
    x, n = np.array([0.0, 3.0, 40.0]), 1000.0
    lo, hi = fay_feuer_limits(x / n, x / n**2, np.full(3, 1 / n), 0.95)
    glo, ghi = garwood_limits(x, 0.95)
    assert np.allclose(lo, glo / n) and np.allclose(hi, ghi / n)


def test_wilson_contains_the_estimate_and_is_exact_at_the_ends():
    x, n = np.array([0, 3, 10]), np.array([10, 10, 10])
    lo, hi = wilson_interval(x, n, 0.9)
    assert lo[0] == 0.0 and hi[2] == 1.0 and (lo <= x / n).all() and (x / n <= hi).all()
