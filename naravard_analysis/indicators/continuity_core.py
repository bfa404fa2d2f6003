"""Vectorised continuity-of-care indices per person: COC, UPC, SECON, MCI, MMCI, HHI.

Formulas, undefined cases and data preparation follow methods reference §1.2, §1.5 and §1.6 (cited
as "§1.x").  Notation (§1.1), for one patient in one observation window: ``N`` contacts after
cleaning, ``M`` distinct providers, ``n_j`` contacts with provider ``j``, ``m = max_j n_j`` and
``c_i = 1`` when contacts ``i`` and ``i + 1`` (time order) are with the same provider.

The hot path is one ``np.sort`` of a packed 64-bit key (unit, filter flag, date, tie-break, provider)
and one sort of (unit, provider), followed by run-length counting with ``np.bincount`` and
``reduceat`` -- no per-person Python loop (§1.12).  See ``benchmarks/bench_continuity.py``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from naravard_analysis.data.schema import TABLES, require_columns
from naravard_analysis.engine import use_dask
from naravard_analysis.errors import DataWarning, ParameterError, SchemaError

__all__ = ["INDEX_COLUMNS", "continuity_indices"]

#: Index columns returned by :func:`continuity_indices` (§1.2).
INDEX_COLUMNS: tuple[str, ...] = ("coc", "upc", "secon", "mci", "mmci", "hhi")

#: Columns every contacts table needs here.
_CONTACT_COLUMNS = ("person_id", "contact_date")
#: Extra tie-break columns used for SECON when present (§1.6, "timestamp if present, contact id").
_DEFAULT_TIE_BREAK = ("contact_time", "contact_id")


# --------------------------------------------------------------------------------------------------
# Input preparation
# --------------------------------------------------------------------------------------------------


def _as_tuple(
    value: str | Sequence[str] | None, name: str, allow_empty: bool = False
) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    out = tuple(value)
    if (not out and not allow_empty) or not all(isinstance(v, str) for v in out):
        raise ParameterError(f"{name} must be None, a string or a non-empty sequence of strings")
    return out


#: Grouping columns that live in ``persons``, not in ``contacts`` (see the error in
#: :func:`_prepare_and_count`).
_PERSON_BY = ("sex", "municipality_code", "region_code")


def _check_filter_values(column: str, name: str, values: tuple[str, ...] | None) -> None:
    """Refuse filter values that no canonical contacts row can hold (they would match nothing).

    The allowed values are the canonical schema's (``TABLES["contacts"]``), so a misspelt or
    Swedish value (``"doctor"``, ``"primär"``) is an error listing the valid ones instead of an
    empty result.
    """
    if values is None:
        return
    allowed = TABLES["contacts"].column(column).allowed or ()
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise ParameterError(
            f"{name}: unknown value(s) {unknown} for contacts.{column}; "
            f"valid values are {list(allowed)}"
        )


def _codes(s: pd.Series) -> tuple[np.ndarray, Any]:
    """Integer codes (missing = -1) in sorted value order, and the sorted values.

    Sorted order makes the provider-id tie-break of SECON independent of row order.
    Categoricals reuse their codes, remapped to sorted category order (cheap: one small lookup).
    """
    if isinstance(s.dtype, pd.CategoricalDtype):
        cats = s.cat.categories
        codes = s.cat.codes.to_numpy().astype(np.int64)
        if not cats.is_monotonic_increasing:
            order = np.argsort(np.asarray(cats, dtype=object) if cats.dtype == object else cats)
            rank = np.empty(len(cats) + 1, dtype=np.int64)
            rank[order] = np.arange(len(cats))
            rank[-1] = -1  # code -1 (missing) stays -1
            codes = rank[codes]
            cats = cats[order]
        return codes, cats
    codes, uniques = pd.factorize(s, sort=True, use_na_sentinel=True)
    return codes.astype(np.int64, copy=False), uniques


def _group_codes(s: pd.Series) -> tuple[np.ndarray, Any]:
    """Codes for a ``by`` column; missing values form their own group (nothing disappears)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        codes = s.cat.codes.to_numpy().astype(np.int64)
        cats = list(s.cat.categories)
        if (codes < 0).any():
            codes = np.where(codes < 0, len(cats), codes)
            cats.append(np.nan)
        return codes, pd.Index(cats)
    codes, uniques = pd.factorize(s, sort=True, use_na_sentinel=False)
    return codes.astype(np.int64, copy=False), uniques


def _person_codes(s: pd.Series) -> tuple[np.ndarray, Any, int | None]:
    """Codes for person_id.  Dense integer ids are offset rather than hashed (fast, sorted output)."""
    if s.isna().any():
        mask = s.isna().to_numpy()
        raise SchemaError(
            "contacts", "person_id", "missing person id", int(mask.sum()), np.flatnonzero(mask)
        )
    if pd.api.types.is_integer_dtype(s.dtype) and len(s):
        v = s.to_numpy().astype(np.int64, copy=False)
        lo, hi = int(v.min()), int(v.max())
        if hi - lo < max(4 * len(v), 1 << 16):
            return v - lo, None, lo
    codes, uniques = pd.factorize(s, sort=True)
    return codes.astype(np.int64, copy=False), uniques, None


def _filter_mask(
    contacts: pd.DataFrame, column: str, allowed: tuple[str, ...] | None
) -> np.ndarray | None:
    """Rows kept by an ``isin`` filter, computed on categories when the column is categorical."""
    if allowed is None:
        return None
    s = contacts[column]
    if isinstance(s.dtype, pd.CategoricalDtype):
        keep_cat = np.asarray(s.cat.categories.isin(allowed))
        codes = s.cat.codes.to_numpy()
        return np.append(keep_cat, False)[codes]  # code -1 (missing) maps to the appended False
    return np.asarray(s.isin(allowed))


def _bits(n: int) -> int:
    """Bits needed to store the values 0..n-1."""
    return max(int(n - 1).bit_length(), 1) if n > 1 else 1


def _resolve_period(period: Any) -> tuple[str | None, Any]:
    """Normalise ``period`` to (kind, value): None, ('year'), ('freq', 'Q'/'M') or ('window', (a, b))."""
    if period is None:
        return None, None
    if isinstance(period, str):
        p = period.lower()
        if p in ("year", "y", "ys", "ye", "a"):
            return "year", None
        if p in ("quarter", "q", "qs", "qe"):
            return "freq", "Q"
        if p in ("month", "m", "ms", "me"):
            return "freq", "M"
        raise ParameterError(
            f"period={period!r} is not supported; use None, 'year', 'quarter', 'month' or a "
            "(start, end) window"
        )
    if isinstance(period, tuple | list) and len(period) == 2:
        start, end = (pd.Timestamp(x) for x in period)
        if end < start:
            raise ParameterError(f"period window ends before it starts: {period!r}")
        return "window", (start, end)
    raise ParameterError(f"period={period!r} is not supported")


@dataclass
class _Kernel:
    """Per-unit counts from the vectorised pass (one unit = person x by-group x period)."""

    unit_person: np.ndarray  # person code of each unit
    unit_group: np.ndarray  # combined by/period code of each unit
    n_visits: np.ndarray  # N
    n_providers: np.ndarray  # M
    n_max: np.ndarray  # m
    sum_sq: np.ndarray  # sum_j n_j^2 (int64, §1.12)
    n_same: np.ndarray  # sum_i c_i (SECON numerator)
    same_day_ties: np.ndarray  # bool: unit has a day with two or more different providers
    counts: dict[str, int]

    def subset(self, mask: np.ndarray) -> _Kernel:
        arrays = {
            f: getattr(self, f)[mask]
            for f in (
                "unit_person",
                "unit_group",
                "n_visits",
                "n_providers",
                "n_max",
                "sum_sq",
                "n_same",
                "same_day_ties",
            )
        }
        return _Kernel(**arrays, counts=dict(self.counts))


def _kernel(
    person: np.ndarray,
    group: np.ndarray,
    n_group: int,
    day: np.ndarray,
    tie: list[tuple[np.ndarray, int]],
    provider: np.ndarray,
    n_provider: int,
    kept: np.ndarray,
    dedupe: bool,
) -> _Kernel:
    """Count N, M, m, sum n_j^2 and the SECON numerator per unit, fully vectorised.

    Rows are ordered by one packed int64 key ``(unit, excluded-flag, day, tie-break..., provider)``;
    excluded rows sort after the kept ones of the same unit, so the unit still appears (with N = 0)
    but never interrupts a SECON sequence.  Falls back to ``np.lexsort`` when the key needs more
    than 63 bits.
    """
    n_person = int(person.max()) + 1 if len(person) else 1
    unit = person * n_group + group if n_group > 1 else person
    d0 = int(day.min()) if len(day) else 0
    dayo = day - d0
    fields: list[tuple[np.ndarray, int]] = [
        (unit, _bits(n_person * n_group)),
        ((~kept).astype(np.int64), 1),
        (dayo, _bits(int(dayo.max()) + 1 if len(dayo) else 1)),
        *[(c, _bits(k)) for c, k in tie],
        (provider, _bits(n_provider)),
    ]
    total_bits = sum(b for _, b in fields)
    if total_bits <= 63:
        key = np.zeros(len(unit), dtype=np.int64)
        for values, b in fields:
            key <<= b
            key |= values
        key.sort()  # in-place: every field can be decoded back from the sorted key
        shifts = np.cumsum([b for _, b in fields][::-1])[::-1]
        # shifts[i] = bits of field i and everything to its right
        u = key >> int(shifts[1])
        flag = (key >> int(shifts[2])) & 1
        v = key & ((1 << fields[-1][1]) - 1)
        d = (key >> int(shifts[3])) & ((1 << fields[2][1]) - 1)
        same_key_prev = np.empty(len(key), dtype=bool)
        if len(key):
            same_key_prev[0] = False
            np.equal(key[1:], key[:-1], out=same_key_prev[1:])
        del key
    else:  # pragma: no cover - exercised only with very wide keys
        order = np.lexsort(tuple(f for f, _ in fields[::-1]))
        u = unit[order]
        flag = (~kept).astype(np.int64)[order]
        v = provider[order]
        d = dayo[order]
        rest = [f[order] for f, _ in fields[3:]]
        same_key_prev = np.zeros(len(order), dtype=bool)
        if len(order):
            eq = (u[1:] == u[:-1]) & (flag[1:] == flag[:-1]) & (d[1:] == d[:-1])
            for r in rest:
                eq &= r[1:] == r[:-1]
            same_key_prev[1:] = eq

    nrows = len(u)
    new_unit = np.empty(nrows, dtype=bool)
    if nrows:
        new_unit[0] = True
        np.not_equal(u[1:], u[:-1], out=new_unit[1:])
    unit_ids = u[new_unit]
    n_units = len(unit_ids)
    uidx = np.cumsum(new_unit, dtype=np.int64) - 1  # dense unit index of each sorted row

    keep = flag == 0
    n_dupes = 0
    if dedupe:
        dup = same_key_prev & keep
        n_dupes = int(dup.sum())
        keep &= ~dup
    uk = uidx[keep]
    vk = v[keep]
    dk = d[keep]
    del uidx, flag, same_key_prev

    n_visits = np.bincount(uk, minlength=n_units).astype(np.int64)
    # SECON: consecutive kept rows of the same unit with the same provider (§1.2, §1.6).
    same_unit = uk[1:] == uk[:-1]
    same_prov = same_unit & (vk[1:] == vk[:-1])
    n_same = np.bincount(uk[1:][same_prov], minlength=n_units).astype(np.int64)
    # Days on which one unit saw two or more different providers: SECON depends on the tie-break.
    tie_rows = same_unit & (dk[1:] == dk[:-1]) & (vk[1:] != vk[:-1])
    same_day_ties = np.bincount(uk[1:][tie_rows], minlength=n_units) > 0
    del same_unit, same_prov, tie_rows, dk

    # Counts n_j per (unit, provider): sort a second packed key and run-length encode it.
    vbits = _bits(n_provider)
    pair = (uk << vbits) | vk
    del vk
    pair.sort()
    npairs = len(pair)
    starts_mask = np.empty(npairs, dtype=bool)
    if npairs:
        starts_mask[0] = True
        np.not_equal(pair[1:], pair[:-1], out=starts_mask[1:])
    starts = np.flatnonzero(starts_mask)
    n_j = np.diff(np.append(starts, npairs)).astype(np.int64)
    pair_unit = pair[starts] >> vbits
    del pair, starts_mask
    n_providers = np.bincount(pair_unit, minlength=n_units).astype(np.int64)
    sum_sq = np.zeros(n_units, dtype=np.int64)
    n_max = np.zeros(n_units, dtype=np.int64)
    if len(n_j):
        first = np.empty(len(pair_unit), dtype=bool)
        first[0] = True
        np.not_equal(pair_unit[1:], pair_unit[:-1], out=first[1:])
        seg = np.flatnonzero(first)
        units_with = pair_unit[seg]
        sum_sq[units_with] = np.add.reduceat(n_j * n_j, seg)
        n_max[units_with] = np.maximum.reduceat(n_j, seg)

    counts = {"n_duplicates_removed": n_dupes, "n_units": n_units}
    return _Kernel(
        unit_person=unit_ids // n_group if n_group > 1 else unit_ids,
        unit_group=unit_ids % n_group if n_group > 1 else np.zeros(n_units, dtype=np.int64),
        n_visits=n_visits,
        n_providers=n_providers,
        n_max=n_max,
        sum_sq=sum_sq,
        n_same=n_same,
        same_day_ties=same_day_ties,
        counts=counts,
    )


def _prepare_and_count(
    contacts: pd.DataFrame,
    *,
    professions: tuple[str, ...] | None,
    modes: tuple[str, ...] | None,
    care_levels: tuple[str, ...] | None,
    by: tuple[str, ...],
    period: Any,
    dedupe: bool,
    provider_col: str,
    tie_break: tuple[str, ...] | None,
) -> tuple[_Kernel, pd.DataFrame, dict[str, Any]]:
    """Validate, encode, filter and run the kernel; return the kernel, unit keys and metadata."""
    if not isinstance(contacts, pd.DataFrame):
        raise ParameterError("contacts must be a pandas DataFrame (canonical contacts table)")
    person_level = [c for c in by if c not in contacts.columns and c in ("age", *_PERSON_BY)]
    if person_level:
        raise ParameterError(
            f"by={list(by)}: contacts carry no {person_level}; add the person's attributes at the "
            "contact first: with_person_attributes(contacts, persons, date='contact_date') "
            "(naravard_analysis.indicators.person_attributes)"
        )
    needed = list(_CONTACT_COLUMNS) + [provider_col] + list(by)
    needed += [c for c, f in (("profession", professions), ("mode", modes)) if f is not None]
    if care_levels is not None:
        needed.append("care_level")
    require_columns(contacts, "contacts", dict.fromkeys(needed))
    _check_filter_values("profession", "professions", professions)
    _check_filter_values("mode", "modes", modes)
    _check_filter_values("care_level", "care_levels", care_levels)

    kind, pval = _resolve_period(period)
    n_in = len(contacts)
    meta: dict[str, Any] = {"n_rows_in": n_in}
    if kind == "window":
        start, end = pval
        dates = pd.to_datetime(contacts["contact_date"])
        inside = np.asarray((dates >= start) & (dates <= end))
        meta["n_outside_window"] = int((~inside).sum())
        contacts = contacts.loc[inside]

    dates = contacts["contact_date"]
    if not pd.api.types.is_datetime64_any_dtype(dates.dtype):
        try:
            dates = pd.to_datetime(dates)
        except (ValueError, TypeError) as exc:
            raise SchemaError("contacts", "contact_date", f"not a date ({exc})") from None
    if dates.isna().any():
        mask = dates.isna().to_numpy()
        raise SchemaError(
            "contacts",
            "contact_date",
            "missing contact date (SECON needs every contact in time order)",
            int(mask.sum()),
            np.flatnonzero(mask),
        )
    day = dates.to_numpy().astype("datetime64[D]").view(np.int64)

    person, person_uniques, person_offset = _person_codes(contacts["person_id"])

    # Missing or empty provider ids are dropped before counting N (§1.6, RECOCA) and counted.
    prov = contacts[provider_col]
    provider, provider_ids = _codes(prov)
    missing_prov = provider < 0
    labels = pd.Index(provider_ids)
    if len(labels) and not pd.api.types.is_numeric_dtype(labels.dtype):
        # empty or blank ids count as missing; checked on the distinct values only (cheap)
        blank = np.asarray(labels.astype(str).str.strip() == "")
        if blank.any():
            missing_prov |= np.append(blank, False)[provider]
    n_provider = int(provider.max()) + 1 if len(provider) else 1
    provider = np.where(missing_prov, 0, provider)

    kept = ~missing_prov
    meta["n_missing_provider"] = int(missing_prov.sum())
    n_filtered = 0
    for col, allowed in (
        ("profession", professions),
        ("mode", modes),
        ("care_level", care_levels),
    ):
        m = _filter_mask(contacts, col, allowed)
        if m is not None:
            n_filtered += int((kept & ~m).sum())
            kept &= m
    meta["n_filtered_out"] = n_filtered
    if n_in and not kept.any():
        warnings.warn(
            f"contacts: none of the {n_in} rows is left to count (outside the period: "
            f"{meta.get('n_outside_window', 0)}, missing provider: "
            f"{meta['n_missing_provider']}, outside the filters professions={professions}, "
            f"modes={modes}, care_levels={care_levels}: {n_filtered}); no index can be computed",
            DataWarning,
            stacklevel=3,
        )

    # by columns and period combine into one group code.
    group = np.zeros(len(contacts), dtype=np.int64)
    n_group = 1
    group_parts: list[tuple[str, Any, int]] = []
    for col in by:
        c, uniq = _group_codes(contacts[col])
        k = max(len(uniq), 1)
        group = group * k + c
        n_group *= k
        group_parts.append((col, uniq, k))
    if kind == "year":
        yr = dates.to_numpy().astype("datetime64[Y]").view(np.int64) + 1970
        y0 = int(yr.min()) if len(yr) else 0
        k = int(yr.max()) - y0 + 1 if len(yr) else 1
        group = group * k + (yr - y0)
        n_group *= k
        group_parts.append(("year", np.arange(y0, y0 + k, dtype=np.int64), k))
    elif kind == "freq":
        per = dates.dt.to_period(pval)
        c, uniq = pd.factorize(per, sort=True)
        k = max(len(uniq), 1)
        group = group * k + c
        n_group *= k
        group_parts.append(("period", uniq, k))

    tie_cols = (
        tuple(c for c in _DEFAULT_TIE_BREAK if c in contacts.columns)
        if tie_break is None
        else tuple(tie_break)
    )
    require_columns(contacts, "contacts", tie_cols)
    tie: list[tuple[np.ndarray, int]] = []
    for col in tie_cols:
        # sort=True so that the code order is the value order (times, ids) and hence row-order free
        c, uniq = pd.factorize(contacts[col], sort=True, use_na_sentinel=False)
        tie.append((c.astype(np.int64), max(len(uniq), 1)))

    if meta["n_missing_provider"]:
        warnings.warn(
            f"contacts.{provider_col}: {meta['n_missing_provider']} rows with a missing or empty "
            "provider id were excluded before counting visits (methods reference §1.6)",
            DataWarning,
            stacklevel=3,
        )

    k = _kernel(person, group, n_group, day, tie, provider, n_provider, kept, dedupe)
    meta["n_groups_without_counted_contacts"] = 0
    if n_group > 1:
        # A by/period group in which nobody has a counted contact (e.g. a specialist clinic when
        # counting primary care) is outside the analysis: its rows are dropped and counted.
        # Persons with 0 counted contacts in a group that has some stay (eligible=False).
        has = np.bincount(k.unit_group, weights=k.n_visits > 0, minlength=n_group) > 0
        keep_unit = has[k.unit_group]
        n_empty_groups = int(np.unique(k.unit_group[~keep_unit]).size)
        if n_empty_groups:
            k = k.subset(keep_unit)
        meta["n_groups_without_counted_contacts"] = n_empty_groups
    meta.update(k.counts)
    meta["n_units"] = len(k.n_visits)
    meta["tie_break"] = ("contact_date", *tie_cols, provider_col)

    # Decode unit keys back to person id, by values and period.
    if person_offset is not None:
        pid = pd.Series(k.unit_person + person_offset).astype(contacts["person_id"].dtype)
    else:
        pid = pd.Series(pd.Index(person_uniques).take(k.unit_person))
    keys: dict[str, Any] = {"person_id": pid.to_numpy()}
    rem = k.unit_group.copy()
    decoded: dict[str, Any] = {}
    for col, uniq, kk in reversed(group_parts):
        code = rem % kk
        rem //= kk
        vals = pd.Index(uniq).take(code)
        if col in by and isinstance(contacts[col].dtype, pd.CategoricalDtype):
            vals = pd.Categorical(vals, categories=contacts[col].cat.categories)
        decoded[col] = vals
    for col in [p[0] for p in group_parts]:
        keys[col] = decoded[col]
    return k, pd.DataFrame(keys), meta


# --------------------------------------------------------------------------------------------------
# continuity_indices
# --------------------------------------------------------------------------------------------------


def continuity_indices(
    contacts: pd.DataFrame,
    *,
    min_visits: int = 2,
    professions: str | Sequence[str] | None = None,
    modes: str | Sequence[str] | None = None,
    care_levels: str | Sequence[str] | None = ("primary",),
    by: str | Sequence[str] | None = None,
    period: str | tuple[Any, Any] | None = None,
    dedupe: bool = True,
    provider_col: str = "provider_id",
    tie_break: Sequence[str] | None = None,
    engine: str | None = None,
) -> pd.DataFrame:
    r"""Continuity-of-care indices per person (and ``by`` group and period).

    Formulas (methods reference §1.2; N contacts, M providers, n_j contacts with provider j,
    m = max n_j, c_i = 1 when contacts i and i+1 in time order share the provider):

    =====  ==================================================  ============================
    coc    (Σ_j n_j² − N) / (N(N − 1))                          Bice–Boxerman 1977
    upc    m / N                                                Usual Provider of Care
    secon  Σ_{i=1}^{N−1} c_i / (N − 1)                          Steinwachs 1979
    mci    1 − M / (N + 0.1)                                    Godkin & Rice
    mmci   (1 − M/(N + 0.1)) / (1 − 1/(N + 0.1))                Magill & Senf 1987
    hhi    Σ_j (n_j / N)²                                       Herfindahl–Hirschman
    =====  ==================================================  ============================

    Unit of analysis: one person in one window (the whole input, or each calendar year / quarter /
    month with ``period``), optionally within each ``by`` group (e.g. ``"unit_id"`` for continuity
    within a vårdcentral).  "Provider" is the column ``provider_col``: the clinician by default,
    ``"unit_id"`` for continuity to the unit (§1.1).

    Inclusion and exclusion (§1.5, §1.6):

    * rows with a missing or empty provider id are dropped before counting N, counted in
      ``attrs["n_missing_provider"]`` and announced with a :class:`DataWarning` (documented
      exclusion, as RECOCA);
    * the filters ``professions`` (``"physician"`` = kontinuitetsindex till läkare; ``None`` = all
      staff), ``modes`` (physical / video / phone; ``None`` = all) and ``care_levels`` (default
      primary care) select the contacts that are counted; filtered rows are counted in
      ``attrs["n_filtered_out"]``;
    * ``dedupe=True`` counts one contact per person, provider and day (Pollack/Hussey protocol);
    * every person (x group x period) present in the input stays in the result: those with fewer
      than ``min_visits`` counted contacts -- including 0 after filtering -- get ``eligible=False``
      and NaN in **all** indices, so the indices share one denominator.  The one exception: a
      ``by``/period group in which *nobody* has a counted contact (e.g. an emergency department
      when counting primary care by ``unit_id``) is outside the analysis and left out; the number
      of such groups is ``attrs["n_groups_without_counted_contacts"]``.

    SECON order and tie-break: contacts are ordered by (contact date, then ``contact_time`` and
    ``contact_id`` when those columns exist, or the columns named in ``tie_break``, then provider
    id).  The order therefore never depends on input row order.  When a person sees two or more
    different providers on one day, SECON depends on this convention (not on the data); such persons
    are counted in ``attrs["n_same_day_multi_provider"]``.

    Parameters
    ----------
    contacts
        Canonical contacts table (person_id, contact_date, provider_id, profession, unit_id,
        care_level, mode, planned).  Categorical columns are used as they are (fastest).
    min_visits
        Minimum N for the indices to be computed (default 2; below 2 is refused because COC and
        SECON are 0/0 at N = 1).
    professions, modes, care_levels
        Allowed values (string or sequence), or ``None`` for no filter.
    by
        Column name(s) of ``contacts`` to compute within (continuity is counted inside each group).
    period
        ``None`` (the input is the window: filter it first; its date span is recorded in
        ``attrs["window"]``), ``"year"`` (column ``year``), ``"quarter"`` / ``"month"`` (column
        ``period``) or a ``(start, end)`` window, both ends inclusive.
    dedupe
        Count one contact per person, provider and day.
    provider_col
        Column that defines the provider (``"provider_id"`` clinician, or ``"unit_id"``).
    tie_break
        Columns ordering same-day contacts before the provider id (default: ``contact_time``,
        ``contact_id`` when present).
    engine
        ``None`` follows the input (a Dask DataFrame partitioned by person runs on Dask); ``"dask"``
        also splits pandas tables by person. The Dask path returns a lazy Dask DataFrame with the
        same rows and values (see :mod:`naravard_analysis.indicators.distributed`).

    Returns
    -------
    DataFrame
        ``person_id``, the ``by`` columns, ``year``/``period`` when requested, ``n_visits`` (N),
        ``n_providers`` (M), ``coc``, ``upc``, ``secon``, ``mci``, ``mmci``, ``hhi``, ``eligible``;
        sorted by the keys.  ``attrs`` records the parameters and the exclusion counts.

    Raises
    ------
    SchemaError
        Missing columns, missing person ids or missing contact dates.
    ParameterError
        ``min_visits < 2`` or an unsupported ``period``.

    Examples
    --------
    A patient with visits A, A, B, A (one per day):

    >>> import pandas as pd
    >>> contacts = pd.DataFrame({"person_id": [1, 1, 1, 1],
    ...     "contact_date": pd.to_datetime(["2023-01-02", "2023-02-01", "2023-03-01", "2023-04-03"]),
    ...     "provider_id": ["A", "A", "B", "A"], "care_level": "primary"})
    >>> out = continuity_indices(contacts)
    >>> out[["n_visits", "n_providers", "coc", "upc", "secon"]].round(4).to_dict("records")
    [{'n_visits': 4, 'n_providers': 2, 'coc': 0.5, 'upc': 0.75, 'secon': 0.3333}]

    COC = (3² + 1² − 4)/(4·3) = 6/12; UPC = 3/4; SECON = (1 + 0 + 0)/3.
    """
    if use_dask(engine, contacts):  # the same computation per person partition
        from naravard_analysis.indicators import distributed

        return distributed.continuity_indices_dask(**locals())
    if not isinstance(min_visits, int | np.integer) or isinstance(min_visits, bool):
        raise ParameterError(f"min_visits must be an integer, got {min_visits!r}")
    if min_visits < 2:
        raise ParameterError(
            f"min_visits={min_visits} is below 2: COC and SECON are 0/0 at N = 1 "
            "(methods reference §1.5)"
        )
    by_t = _as_tuple(by, "by") or ()
    if len(set(by_t)) != len(by_t) or "person_id" in by_t:
        raise ParameterError(f"by={by!r} repeats a column or names person_id")
    prof_t = _as_tuple(professions, "professions")
    modes_t = _as_tuple(modes, "modes")
    levels_t = _as_tuple(care_levels, "care_levels")

    k, keys, meta = _prepare_and_count(
        contacts,
        professions=prof_t,
        modes=modes_t,
        care_levels=levels_t,
        by=by_t,
        period=period,
        dedupe=bool(dedupe),
        provider_col=provider_col,
        tie_break=_as_tuple(tie_break, "tie_break", allow_empty=True),
    )
    out = keys
    n = k.n_visits
    eligible = n >= min_visits
    nf = n.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        pairs = nf * (nf - 1.0)
        coc = (k.sum_sq - n) / pairs
        upc = k.n_max / nf
        secon = k.n_same / (nf - 1.0)
        mci = 1.0 - k.n_providers / (nf + 0.1)
        mmci = mci / (1.0 - 1.0 / (nf + 0.1))
        hhi = k.sum_sq / (nf * nf)
    out["n_visits"] = n
    out["n_providers"] = k.n_providers
    for name, values in zip(INDEX_COLUMNS, (coc, upc, secon, mci, mmci, hhi), strict=True):
        out[name] = np.where(eligible, values, np.nan)
    out["eligible"] = eligible

    meta.update(
        {
            "min_visits": int(min_visits),
            "professions": prof_t,
            "modes": modes_t,
            "care_levels": levels_t,
            "by": by_t,
            "period": period,
            "dedupe": bool(dedupe),
            "provider_col": provider_col,
            "n_eligible": int(eligible.sum()),
            "n_ineligible": int((~eligible).sum()),
            "n_same_day_multi_provider": int((k.same_day_ties & eligible).sum()),
            "source": "methods reference §1.2 (formulas), §1.5 (undefined cases), §1.6 (preparation)",
        }
    )
    if period is None and len(contacts):
        d = pd.to_datetime(contacts["contact_date"])
        meta["window"] = (d.min(), d.max())
    out.attrs = meta
    return out
