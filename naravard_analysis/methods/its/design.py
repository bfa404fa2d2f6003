"""Design matrix of a segmented-regression interrupted time series.

Single series (methods reference §6.1, Linden centring §6.2)::

    g(E[Y_t]) = [log pop_t] + b0 + b1*T + b2*X + b3*X*(T - T_I)
                + sum_j (c_j*X_j + d_j*X_j*(T - T_j)) + sum_k (s_k sin(2 pi k S/P) + c_k cos(2 pi k S/P))

with T the period index counted from the first period of the data (0-based, as ``itsa`` >= 2.0.5),
X = 1{T >= T_I} (the interruption period belongs to the *post* period, as in CausalPy, methods reference §6.1), further interruptions j (e.g. COVID-19 start and end) and Fourier pairs of the season index S
(§6.4).  Controlled ITS (Linden ``itsa``, §6.8) adds Z, Z*T, Z*X, Z*X*(T - T_I) with Z = 1 for treated
units; the un-suffixed terms then describe the control group.

Term names (the index of ``ITSResult.effects``):

========================== ===================== ==================================================
term                       ``itsa`` name         meaning
========================== ===================== ==================================================
intercept                  ``_cons``             level at the first period (control group if controlled)
pre_trend                  ``_t``                slope per period before the interruption
level_change               ``_x<P>``             step at the interruption period T_I
slope_change               ``_x_t<P>``           change in slope per period after T_I
level_difference           ``_z``                treated - control level at T = 0
pre_trend_difference       ``_z_t``              treated - control pre-trend
level_change_difference    ``_z_x<P>``           treated - control step at T_I (effect on level)
slope_change_difference    ``_z_x_t<P>``         treated - control slope change (effect on trend)
level_change_<name>        --                    step at a further interruption
slope_change_<name>        --                    slope change after a further interruption
sin_k, cos_k               (Stata ``fourier``)   k-th harmonic pair of period P
========================== ===================== ==================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Design", "build_design", "MAIN_EFFECT_TERMS"]

# Terms switched off for the counterfactual (the main interruption's effect on the treated series).
MAIN_EFFECT_TERMS = {
    False: ("level_change", "slope_change"),
    True: ("level_change_difference", "slope_change_difference"),
}


@dataclass
class Design:
    """Numeric design of all rows (fitted and excluded); see the module docstring for the terms."""

    X: np.ndarray
    names: list[str]
    X_cf: np.ndarray
    effect_terms: tuple[str, ...]
    stata_names: dict[str, str] = field(default_factory=dict)

    def col(self, name: str) -> int:
        return self.names.index(name)


def _fourier(season: np.ndarray, harmonics: int, period: float) -> tuple[list[np.ndarray], list[str]]:
    """k = 1..K pairs sin(2 pi k S / P), cos(2 pi k S / P) (methods reference §6.4; tsModel ``harmonic``)."""
    cols, names = [], []
    angle = 2.0 * np.pi * np.asarray(season, dtype=float) / float(period)
    for k in range(1, harmonics + 1):
        cols += [np.sin(k * angle), np.cos(k * angle)]
        names += [f"sin_{k}", f"cos_{k}"]
    return cols, names


def build_design(
    index: np.ndarray,
    *,
    origin: int,
    interruption: int,
    slope_change: bool = True,
    step: bool = True,
    extra: list[tuple[str, int]] | None = None,
    season: np.ndarray | None = None,
    harmonics: int = 0,
    period: float = 12,
    treated: np.ndarray | None = None,
    interruption_label: str = "",
) -> Design:
    """Build the segmented-regression design for integer period ``index`` values.

    Parameters
    ----------
    index
        Integer period index of every row (see ``TimeAxis``).
    origin
        Index value where T = 0 (the first period of the data).
    interruption
        Index of the first post-intervention period T_I.
    slope_change, step
        Include the slope-change (X*(T - T_I)) and level-change (X) terms; ``step=False`` and
        ``slope_change=False`` give a trend-only model (pre-period forecast mode).
    extra
        Further interruptions as (name, index); each gets ``level_change_<name>`` (and
        ``slope_change_<name>`` when ``slope_change``).
    season, harmonics, period
        Fourier terms of ``season`` (defaults to ``index``).
    treated
        Boolean per row for a controlled ITS (Z), or None for a single-group ITS.
    """
    idx = np.asarray(index, dtype=np.int64)
    n = len(idx)
    T = (idx - origin).astype(float)
    X = (idx >= interruption).astype(float)
    Tc = X * (idx - interruption)  # Linden centring: 0 in the first post period (§6.2)
    cols: list[np.ndarray] = [np.ones(n), T]
    names = ["intercept", "pre_trend"]
    P = interruption_label
    stata = {"intercept": "_cons", "pre_trend": "_t"}
    if step:
        cols.append(X)
        names.append("level_change")
        stata["level_change"] = f"_x{P}"
    if slope_change and step:
        cols.append(Tc)
        names.append("slope_change")
        stata["slope_change"] = f"_x_t{P}"
    if treated is not None:
        Z = np.asarray(treated, dtype=float)
        cols += [Z, Z * T]
        names += ["level_difference", "pre_trend_difference"]
        stata.update(level_difference="_z", pre_trend_difference="_z_t")
        if step:
            cols.append(Z * X)
            names.append("level_change_difference")
            stata["level_change_difference"] = f"_z_x{P}"
        if slope_change and step:
            cols.append(Z * Tc)
            names.append("slope_change_difference")
            stata["slope_change_difference"] = f"_z_x_t{P}"
    for name, at in extra or []:
        Xj = (idx >= at).astype(float)
        cols.append(Xj)
        names.append(f"level_change_{name}")
        if slope_change:
            cols.append(Xj * (idx - at))
            names.append(f"slope_change_{name}")
    if harmonics:
        fc, fn = _fourier(idx if season is None else season, harmonics, period)
        cols += fc
        names += fn
    mat = np.column_stack(cols)
    effect_terms = tuple(t for t in MAIN_EFFECT_TERMS[treated is not None] if t in names)
    cf = mat.copy()
    for t in effect_terms:
        cf[:, names.index(t)] = 0.0
    return Design(X=mat, names=names, X_cf=cf, effect_terms=effect_terms, stata_names=stata)
