"""Sensitivity of an effect estimate to unmeasured confounding: the E-value.

The E-value (VanderWeele & Ding, *Ann Intern Med* 2017;167:268, "Sensitivity analysis in
observational research: introducing the E-value") is the minimum strength of association, on the
risk-ratio scale, that an unmeasured confounder would need to have with *both* the treatment and the
outcome, conditional on the measured covariates, to fully explain away an observed risk ratio:

    E = RR + sqrt(RR · (RR - 1))          for RR >= 1,
    E = 1/RR + sqrt(1/RR · (1/RR - 1))    for RR < 1 (take the inverse first).

For the confidence interval, the same formula is applied to the limit closer to 1 (the lower limit
when RR > 1, the upper when RR < 1); when the interval includes 1 the E-value of the limit is 1.
Rate ratios of the evaluation designs are used as risk ratios, as the paper allows for rare outcomes
(its Table: rate ratios enter directly). Unit: the estimate.

Examples
--------
The paper's worked example (breastfeeding and infant death, RR 3.9, 95 % CI 1.8-8.7) gives 7.26 for
the estimate and 3.0 for the lower limit:

>>> round(e_value(3.9), 2), round(e_value_limit(3.9, 1.8, 8.7), 1)
(7.26, 3.0)
"""

from __future__ import annotations

import numpy as np

__all__ = ["e_value", "e_value_limit"]


def e_value(rr: float | np.ndarray) -> float | np.ndarray:
    """E-value of a risk (or rate) ratio (module docstring); NaN for a missing or non-positive ratio."""
    r = np.asarray(rr, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(r < 1, 1 / r, r)
        out = np.where(np.isfinite(r) & (r > 0), r + np.sqrt(r * (r - 1)), np.nan)
    return float(out) if out.ndim == 0 else out


def e_value_limit(rr: float | np.ndarray, lower: float | np.ndarray,
                  upper: float | np.ndarray) -> float | np.ndarray:
    """E-value of the confidence limit closer to 1 (1 when the interval includes 1)."""
    r, lo, hi = (np.asarray(v, dtype=float) for v in (rr, lower, upper))
    limit = np.where(r >= 1, lo, hi)
    covers = (lo <= 1) & (hi >= 1)
    out = np.where(covers, 1.0, e_value(limit))
    out = np.where(np.isfinite(r) & np.isfinite(lo) & np.isfinite(hi), out, np.nan)
    return float(out) if out.ndim == 0 else out
