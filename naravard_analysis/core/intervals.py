"""Confidence intervals for proportions, counts and directly standardised rates.

* :func:`wilson_interval` -- binomial proportion (Wilson 1927, JASA 22:209);
* :func:`garwood_limits` -- exact Poisson limits of a count (Garwood 1936, Biometrika 28:437);
* :func:`byar_limits` -- Byar's approximation to them (Breslow & Day 1987, vol. II, p. 69);
* :func:`fay_feuer_limits` -- gamma limits of a directly standardised rate (Fay & Feuer 1997,
  Stat Med 16:791);
* :func:`normal_quantile` -- the two-sided normal critical value of a Wald interval.

Every function takes the confidence ``level`` (default 0.95) and returns ``(lower, upper)``.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from naravard_analysis.errors import ParameterError

__all__ = ["byar_limits", "fay_feuer_limits", "garwood_limits", "normal_quantile", "wilson_interval"]


def normal_quantile(level: float = 0.95) -> float:
    """Two-sided normal critical value z = Φ⁻¹((1 + level)/2) of a Wald interval estimate ± z·se.

    Examples
    --------
    >>> round(normal_quantile(0.95), 6), round(normal_quantile(0.9), 6)
    (1.959964, 1.644854)
    """
    if not isinstance(level, float | int) or not 0 < level < 1:
        raise ParameterError(f"level must lie strictly between 0 and 1, got {level!r}")
    return float(stats.norm.ppf(0.5 + level / 2))


def wilson_interval(
    successes: np.ndarray | int, n: np.ndarray | int, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a binomial proportion (Wilson 1927).

    With p̂ = x/n and z the (1 + level)/2 normal quantile::

        centre = (p̂ + z²/(2n)) / (1 + z²/n)
        half   = z / (1 + z²/n) · sqrt(p̂(1 − p̂)/n + z²/(4n²))

    Returns (lower, upper), NaN where n = 0. Stays inside [0, 1], unlike the Wald interval.

    Examples
    --------
    >>> lo, up = wilson_interval(0, 10)
    >>> float(lo), round(float(up), 4)
    (0.0, 0.2775)
    """
    if not 0 < level < 1:
        raise ParameterError(f"level must lie strictly between 0 and 1, got {level!r}")
    x = np.asarray(successes, dtype="float64")
    m = np.asarray(n, dtype="float64")
    z = stats.norm.ppf(0.5 + level / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        ph = x / m
        denom = 1 + z**2 / m
        centre = (ph + z**2 / (2 * m)) / denom
        half = z / denom * np.sqrt(ph * (1 - ph) / m + z**2 / (4 * m**2))
        lower = np.where(m > 0, np.clip(centre - half, 0, 1), np.nan)
        upper = np.where(m > 0, np.clip(centre + half, 0, 1), np.nan)
    # Exact ends: x = 0 gives lower 0 and x = n gives upper 1 (float rounding otherwise).
    lower = np.where((m > 0) & (x == 0), 0.0, lower)
    upper = np.where((m > 0) & (x == m), 1.0, upper)
    return lower, upper


def garwood_limits(observed: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Exact Poisson limits of a count O from the chi-square distribution (Garwood 1936).

    O_L = χ²_{α/2}(2O) / 2 (0 when O = 0), O_U = χ²_{1−α/2}(2(O + 1)) / 2, α = 1 − level.

    Examples
    --------
    >>> lo, up = garwood_limits(np.array([5.0]))
    >>> round(float(lo[0]), 3), round(float(up[0]), 3)
    (1.623, 11.668)
    """
    o = np.asarray(observed, dtype=float)
    a = 1 - level
    lower = np.where(o > 0, stats.chi2.ppf(a / 2, 2 * np.where(o > 0, o, 1)) / 2, 0.0)
    upper = stats.chi2.ppf(1 - a / 2, 2 * (o + 1)) / 2
    return lower, upper


def byar_limits(observed: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Byar's approximation to the exact Poisson limits of a count O (Breslow & Day 1987).

    O_L = O (1 − 1/(9O) − z/(3√O))³ (0 when O = 0), O_U = (O+1)(1 − 1/(9(O+1)) + z/(3√(O+1)))³.

    Examples
    --------
    >>> lo, up = byar_limits(np.array([5.0]))
    >>> round(float(lo[0]), 2), round(float(up[0]), 2)
    (1.61, 11.67)
    """
    o = np.asarray(observed, dtype=float)
    z = stats.norm.ppf(1 - (1 - level) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = np.where(o > 0, o * (1 - 1 / (9 * o) - z / (3 * np.sqrt(o))) ** 3, 0.0)
    o1 = o + 1
    hi = o1 * (1 - 1 / (9 * o1) + z / (3 * np.sqrt(o1))) ** 3
    return lo, hi


def fay_feuer_limits(
    dsr: np.ndarray, var: np.ndarray, wm: np.ndarray, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Fay & Feuer (1997) gamma limits of a directly standardised rate, vectorised.

    With y = DSR, v its variance and w_M the largest stratum weight w_i / n_i:
    lower = Γ⁻¹_{α/2}(y²/v, scale v/y) (0 when y = 0),
    upper = Γ⁻¹_{1−α/2}((y + w_M)² / (v + w_M²), scale (v + w_M²) / (y + w_M)).
    """
    alpha = 1 - level
    with np.errstate(divide="ignore", invalid="ignore"):
        pos = dsr > 0
        lower = np.where(
            pos,
            stats.gamma.ppf(
                alpha / 2,
                np.where(pos, dsr**2 / np.where(var > 0, var, 1), 1),
                scale=np.where(pos, var / np.where(pos, dsr, 1), 1),
            ),
            0.0,
        )
        shape_u = (dsr + wm) ** 2 / (var + wm**2)
        scale_u = (var + wm**2) / (dsr + wm)
        upper = stats.gamma.ppf(1 - alpha / 2, shape_u, scale=scale_u)
    return lower, upper
