"""Aggregate patient-level continuity indices: mean, pooled and share above a cut-point (§1.8)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from naravard_analysis.data.schema import require_columns
from naravard_analysis.errors import DataWarning, ParameterError
from naravard_analysis.indicators.continuity_core import INDEX_COLUMNS, _as_tuple

__all__ = ["continuity_distribution", "summarise_continuity"]


# --------------------------------------------------------------------------------------------------
# summarise_continuity
# --------------------------------------------------------------------------------------------------

#: Pooled (ratio-of-sums) form per index: numerator and denominator per person (§1.8; the COC form
#: is the methods reference's, the SECON/UPC/HHI analogues are derived the same way).  MCI and MMCI depend
#: only on (N, M) and have no pooled form.
_POOLED = {
    "coc": ("visit pairs", lambda d, n: d["coc"] * n * (n - 1), lambda n: n * (n - 1)),
    "secon": ("consecutive pairs", lambda d, n: d["secon"] * (n - 1), lambda n: n - 1),
    "upc": ("visits", lambda d, n: d["upc"] * n, lambda n: n),
    "hhi": ("squared visits", lambda d, n: d["hhi"] * n * n, lambda n: n * n),
}


def _ratio_ci(
    y: np.ndarray, x: np.ndarray, cluster: np.ndarray, level: float
) -> tuple[float, float, float]:
    """Ratio Σy/Σx with a linearised (cluster-robust) standard error over persons.

    With x = 1 and one row per person this is the sample mean with SE = sd/√P.
    """
    from scipy import stats

    tx = x.sum()
    if len(y) == 0 or tx == 0:
        return np.nan, np.nan, np.nan
    r = y.sum() / tx
    resid = y - r * x
    codes, _ = pd.factorize(cluster)
    per = np.bincount(codes, weights=resid)
    p = len(per)
    if p < 2:
        return r, np.nan, np.nan
    se = np.sqrt(p / (p - 1) * np.sum(per**2)) / tx
    z = stats.norm.ppf(0.5 + level / 2)
    return r, r - z * se, r + z * se


def _bootstrap_ci(
    y: np.ndarray,
    x: np.ndarray,
    cluster: np.ndarray,
    level: float,
    n_boot: int,
    rng: np.random.Generator,
) -> tuple[float, float]:
    """Percentile interval of Σy/Σx, resampling persons (clusters) with replacement."""
    codes, _ = pd.factorize(cluster)
    p = int(codes.max()) + 1 if len(codes) else 0
    if p < 2:
        return np.nan, np.nan
    ys = np.bincount(codes, weights=y, minlength=p)
    xs = np.bincount(codes, weights=x, minlength=p)
    reps = np.empty(n_boot)
    for b in range(n_boot):  # loop over replicates, each one vectorised over persons
        w = np.bincount(rng.integers(0, p, p), minlength=p)
        den = w @ xs
        reps[b] = (w @ ys) / den if den else np.nan
    lo, hi = np.nanquantile(reps, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def summarise_continuity(
    indices: pd.DataFrame,
    *,
    by: str | Sequence[str] | None = None,
    method: Literal["mean", "pooled"] = "mean",
    index: str | Sequence[str] | None = None,
    threshold: float = 0.7,
    ci: Literal["analytic", "bootstrap"] | None = "analytic",
    level: float = 0.95,
    n_boot: int = 999,
    seed: int | None = 0,
) -> pd.DataFrame:
    r"""Aggregate patient indices over the eligible persons of each group (§1.8).

    * ``method="mean"`` (default): (1/P) Σ_p I_p over the P eligible persons -- the literature's and
      RECOCA's clinic value.
    * ``method="pooled"``: ratio of sums weighted by visit pairs,
      COC = Σ_p (Σ_j n_pj² − N_p) / Σ_p N_p(N_p − 1); SECON analogously Σ_p Σ_i c_pi / Σ_p (N_p − 1),
      UPC Σ_p m_p / Σ_p N_p and HHI Σ_p Σ_j n_pj² / Σ_p N_p² (derived).  MCI and MMCI have no pooled
      form and are left out.
    * ``share_above``: (1/P) Σ_p 1{I_p ≥ threshold} (ABFM/NQF uses COC ≥ 0.7).

    Mean and pooled values differ whenever N differs between persons; the ``method`` column says
    which was used.  Which one SKR's kontinuitetsindex uses is unverified (§1.8).

    Confidence intervals: ``"analytic"`` uses the linearised (delta-method) variance of a ratio of
    sums with persons as clusters (a person appearing in several rows of a group -- e.g. several
    years -- counts once); for the mean of one row per person it is mean ± z·sd/√P.
    ``"bootstrap"`` resamples persons with replacement (``n_boot`` replicates, percentile interval,
    ``seed``).  The share's interval uses the same method.

    Parameters
    ----------
    indices
        Output of :func:`continuity_indices`.
    by
        Grouping columns present in ``indices`` (e.g. ``"year"``, ``"unit_id"``).
    method
        ``"mean"`` or ``"pooled"``.
    index
        Which indices to summarise (default all available for the method).
    threshold
        Cut-point for ``share_above``.
    ci, level, n_boot, seed
        Interval method (or ``None``), confidence level, replicates and random seed.

    Returns
    -------
    DataFrame
        One row per group and index: the ``by`` columns, ``index``, ``method``, ``n_persons`` (rows
        in the group), ``n_eligible`` (P), ``value``, ``lower``, ``upper`` (interval of ``value``
        at ``level``), ``share_above``, ``share_above_lower``, ``share_above_upper``,
        ``threshold``.  A group with P = 0 gets NaN values and a :class:`DataWarning`, never 0
        (§1.5).

    Examples
    --------
    Two patients with COC 1.0 (N = 2) and 0.0 (N = 4, all different providers): the mean is 0.5,
    the pooled value (2 + 0)/(2 + 12) = 1/7.

    >>> import pandas as pd
    >>> ind = pd.DataFrame({"person_id": [1, 2], "n_visits": [2, 4], "coc": [1.0, 0.0],
    ...                     "eligible": [True, True]})
    >>> summarise_continuity(ind, index="coc", ci=None)["value"].item()
    0.5
    >>> round(summarise_continuity(ind, index="coc", method="pooled", ci=None)["value"].item(), 4)
    0.1429
    """
    if method not in ("mean", "pooled"):
        raise ParameterError(f"method must be 'mean' or 'pooled', got {method!r}")
    if ci not in ("analytic", "bootstrap", None):
        raise ParameterError(f"ci must be 'analytic', 'bootstrap' or None, got {ci!r}")
    if not 0 < level < 1:
        raise ParameterError(f"level must be in (0, 1), got {level!r}")
    by_t = _as_tuple(by, "by") or ()
    default = INDEX_COLUMNS if method == "mean" else tuple(_POOLED)
    idx_t = _as_tuple(index, "index") or tuple(c for c in default if c in indices.columns)
    if method == "pooled":
        bad = [i for i in idx_t if i not in _POOLED]
        if bad:
            raise ParameterError(f"no pooled form for {bad} (MCI/MMCI depend only on N and M)")
    require_columns(indices, "continuity indices", ("person_id", "eligible", *by_t, *idx_t))
    if method == "pooled":
        require_columns(indices, "continuity indices", ("n_visits",))
    rng = np.random.default_rng(seed)

    groups = indices.groupby(list(by_t), sort=True, dropna=False) if by_t else [((), indices)]
    rows = []
    n_empty = 0
    for key, g in groups:
        key_t = key if isinstance(key, tuple) else (key,)
        el = g.loc[g["eligible"].to_numpy(dtype=bool)]
        pid = el["person_id"].to_numpy()
        n = el["n_visits"].to_numpy(dtype=np.float64) if "n_visits" in el else None
        for name in idx_t:
            vals = el[name].to_numpy(dtype=np.float64)
            if method == "mean":
                y, x = vals, np.ones_like(vals)
            else:
                _, num, den = _POOLED[name]
                # round: numerators are integers up to float error (e.g. Σn²−N)
                y, x = np.round(num(el, n).to_numpy(dtype=np.float64)), den(n)
            above = (vals >= threshold).astype(np.float64)
            one = np.ones_like(vals)
            if len(vals) == 0:
                n_empty += 1
            if ci == "bootstrap":
                value = y.sum() / x.sum() if x.sum() else np.nan
                lo, hi = _bootstrap_ci(y, x, pid, level, n_boot, rng)
                share = above.mean() if len(above) else np.nan
                slo, shi = _bootstrap_ci(above, one, pid, level, n_boot, rng)
            else:
                value, lo, hi = _ratio_ci(y, x, pid, level)
                share, slo, shi = _ratio_ci(above, one, pid, level)
                if ci is None:
                    lo = hi = slo = shi = np.nan
            rows.append(
                (
                    *key_t,
                    name,
                    method,
                    len(g),
                    len(el),
                    value,
                    lo,
                    hi,
                    share,
                    slo,
                    shi,
                    threshold,
                )
            )
    if n_empty:
        warnings.warn(
            f"{n_empty} group x index combinations have no eligible person; their value is NaN "
            "(methods reference §1.5)",
            DataWarning,
            stacklevel=2,
        )
    cols = [
        *by_t,
        "index",
        "method",
        "n_persons",
        "n_eligible",
        "value",
        "lower",
        "upper",
        "share_above",
        "share_above_lower",
        "share_above_upper",
        "threshold",
    ]
    out = pd.DataFrame(rows, columns=cols)
    out[["n_persons", "n_eligible"]] = out[["n_persons", "n_eligible"]].astype(np.int64)
    out.attrs = {
        "method": method,
        "ci": ci,
        "level": level,
        "n_boot": n_boot if ci == "bootstrap" else None,
        "seed": seed,
        "source": "methods reference §1.8",
        "indices_meta": dict(indices.attrs),
    }
    return out


def continuity_distribution(
    indices: pd.DataFrame,
    *,
    index: str = "coc",
    bins: int | Sequence[float] = 10,
    by: str | Sequence[str] | None = None,
) -> pd.DataFrame:
    """Number of eligible persons per bin of one index: the aggregate behind a distribution plot.

    Bins are closed on the left, ``[lo, hi)``, except the last one, which includes 1.0 (COC = 1,
    one provider, is common).  Ineligible persons (NaN index, §1.5) are not binned; their number
    is in ``attrs["n_ineligible"]``.  The result is an aggregate table (never person-level rows)
    to be passed through ``report.disclosure.suppress`` before it is shown.

    Parameters
    ----------
    indices
        Output of :func:`~naravard_analysis.indicators.continuity.continuity_indices`.
    index
        Index column to bin.
    bins
        Number of equal-width bins on [0, 1], or the bin edges.
    by
        Grouping columns of ``indices`` (e.g. ``"year"``).

    Returns
    -------
    DataFrame
        The ``by`` columns, ``bin`` (label such as ``"0.7-0.8"``), ``bin_low``, ``bin_high``,
        ``n_persons``; every bin appears in every group (zeros included).

    Examples
    --------
    >>> import pandas as pd
    >>> ind = pd.DataFrame({"coc": [0.0, 0.25, 1.0, None], "eligible": [True, True, True, False]})
    >>> continuity_distribution(ind, bins=2)[["bin", "n_persons"]].to_dict("records")
    [{'bin': '0.0-0.5', 'n_persons': 2}, {'bin': '0.5-1.0', 'n_persons': 1}]
    """
    by_t = _as_tuple(by, "by") or ()
    require_columns(indices, "continuity indices", (index, "eligible", *by_t))
    # rounded so that e.g. 0.7 is an exact edge (linspace gives 0.7000000000000001, which would
    # put COC = 0.7 -- the ABFM cut-point -- in the bin below)
    edges = (
        np.round(np.linspace(0.0, 1.0, int(bins) + 1), 12)
        if np.isscalar(bins)
        else np.asarray(bins, float)
    )
    if len(edges) < 2 or np.any(np.diff(edges) <= 0):
        raise ParameterError(f"bins must be a positive number or increasing edges, got {bins!r}")
    el = indices.loc[indices["eligible"].to_numpy(dtype=bool)]
    vals = el[index].to_numpy(dtype=np.float64)
    b = np.searchsorted(edges, vals, side="right") - 1
    b = np.where(vals == edges[-1], len(edges) - 2, b)  # right edge belongs to the last bin
    inside = (b >= 0) & (b < len(edges) - 1)
    labels = [f"{lo:.1f}-{hi:.1f}" for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    frame = el.loc[inside, list(by_t)].assign(_bin=b[inside])
    grid = pd.DataFrame({"_bin": np.arange(len(labels))})
    if by_t:
        keys = el[list(by_t)].drop_duplicates()
        grid = keys.merge(grid, how="cross")
        counts = frame.groupby([*by_t, "_bin"], dropna=False).size().rename("n_persons")
        out = grid.merge(counts.reset_index(), on=[*by_t, "_bin"], how="left")
    else:
        counts = np.bincount(frame["_bin"].to_numpy(dtype=np.int64), minlength=len(labels))
        out = grid.assign(n_persons=counts)
    out["n_persons"] = out["n_persons"].fillna(0).astype(np.int64)
    out["bin"] = np.asarray(labels)[out["_bin"]]
    out["bin_low"] = edges[:-1][out["_bin"]]
    out["bin_high"] = edges[1:][out["_bin"]]
    out = out.sort_values([*by_t, "_bin"], ignore_index=True)[
        [*by_t, "bin", "bin_low", "bin_high", "n_persons"]
    ]
    out.attrs = {"index": index, "n_ineligible": int(len(indices) - len(el)), "edges": edges}
    return out
