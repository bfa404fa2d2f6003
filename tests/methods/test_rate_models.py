"""poisson_did at its edges: what it returns when the data cannot support a clustered estimate."""

from __future__ import annotations

import numpy as np
import pytest

from naravard_analysis.methods.rate_models import poisson_did


def test_one_person_gives_no_clustered_estimate_instead_of_dividing_by_zero():
    """A report on a small area can hold one enrolled person: the before/after fit then has one
    cluster and statsmodels' clustered covariance divides by G - 1 = 0 (ZeroDivisionError, found
    by the report's property test, world seed 8395 with 300 persons from 2020)."""
    y, t = np.array([4.0, 1.0]), np.array([0.5, 0.5])
    treated, post, w = np.ones(2), np.array([0.0, 1.0]), np.ones(2)
    fit = poisson_did(y, t, treated, post, w, np.array([7, 7]))
    assert all(np.isnan(fit[k]) for k in ("estimate", "lower", "upper", "se", "p_value"))
    # two persons: the before/after ratio (1 + 2) / (4 + 6) over equal person-time
    two = poisson_did(np.array([4.0, 1.0, 6.0, 2.0]), np.full(4, 0.5), np.ones(4), np.array([0.0, 1, 0, 1]),
                      np.ones(4), np.array([7, 7, 8, 8]))
    assert two["estimate"] == pytest.approx(3 / 10)
    assert np.isfinite(two["se"]) and two["lower"] < two["estimate"] < two["upper"]
