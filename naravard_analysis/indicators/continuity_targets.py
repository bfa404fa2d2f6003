"""Swedish continuity targets: the national kontinuitetsindex (§1.9) and Värmland's rule (§1.10)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from fractions import Fraction
from typing import Any, Literal

import numpy as np
import pandas as pd

from naravard_analysis.errors import DataWarning, ParameterError
from naravard_analysis.indicators.continuity_core import (
    _as_tuple,
    _prepare_and_count,
    continuity_indices,
)
from naravard_analysis.indicators.continuity_summary import summarise_continuity
from naravard_analysis.indicators.targets import TARGETS

__all__ = ["kontinuitetsindex", "regular_doctor_rule"]


# --------------------------------------------------------------------------------------------------
# kontinuitetsindex (national target)
# --------------------------------------------------------------------------------------------------


def kontinuitetsindex(
    contacts: pd.DataFrame,
    *,
    baseline_year: int,
    by: str | Sequence[str] | None = None,
    staff: Sequence[str] = ("physician", "all"),
    modes: str | Sequence[str] | None = None,
    care_levels: str | Sequence[str] | None = ("primary",),
    min_visits: int = 2,
    method: Literal["mean", "pooled"] = "mean",
    target: float = 0.20,
    ci: Literal["analytic", "bootstrap"] | None = "analytic",
    level: float = 0.95,
    dedupe: bool = True,
) -> pd.DataFrame:
    """Kontinuitetsindex (COC) per calendar year for physicians and all staff, against a baseline.

    The national target of the God och nära vård agreements: "kontinuitetsindex till läkare ska
    öka med 20 procent" (Läkartidningen 2022-10; methods reference §1.9).  SKR's kontinuitetsindex is
    the Bice–Boxerman COC (SKR Primärvårdskvalitet "Kontinuitet", 2024-02-05).  The target is
    assessed as relative change = COC_year / COC_baseline − 1 ≥ ``target``.

    Unverified elements are parameters, never silent constants (§1.9): the parallel all-staff
    target (``TARGETS["coc_all_staff"].verified is False``), the baseline year (believed 2019: a
    required argument), physical only vs physical + digital (``modes``, default all modes), the
    calendar-year window, ``min_visits`` (default 2), primary care only (``care_levels``) and mean
    vs pooled aggregation (``method``, default mean).

    Unit of analysis: person x calendar year (x ``by`` group); aggregation over eligible persons.

    Parameters
    ----------
    contacts
        Canonical contacts table.
    baseline_year
        Year the relative change is measured against.
    by
        Column(s) of ``contacts`` (e.g. ``"unit_id"``): indices are computed within each group.
    staff
        Any of ``"physician"`` (kontinuitetsindex till läkare) and ``"all"`` (all staff).
    modes, care_levels, min_visits, dedupe
        Passed to :func:`continuity_indices`.
    method, ci, level
        Passed to :func:`summarise_continuity`.
    target
        Required relative change (default 0.20).

    Returns
    -------
    DataFrame
        ``staff``, the ``by`` columns, ``year``, ``n_persons``, ``n_eligible``, ``coc``, ``lower``,
        ``upper`` (interval of ``coc`` at ``level``), ``baseline_coc``, ``relative_change``, ``target``, ``target_met`` (nullable
        boolean; NA when the baseline is missing), ``target_verified``.

    Examples
    --------
    >>> import pandas as pd
    >>> c = pd.DataFrame({"person_id": [1, 1, 1, 1], "provider_id": ["A", "B", "A", "A"],
    ...     "contact_date": pd.to_datetime(["2019-01-01", "2019-02-01", "2020-01-01", "2020-02-01"]),
    ...     "profession": "physician", "care_level": "primary"})
    >>> k = kontinuitetsindex(c, baseline_year=2019, staff=("physician",), ci=None)
    >>> k[["year", "coc", "relative_change"]].to_dict("records")
    [{'year': 2019, 'coc': 0.0, 'relative_change': nan}, {'year': 2020, 'coc': 1.0, 'relative_change': inf}]
    """
    staff_t = _as_tuple(staff, "staff") or ()
    bad = [s for s in staff_t if s not in ("physician", "all")]
    if bad or not staff_t:
        raise ParameterError(f"staff must be a subset of ('physician', 'all'), got {staff!r}")
    by_t = _as_tuple(by, "by") or ()
    parts = []
    for s in staff_t:
        ind = continuity_indices(
            contacts,
            min_visits=min_visits,
            professions=("physician",) if s == "physician" else None,
            modes=modes,
            care_levels=care_levels,
            by=by_t or None,
            period="year",
            dedupe=dedupe,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataWarning)
            summ = summarise_continuity(
                ind, by=(*by_t, "year"), method=method, index="coc", ci=ci, level=level
            )
        summ.insert(0, "staff", s)
        parts.append(summ)
    out = pd.concat(parts, ignore_index=True).rename(columns={"value": "coc"})
    out = out.drop(columns=["index", "share_above", "share_above_lower", "share_above_upper", "threshold"])
    base = out.loc[out["year"] == baseline_year, ["staff", *by_t, "coc"]].rename(
        columns={"coc": "baseline_coc"}
    )
    out = out.merge(base, on=["staff", *by_t], how="left")
    with np.errstate(divide="ignore", invalid="ignore"):
        out["relative_change"] = out["coc"] / out["baseline_coc"] - 1.0
    out["target"] = float(target)
    met = pd.array(out["relative_change"] >= target, dtype="boolean")
    met[out["relative_change"].isna().to_numpy()] = pd.NA
    out["target_met"] = met
    out["target_verified"] = out["staff"].map(
        {"physician": TARGETS["coc_physician"].verified, "all": TARGETS["coc_all_staff"].verified}
    )
    if not (out["year"] == baseline_year).any():
        warnings.warn(
            f"baseline_year {baseline_year} has no contacts; relative change is NaN",
            DataWarning,
            stacklevel=2,
        )
    out = out.sort_values(["staff", *by_t, "year"], kind="stable", ignore_index=True)
    out.attrs = {
        "baseline_year": baseline_year,
        "method": method,
        "modes": _as_tuple(modes, "modes"),
        "care_levels": _as_tuple(care_levels, "care_levels"),
        "min_visits": min_visits,
        "window": "calendar year",
        "target": target,
        "source": "methods reference §1.9; Läkartidningen 2022-10; SKR Primärvårdskvalitet 2024-02-05",
        "unverified": [
            "all-staff target",
            "baseline year",
            "physical vs digital contacts",
            "window",
            "min_visits",
            "primary care only",
            "mean vs pooled",
        ],
    }
    return out


# --------------------------------------------------------------------------------------------------
# Region Värmland continuity payment rule
# --------------------------------------------------------------------------------------------------


def regular_doctor_rule(
    contacts: pd.DataFrame,
    *,
    min_visits: int = 4,
    share: float = 0.5,
    professions: str | Sequence[str] | None = ("physician",),
    modes: str | Sequence[str] | None = ("physical",),
    care_levels: str | Sequence[str] | None = ("primary",),
    by: str | Sequence[str] | None = None,
    period: str | tuple[Any, Any] | None = None,
    dedupe: bool = True,
    persons: bool = False,
) -> pd.DataFrame:
    """Region Värmland's continuity payment rule ("kontinuitetsersättning"), unverified (§1.10).

    "Among patients with more than 3 physical physician visits, the share whose most-seen
    physician accounts for more than half of the visits."  Both thresholds are strict: a patient is
    eligible when N > 3 (``N >= min_visits`` with ``min_visits=4``) and meets the rule when
    m / N > ``share`` -- a share of exactly one half does not qualify.  The comparison is exact
    (integer arithmetic on ``share`` as a fraction).  No source document was found; every element
    is a parameter (``TARGETS["varmland_rule"].verified is False``).

    Unit of analysis: person (x ``by`` / period) for eligibility; the unit value is the share of
    eligible patients meeting the rule, per ``by`` group / period.

    Parameters
    ----------
    contacts
        Canonical contacts table.
    min_visits
        Smallest N that is eligible (4 = "more than 3").
    share
        The most-seen physician's share must exceed this.
    professions, modes, care_levels, by, period, dedupe
        Contacts counted and grouping, as in :func:`continuity_indices` (defaults: physical
        physician visits in primary care).
    persons
        Return the person-level rows (``n_visits``, ``n_usual``, ``usual_share``, ``eligible``,
        ``meets_rule``) instead of the group summary.

    Returns
    -------
    DataFrame
        Per group (one row when ``by`` and ``period`` are None): ``n_persons``, ``n_eligible``,
        ``n_meeting``, ``share_meeting`` (NaN when nobody is eligible).

    Examples
    --------
    Visits A, A, B, B (share exactly 0.5) and A, A, A, B (0.75):

    >>> import pandas as pd
    >>> c = pd.DataFrame({"person_id": [1] * 4 + [2] * 4, "provider_id": list("AABBAAAB"),
    ...     "contact_date": pd.to_datetime(["2023-01-0%d" % d for d in (1, 2, 3, 4)] * 2),
    ...     "profession": "physician", "mode": "physical", "care_level": "primary"})
    >>> regular_doctor_rule(c)[["n_eligible", "n_meeting", "share_meeting"]].to_dict("records")
    [{'n_eligible': 2, 'n_meeting': 1, 'share_meeting': 0.5}]
    """
    if not isinstance(min_visits, int | np.integer) or min_visits < 1:
        raise ParameterError(f"min_visits must be a positive integer, got {min_visits!r}")
    if not 0 <= share < 1:
        raise ParameterError(f"share must be in [0, 1), got {share!r}")
    q = Fraction(str(share)) if isinstance(share, float) else Fraction(share)
    by_t = _as_tuple(by, "by") or ()
    k, keys, meta = _prepare_and_count(
        contacts,
        professions=_as_tuple(professions, "professions"),
        modes=_as_tuple(modes, "modes"),
        care_levels=_as_tuple(care_levels, "care_levels"),
        by=by_t,
        period=period,
        dedupe=bool(dedupe),
        provider_col="provider_id",
        tie_break=None,
    )
    n = k.n_visits
    eligible = n >= min_visits
    meets = eligible & (k.n_max * q.denominator > q.numerator * n)
    meta.update(
        {
            "min_visits": int(min_visits),
            "share": share,
            "verified": TARGETS["varmland_rule"].verified,
            "source": "methods reference §1.10 (unverified)",
        }
    )
    if persons:
        out = keys
        out["n_visits"] = n
        out["n_usual"] = k.n_max
        with np.errstate(divide="ignore", invalid="ignore"):
            out["usual_share"] = np.where(n > 0, k.n_max / np.maximum(n, 1), np.nan)
        out["eligible"] = eligible
        out["meets_rule"] = meets
        out.attrs = meta
        return out
    gcols = [c for c in keys.columns if c != "person_id"]
    tmp = keys[gcols].copy() if gcols else pd.DataFrame(index=keys.index)
    tmp["n_persons"] = 1
    tmp["n_eligible"] = eligible.astype(np.int64)
    tmp["n_meeting"] = meets.astype(np.int64)
    if gcols:
        out = tmp.groupby(gcols, sort=True, dropna=False).sum().reset_index()
    else:
        out = tmp.sum().to_frame().T.astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["share_meeting"] = np.where(
            out["n_eligible"] > 0, out["n_meeting"] / out["n_eligible"].clip(lower=1), np.nan
        )
    out.attrs = meta
    return out
