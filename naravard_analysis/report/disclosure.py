"""Small-cell suppression of published tables.

:func:`suppress` hides small counts in an aggregate table before it is drawn or written
(primary suppression), hides the rates computed from them, and hides further cells
(secondary suppression) so that no hidden value can be worked out from the row and column
totals the table also publishes. :func:`sort_by_displayed`, :func:`format_suppressed` and
:func:`suppression_note` help display the result. The scan of written outputs
(:func:`check_outputs`) lives in :mod:`naravard_analysis.report.scan` and is importable from
here as well.

Rules (methods reference §8.7, design choices of this project unless a source is named):

* A count ``c`` is *primary*-suppressed when ``1 <= c <= min_count - 1`` (Region Dalarna
  ``func_diagram.R``: hide counts 1 ... min_antal - 1). Zero is shown unless ``suppress_zero``.
  ``min_count`` defaults to 5; 3 (sdcTable ``maxN = 3``) and 10 (ACRO ``safe_threshold``) are
  common alternatives.
* A rate, share or mean is hidden when its numerator **or** denominator is below ``min_count`` or
  is itself hidden (otherwise ``rate * denominator`` gives the numerator back), whether or not
  the table publishes those counts: a before/after ratio of ``2/14 = 1/7`` with neither count
  shown still gives an after-count of 2 away (``hidden_counts=``). Confidence-interval columns go
  with their rate.
* *Secondary* suppression: every published total defines a linear equation
  ``sum(parts) - total = 0``. A hidden cell must not be recoverable from these equations, so
  (1) no equation may contain exactly one hidden cell -- if it does, the smallest visible
  positive non-total cell of that equation is hidden as well ("next-smallest cell"), repeated
  until stable; and (2) because (1) is not enough when hidden cells form chains (a hidden cell
  that is a *bridge* between two cycles of hidden cells in a 2-D table is determined by the
  equations although each equation holds two hidden cells), every connected group of hidden
  cells is then audited exactly: a hidden cell is recoverable iff its unit vector lies in the
  row space of the equations restricted to the hidden cells (pivoted QR; groups larger than
  ``max_block`` cells use a random null-space vector from LSQR, accepted only with a residual
  certificate). Recoverable cells get another complement until none is left. When choosing a
  complement, positive cells come before zeros, parts before totals, and a cell that fixes
  another one-hidden-cell equation at the same time before one that breaks a new equation.
  Dimensions may be columns or index levels (a ``pivot_table(margins=True)`` works as is).
  This protects against exact recovery by subtraction and linear algebra; it does not guarantee
  a minimum interval width (the "protection level" of tau-ARGUS or sdcTable) and it assumes the
  margins add up (a warning says when they do not, e.g. for Cell-Key-perturbed SCB figures).

Flags (design choice): every column ``suppress`` may blank -- each count column, each rate column
and each confidence-interval column -- gets a text column ``<col>_suppressed`` placed right after
it, holding ``""`` (shown), ``"primary"`` (a small count, or a rate whose numerator or denominator
is small) or ``"secondary"`` (hidden to protect another cell, or a rate whose count was so hidden).

Examples
--------
>>> import pandas as pd
>>> t = pd.DataFrame({"sex": ["F", "M", "Totalt"], "n": [3, 40, 43]})
>>> s = suppress(t, "n", dims=["sex"])
>>> s["n"].tolist(), s["n_suppressed"].tolist()
([<NA>, <NA>, 43], ['primary', 'secondary', ''])
>>> s.attrs["disclosure"]["n_primary"], s.attrs["disclosure"]["n_secondary"]
(1, 1)
"""

from __future__ import annotations

import contextlib
import re
import uuid
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.linalg import qr
from scipy.sparse.csgraph import connected_components

from naravard_analysis.core.defaults import DEFAULT_LANGUAGE
from naravard_analysis.errors import DataWarning, DisclosureError, ParameterError, format_examples
from naravard_analysis.report.scan import (
    DEFAULT_COUNT_PATTERNS,
    DisclosureReport,
    FileScan,
    Finding,
    check_outputs,
    is_count_column,
)

__all__ = [
    "DEFAULT_COUNT_PATTERNS",
    "DEFAULT_TOTAL_LABELS",
    "FLAG_SUFFIX",
    "DisclosureError",
    "DisclosureRegistry",
    "DisclosureReport",
    "FileScan",
    "Finding",
    "check_outputs",
    "check_suppressed",
    "format_suppressed",
    "is_count_column",
    "sort_by_displayed",
    "suppress",
    "suppression_note",
]

FLAG_SUFFIX = "_suppressed"
PRIMARY, SECONDARY = "primary", "secondary"
DEFAULT_TOTAL_LABELS = ("Total", "Totalt", "Alla", "Riket", "Båda könen", "all", "All")
SECONDARY_MARKER = ".."
_LANGUAGES = ("sv", "en")
# The package's output contract: an interval of ``rate`` is ``rate_lower``/``rate_upper`` (its
# standard error ``rate_se``), or ``lower``/``upper`` when the table has no other name for it.
_CI_SUFFIXES = ("lower", "upper", "se")
_CI_GENERIC = ("lower", "upper")
# Interval names outside the contract. They are never guessed: a float column with one of these
# names that no rate claims is refused, so an interval of a hidden rate cannot slip out unnoticed.
_FOREIGN_INTERVAL_NAMES = frozenset(
    ("ci_lower", "ci_upper", "ci_low", "ci_high", "ci_lo", "ci_hi", "lower_ci", "upper_ci",
     "lower95", "upper95", "lcl", "ucl", "ll", "ul", "l95", "u95", "lo", "hi", "low", "high",
     "nedre", "övre")
)


# ---------------------------------------------------------------------------------------------
# suppress
# ---------------------------------------------------------------------------------------------


def _check_language(language: str) -> str:
    if language not in _LANGUAGES:
        raise ParameterError(f"language must be one of {_LANGUAGES}, got {language!r}")
    return language


def _check_min_count(min_count: object) -> int:
    if isinstance(min_count, bool) or not isinstance(min_count, int | np.integer) or min_count < 1:
        raise ParameterError(
            f"min_count must be an integer >= 1 (e.g. 3, 5 or 10), got {min_count!r}"
        )
    return int(min_count)


def _as_names(value: str | Iterable[str] | None, what: str) -> list[str]:
    if value is None:
        return []
    names = [value] if isinstance(value, str) else list(value)
    if len(set(names)) != len(names):
        raise ParameterError(f"{what} lists a column twice: {names}")
    return names


def _require_columns(df: pd.DataFrame, names: Iterable[str], what: str) -> None:
    missing = [c for c in names if c not in df.columns]
    if missing:
        raise ParameterError(
            f"{what}: column(s) {missing} not in the table (columns: {list(map(str, df.columns))})"
        )


def _count_matrix(df: pd.DataFrame, counts: Sequence[str]) -> np.ndarray:
    """(n_rows, n_counts) float matrix of the count columns; NaN where missing."""
    cols = []
    for c in counts:
        s = df[c]
        if pd.api.types.is_bool_dtype(s.dtype) or not (
            pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_object_dtype(s.dtype)
        ):
            raise ParameterError(f"count column {c!r} is not numeric (dtype {s.dtype})")
        try:
            v = pd.to_numeric(s, errors="raise").astype("float64").to_numpy(na_value=np.nan)
        except (TypeError, ValueError) as err:
            raise ParameterError(f"count column {c!r} is not numeric (it holds text)") from err
        neg = np.flatnonzero(v < 0)
        if neg.size:
            raise ParameterError(
                f"count column {c!r}: counts cannot be negative -- {neg.size} row(s) are "
                f"({format_examples(neg)})"
            )
        cols.append(v)
    return np.column_stack(cols) if cols else np.zeros((len(df), 0))


def _hidden_counts(
    hidden_counts: pd.DataFrame | Mapping[str, object] | None, table: pd.DataFrame
) -> dict[str, np.ndarray]:
    """Name -> float values (one per row of ``table``, by position) of counts not published."""
    if hidden_counts is None:
        return {}
    if isinstance(hidden_counts, pd.DataFrame):
        items = {c: hidden_counts[c] for c in hidden_counts.columns}
    elif isinstance(hidden_counts, Mapping):
        items = dict(hidden_counts)
    else:
        raise ParameterError(
            "hidden_counts must be a DataFrame or a mapping name -> values (one per row of the "
            f"table); got {type(hidden_counts).__name__}"
        )
    out: dict[str, np.ndarray] = {}
    for name, values in items.items():
        if name in table.columns:
            raise ParameterError(
                f"hidden_counts: {name!r} is a column of the table; a hidden count is one the table "
                "does not publish (list a published count in count_cols)"
            )
        try:
            v = pd.to_numeric(pd.Series(np.asarray(values, dtype=object)), errors="raise")
        except (TypeError, ValueError) as err:
            raise ParameterError(f"hidden_counts: {name!r} is not numeric") from err
        v = v.astype("float64").to_numpy(na_value=np.nan)
        if len(v) != len(table):
            raise ParameterError(
                f"hidden_counts: {name!r} has {len(v)} values for a table of {len(table)} rows "
                "(one value per row, in the table's order)"
            )
        if (v < 0).any():
            raise ParameterError(f"hidden_counts: {name!r}: counts cannot be negative")
        out[str(name)] = v
    return out


def _small(v: np.ndarray, min_count: int, suppress_zero: bool) -> np.ndarray:
    """Cells the primary rule hides: 1 .. min_count - 1 (and 0 when ``suppress_zero``)."""
    with np.errstate(invalid="ignore"):
        small = (v > 0) & (v < min_count)
        if suppress_zero:
            small |= v == 0
    return small


def _is_float_col(s: pd.Series) -> bool:
    return pd.api.types.is_float_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype)


def _ci_columns(rate: str, columns: Sequence[str]) -> list[str]:
    """Interval / standard-error columns named after ``rate`` (``rate_lower``, ``rate_se``)."""
    names = {f"{rate.casefold()}_{a}" for a in _CI_SUFFIXES}
    return [c for c in columns if isinstance(c, str) and c != rate and c.casefold() in names]


def _foreign_interval(col: object, rates: Iterable[str]) -> bool:
    """A column named like an interval outside the contract (``ci_low``, ``rate_lcl``, ``ucl_rate``)."""
    if not isinstance(col, str):
        return False
    name = col.casefold()
    if name in _FOREIGN_INTERVAL_NAMES:
        return True
    for r in rates:
        r = r.casefold()
        for affix in _FOREIGN_INTERVAL_NAMES:
            if name in (f"{r}_{affix}", f"{affix}_{r}"):
                return True
    return False


def _rate_sources(
    df: pd.DataFrame,
    counts: list[str],
    rate_cols: Mapping[str, str | Sequence[str]] | None,
    dims: list[str] | None,
    interval_cols: Sequence[str] | Mapping[str, str | Sequence[str]] | None = None,
    hidden: Sequence[str] = (),
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Rate column -> source columns (or hidden counts), and CI column -> the rate(s) it goes with."""
    flags = {c for c in df.columns if isinstance(c, str) and c.endswith(FLAG_SUFFIX)}
    if rate_cols is None:
        # Documented default: every float column that is not a count, a dimension or a flag is
        # treated as derived from all counts of its row (the hidden ones too). Integer columns
        # (year, age, month) are left alone because in aggregate tables they are dimensions.
        skip = set(counts) | flags | set(dims or ())
        rates = [
            c
            for c in df.columns
            if c not in skip and (_is_float_col(df[c]) or _rate_named_number(df, c))
        ]
        return {c: [*counts, *hidden] for c in rates}, {}
    if not isinstance(rate_cols, Mapping):
        raise ParameterError(
            "rate_cols must map each rate column to the count column(s) it is computed from, "
            f"e.g. {{'rate': ['events', 'population']}}; got {type(rate_cols).__name__}"
        )
    sources = {r: _as_names(s, f"rate_cols[{r!r}]") for r, s in rate_cols.items()}
    _require_columns(df, sources, "rate_cols")
    for r, s in sources.items():
        _require_columns(df, [c for c in s if c not in hidden], f"rate_cols[{r!r}]")
        if not s:
            raise ParameterError(f"rate_cols[{r!r}] names no count column")
        if r in counts:
            raise ParameterError(f"{r!r} is listed both as a count column and as a rate column")
    ci_of: dict[str, list[str]] = {}
    taken = set(sources) | set(counts) | flags
    for r in sources:
        for c in _ci_columns(r, list(df.columns)):
            if c not in taken:
                ci_of.setdefault(c, []).append(r)
    for c, rates in _interval_sources(df, interval_cols, sources).items():
        if c in taken:
            raise ParameterError(f"interval_cols: {c!r} is already a count or rate column")
        ci_of[c] = rates
    for c in df.columns:
        # an interval without a rate name (lower, upper) goes with every rate of its row
        if isinstance(c, str) and c.casefold() in _CI_GENERIC and c not in taken | set(ci_of):
            ci_of[c] = list(sources)
    foreign = [c for c in df.columns if c not in taken | set(ci_of) and _is_float_col(df[c])
               and _foreign_interval(c, sources)]
    if foreign:
        raise ParameterError(
            f"table: column(s) {foreign} look like confidence limits but are not named "
            "lower/upper or <rate>_lower/<rate>_upper (rule: an interval is hidden with its rate); "
            f"{len(df)} rows. Rename them or pass interval_cols={{column: rate}}"
        )
    return sources, ci_of


def _interval_sources(
    df: pd.DataFrame,
    interval_cols: Sequence[str] | Mapping[str, str | Sequence[str]] | None,
    sources: Mapping[str, list[str]],
) -> dict[str, list[str]]:
    """User-named interval column -> the rate(s) it goes with (every rate when not mapped)."""
    if interval_cols is None:
        return {}
    if isinstance(interval_cols, Mapping):
        out = {c: _as_names(r, f"interval_cols[{c!r}]") for c, r in interval_cols.items()}
    else:
        out = {c: list(sources) for c in _as_names(interval_cols, "interval_cols")}
    _require_columns(df, out, "interval_cols")
    for c, rates in out.items():
        unknown = [r for r in rates if r not in sources]
        if unknown:
            raise ParameterError(f"interval_cols[{c!r}] names {unknown}, which are not rate columns")
    return out


def _rate_named_number(df: pd.DataFrame, col: object) -> bool:
    """A numeric (not boolean) column whose name holds a rate word (pct, andel, share, rate ...)."""
    from naravard_analysis.report.scan import _RATE_WORDS

    s = df[col]
    if not pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
        return False
    words = set(re.split(r"[^0-9a-zåäöéü%]+", str(col).strip().casefold()))
    return bool(words & _RATE_WORDS)


def _key_codes(df: pd.DataFrame, col: str) -> np.ndarray:
    return pd.factorize(df[col].astype(object).where(df[col].notna(), "\x00<NA>"))[0]


def _aliases(df: pd.DataFrame, candidates: list[str]) -> list[list[str]]:
    """Group columns that are 1:1 relabellings of each other (region_code ~ region_name)."""
    codes = {c: _key_codes(df, c) for c in candidates}
    groups: list[list[str]] = []
    for c in candidates:
        for g in groups:
            a, b = codes[g[0]], codes[c]
            pair = a.astype(np.int64) * (int(b.max(initial=0)) + 1) + b
            n_pair = len(np.unique(pair))
            if n_pair == len(np.unique(a)) == len(np.unique(b)):
                g.append(c)
                break
        else:
            groups.append([c])
    return groups


@dataclass
class _Constraints:
    """Linear equations ``sum(coef * cell) = 0`` over the cells of the count grid."""

    cells: list[np.ndarray] = field(default_factory=list)
    coefs: list[np.ndarray] = field(default_factory=list)

    def add(self, cells: np.ndarray, coefs: np.ndarray) -> None:
        if len(cells) >= 2:
            self.cells.append(cells.astype(np.int64))
            self.coefs.append(coefs.astype(np.float64))

    def matrix(self, n_cells: int) -> sparse.csr_matrix:
        if not self.cells:
            return sparse.csr_matrix((0, n_cells))
        rows = np.concatenate([np.full(len(c), i) for i, c in enumerate(self.cells)])
        return sparse.csr_matrix(
            (np.concatenate(self.coefs), (rows, np.concatenate(self.cells))),
            shape=(len(self.cells), n_cells),
        )


def _dimension_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The table with its index levels as leading columns (a pivot table keeps its dimensions
    and ``margins=True`` totals, labelled ``All``, in the index)."""
    if isinstance(df.index, pd.RangeIndex) and df.index.name is None:
        return df
    names = [
        n if n is not None and n not in df.columns else f"__index{i}"
        for i, n in enumerate(df.index.names)
    ]
    levels = df.index.set_names(names).to_frame(index=False)
    return pd.concat([levels, df.reset_index(drop=True)], axis=1)


def _build_constraints(
    df: pd.DataFrame,
    counts: list[str],
    dims: list[str] | None,
    excluded: set[str],
    total_labels: Sequence[str],
) -> tuple[_Constraints, np.ndarray]:
    """Equations published by the table's totals; also a mask of cells that are totals."""
    n, k = len(df), len(counts)
    labels = {str(x).strip().casefold() for x in total_labels}
    cons = _Constraints()
    is_total = np.zeros((n, k), dtype=bool)

    # Wide: the count columns across a row form one dimension when one of them is a total.
    total_cols = [j for j, c in enumerate(counts) if str(c).strip().casefold() in labels]
    if len(total_cols) > 1:
        raise ParameterError(
            f"more than one count column is a total ({[counts[j] for j in total_cols]}); "
            "a wide table may have one total column"
        )
    if total_cols and k >= 2:
        jt = total_cols[0]
        is_total[:, jt] = True
        coefs = np.ones(k)
        coefs[jt] = -1.0
        for r in range(n):
            cons.add(r * k + np.arange(k), coefs)

    # Long: rows whose dimension value is a total label are the margin of the other rows that
    # share the values of all other dimensions.
    candidates = [c for c in df.columns if c not in excluded]
    if dims is None:
        dims = [c for c in candidates if not _is_float_col(df[c])]
    if not dims or n < 2:
        return cons, is_total
    alias_groups = _aliases(df, list(dict.fromkeys(list(dims) + candidates)))
    dim_groups = []  # each: the dimension's columns (itself plus relabellings)
    for g in alias_groups:
        if any(c in dims for c in g):
            dim_groups.append(g)
    total_rows = []
    for g in dim_groups:
        t = np.zeros(n, dtype=bool)
        for c in g:
            t |= df[c].astype(str).str.strip().str.casefold().isin(labels).to_numpy()
        total_rows.append(t)
    for i, g in enumerate(dim_groups):
        t = total_rows[i]
        if not t.any():
            continue
        others = [h[0] for j, h in enumerate(dim_groups) if j != i]
        if others:
            gid = df.groupby(others, dropna=False, sort=False).ngroup().to_numpy()
        else:
            gid = np.zeros(n, dtype=np.int64)
        order = np.argsort(gid, kind="stable")
        bounds = np.flatnonzero(np.diff(gid[order])) + 1
        for rows in np.split(order, bounds):
            tot = rows[t[rows]]
            if len(tot) == 0 or len(tot) == len(rows):
                continue
            if len(tot) > 1:
                raise ParameterError(
                    f"dimension {g[0]!r}: {len(tot)} rows are labelled as a total for the same "
                    f"values of {others} ({format_examples(tot)}); pass dims= explicitly or remove "
                    "duplicate total rows"
                )
            coef = np.where(t[rows], -1.0, 1.0)
            is_total[tot[0], :] = True
            for j in range(k):
                cons.add(rows * k + j, coef)
    return cons, is_total


def _pick(
    cands: np.ndarray,
    v: np.ndarray,
    is_total: np.ndarray,
    n_hidden: np.ndarray,
    member_csc: sparse.csc_matrix,
) -> int:
    """The complement to hide.

    Order: positive before zero (a hidden zero next to a hidden ``c`` gives ``c`` back as the
    difference of the totals), non-total before total, then the cell that leaves the fewest
    equations with a single hidden cell (it may fix another equation at the same time), then
    the smallest value ("next-smallest cell"), then position (deterministic).
    """
    net = np.empty(cands.size, dtype=np.int64)
    for i, x in enumerate(cands):
        nh = n_hidden[member_csc.indices[member_csc.indptr[x] : member_csc.indptr[x + 1]]]
        net[i] = int((nh == 0).sum()) - int((nh == 1).sum())
    order = np.lexsort((cands, v[cands], net, is_total[cands], v[cands] <= 0))
    return int(cands[order[0]])


def _one_blas_thread() -> contextlib.AbstractContextManager:
    """Limit BLAS to one thread for the audit: these mid-sized factorisations gain little from
    threads, and on a shared machine oversubscribed BLAS threads made them several times
    slower (measured 18 s vs 2.6 s for a 935 x 1281 block). ``threadpoolctl`` comes with
    scikit-learn; without it nothing is limited."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _rowspace_basis(a: np.ndarray) -> np.ndarray:
    """Orthonormal basis (columns) of the row space of ``a``: rank-revealing pivoted QR of
    ``a.T`` (several times faster than an SVD at the sizes met here)."""
    with _one_blas_thread():
        q, r, _ = qr(a.T, pivoting=True, mode="economic")
    d = np.abs(np.diag(r))
    if d.size == 0 or d[0] == 0:
        return np.zeros((a.shape[1], 0))
    rank = int((d > max(a.shape) * np.finfo(float).eps * d[0] * 10).sum())
    return q[:, :rank]


def _determined_iterative(a: sparse.csr_matrix) -> np.ndarray | None:
    """Audit of a large block without a dense factorisation.

    A random vector ``w`` minus its least-squares projection on the row space (LSQR) is a
    random null-space vector ``z``; with probability one ``z_i != 0`` for every cell that the
    equations leave undetermined. The result is used only if ``a @ z`` is ~0 (a certificate
    that ``z`` really is a null vector); cells with ``z_i`` ~0 count as determined, so a
    borderline case leads to more suppression, never less. ``None`` when LSQR did not converge.
    """
    from scipy.sparse.linalg import lsqr

    n = a.shape[1]
    w = np.random.default_rng(20240101).standard_normal(n)
    y = lsqr(a.T, w, atol=1e-15, btol=1e-15, iter_lim=50 * n)[0]
    z = w - a.T @ y
    norm = float(np.linalg.norm(z))
    if norm < 1e-8 * float(np.linalg.norm(w)):
        return np.ones(n, dtype=bool)  # w lies in the row space: no null space, all determined
    if np.linalg.norm(a @ z) > 1e-9 * norm:
        return None
    return np.abs(z) < 1e-6 * norm


def _determined(hidden: np.ndarray, a: sparse.csr_matrix, max_block: int) -> list[np.ndarray]:
    """Hidden cells whose value the published equations determine exactly, per linked group.

    Cell ``i`` is determined iff its unit vector lies in the row space of the equations
    restricted to the hidden cells, i.e. iff the orthogonal projection of ``e_i`` on that row
    space has length 1.
    """
    u = np.flatnonzero(hidden)
    if u.size == 0 or a.shape[0] == 0:
        return []
    sub = a[:, u].tocsc()
    pattern = (sub != 0).astype(np.int64)
    n_comp, label = connected_components(pattern.T @ pattern, directed=False)
    out = []
    for comp in range(n_comp):
        cols = np.flatnonzero(label == comp)
        block = sub[:, cols]
        rows = np.flatnonzero(np.asarray(abs(block).sum(axis=1)).ravel() > 0)
        if rows.size == 0:
            continue
        if cols.size > max_block:
            det = _determined_iterative(block[rows].tocsr())
            if det is None:
                warnings.warn(
                    f"disclosure: the audit of {cols.size} linked hidden cells did not converge; "
                    "only the one-hidden-cell-per-total rule was applied to them (raise "
                    "max_block for an exact audit)",
                    DataWarning,
                    stacklevel=4,
                )
                continue
        else:
            basis = _rowspace_basis(block[rows].toarray())
            det = (basis**2).sum(axis=1) > 1 - 1e-8
        if det.any():
            out.append(u[cols[det]])
    return out


def _secondary(
    v: np.ndarray,
    hidden: np.ndarray,
    cons: _Constraints,
    is_total: np.ndarray,
    max_block: int,
    frozen: np.ndarray | None = None,
) -> np.ndarray:
    """Add complementary cells until no hidden cell can be recovered; returns the new mask.

    ``frozen`` cells (already published elsewhere) are never chosen as complements."""
    hidden = hidden.copy()
    eligible = ~np.isnan(v)
    if frozen is not None:
        eligible &= ~frozen
    a = cons.matrix(v.size)
    member = (a != 0).astype(np.int64).tocsr()
    member_csc = member.tocsc()
    n_hidden = member @ hidden.astype(np.int64)

    def hide(x: int) -> None:
        hidden[x] = True
        n_hidden[member_csc.indices[member_csc.indptr[x] : member_csc.indptr[x + 1]]] += 1

    while True:
        # (1) no published equation with exactly one hidden cell
        while True:
            changed = False
            for e in np.flatnonzero(n_hidden == 1):
                if n_hidden[e] != 1:
                    continue  # already fixed by a complement chosen for another equation
                cells = member.indices[member.indptr[e] : member.indptr[e + 1]]
                cands = cells[~hidden[cells] & eligible[cells]]
                if cands.size:
                    hide(_pick(cands, v, is_total, n_hidden, member_csc))
                    changed = True
            if not changed:
                break
        # (2) exact audit: in each linked group, one recoverable cell gets one more complement
        groups = _determined(hidden, a, max_block)
        if not groups:
            return hidden
        for det in groups:
            eqs = member_csc.indices[member_csc.indptr[det[0]] : member_csc.indptr[det[0] + 1]]
            cands = np.unique(
                np.concatenate(
                    [member.indices[member.indptr[e] : member.indptr[e + 1]] for e in eqs]
                )
            )
            cands = cands[~hidden[cands] & eligible[cands]]
            if cands.size == 0:  # pragma: no cover - every equation of the cell already hidden
                warnings.warn(
                    "disclosure: a hidden cell stays recoverable from totals whose other cells "
                    "are hidden or missing; a missing count reads as 0 -- fill missing counts "
                    "with 0 or drop the total",
                    DataWarning,
                    stacklevel=3,
                )
                return hidden
            hide(_pick(cands, v, is_total, n_hidden, member_csc))


def suppress(
    table: pd.DataFrame,
    count_cols: str | Sequence[str],
    min_count: int = 5,
    secondary: bool = True,
    *,
    rate_cols: Mapping[str, str | Sequence[str]] | None = None,
    interval_cols: Sequence[str] | Mapping[str, str | Sequence[str]] | None = None,
    hidden_counts: pd.DataFrame | Mapping[str, object] | None = None,
    dims: Sequence[str] | None = None,
    total_labels: Sequence[str] = DEFAULT_TOTAL_LABELS,
    suppress_zero: bool = False,
    language: str = DEFAULT_LANGUAGE,
    max_block: int = 1500,
) -> pd.DataFrame:
    """Hide small counts, the rates computed from them, and the cells that would reveal them.

    Rules (methods reference §8.7; see the module docstring for the secondary-suppression method):
    a count ``c`` with ``1 <= c < min_count`` is hidden (*primary*); zero is shown unless
    ``suppress_zero``. A rate is hidden when any count it is computed from is below
    ``min_count`` or hidden. Then cells are hidden (*secondary*) until no hidden count can be
    recovered from the totals the table publishes.

    Unit of analysis: one cell of an aggregate table (never person-level rows).

    Parameters
    ----------
    table
        Aggregate table, long (one row per combination of ``dims``) and/or wide (several count
        columns, one of which may be a total column named by ``total_labels``, e.g. ``Kvinnor``,
        ``Män``, ``Totalt``).
    count_cols
        The count columns (persons, events, population ...).
    min_count
        Smallest count that may be shown (default 5; 3 and 10 are common alternatives).
    secondary
        Apply secondary suppression (default True). Switch off only for tables without margins.
    rate_cols
        Mapping rate column -> the column(s) it is computed from, e.g.
        ``{"rate": ["events", "population"]}``; sources that are not count columns are still
        checked against ``min_count``. Interval columns named after the rate by the package's
        contract (``rate_lower``, ``rate_upper``, and the standard error ``rate_se``) are hidden
        with it; ``lower``/``upper`` without a rate name are hidden wherever any rate of the row
        is hidden. Other names are not guessed: a float column named like an interval
        (``ci_low``, ``rate_lcl`` ...) that no rate claims is an error -- name it in
        ``interval_cols``. When ``None``: every
        **float** column that is not a count, a dimension or a flag, and every numeric column
        whose name holds a rate word (an integer ``pct`` or ``andel``), is hidden in each row where
        a count is hidden or below ``min_count`` (other integer columns such as year or age are
        taken as dimensions).
    interval_cols
        Interval (or other precision) columns under names of your own when ``rate_cols`` is
        given: a list (each goes with every rate of its row) or a mapping column -> rate(s),
        e.g. ``{"ci_low": "rate", "ci_high": "rate"}``.
    hidden_counts
        Counts a rate is computed from that the table does not publish -- the events before and
        after an enrolment behind a before/after ratio, the baseline year's persons behind a
        change from baseline: a DataFrame with one row per row of ``table`` (by position) or a
        mapping name -> values. ``rate_cols`` names them as sources like count columns (when
        ``rate_cols`` is ``None`` every rate depends on all of them). A rate is hidden
        (*primary*) in each row where one of its hidden counts is 1 .. ``min_count`` - 1 (or 0
        with ``suppress_zero``) or missing (it cannot be checked): ``1/7`` beside no count is
        still a count of 1. They are never written; the result records their names only.
    dims
        Dimension columns of a long table. A row is a total of dimension ``d`` when its value of
        ``d`` (or of a column that is a 1:1 relabelling of ``d``, such as a name next to a code)
        is in ``total_labels`` (case-insensitive); it is the total of the rows that share its
        values of the other dimensions. When ``None``: every column that is not a count, a rate
        or a float. One total level per dimension (no nested hierarchies).
    total_labels
        Labels that mark total rows (values of a dimension) or a total count column.
    suppress_zero
        Also hide zero counts (default False).
    language
        ``"sv"`` or ``"en"``: language of the note stored in ``attrs["disclosure"]["note"]``.
    max_block
        Largest group of linked hidden cells audited exactly (dense SVD); larger groups get the
        one-hidden-cell-per-total rule only, with a warning.

    Returns
    -------
    DataFrame
        A copy: hidden cells are missing (integer counts become nullable ``Int64``, floats
        ``NaN``); a text column ``<col>_suppressed`` after each count, rate and CI column holds
        ``""``, ``"primary"`` or ``"secondary"``; ``attrs["disclosure"]`` records ``min_count``,
        ``n_primary``, ``n_secondary`` (count cells), ``n_rates`` (rate/CI cells hidden),
        ``count_cols``, ``rate_cols``, ``hidden_counts`` (names), ``suppress_zero`` and ``note``.
        Calling ``suppress`` again
        on its own result keeps the earlier flags.

    Raises
    ------
    ParameterError
        Unknown columns, non-numeric or negative counts, a bad ``min_count`` or ``language``,
        or two total rows for the same cell of the other dimensions.

    Examples
    --------
    >>> t = pd.DataFrame({"kommun": ["A", "B", "C", "Totalt"], "n": [2, 9, 30, 41],
    ...                   "rate": [0.1, 0.3, 0.5, 0.4]})
    >>> s = suppress(t, "n", rate_cols={"rate": "n"}, dims=["kommun"])
    >>> s["n"].tolist(), s["rate_suppressed"].tolist()
    ([<NA>, <NA>, 30, 41], ['primary', 'secondary', '', ''])

    A before/after ratio whose event counts are not in the table:

    >>> t = pd.DataFrame({"outcome": ["admissions", "ed_visits"], "n_enrolled": [40, 40],
    ...                   "ratio": [2 / 14, 30 / 45]})
    >>> s = suppress(t, "n_enrolled", rate_cols={"ratio": ["n_enrolled", "before", "after"]},
    ...              hidden_counts={"before": [14, 45], "after": [2, 30]}, secondary=False)
    >>> s["ratio_suppressed"].tolist(), "before" in s.columns
    (['primary', ''], False)
    """
    if not isinstance(table, pd.DataFrame):
        raise ParameterError(f"suppress expects a DataFrame, got {type(table).__name__}")
    _check_language(language)
    min_count = _check_min_count(min_count)
    counts = _as_names(count_cols, "count_cols")
    if not counts:
        raise ParameterError("count_cols names no column")
    _require_columns(table, counts, "count_cols")
    dim_list = None if dims is None else _as_names(dims, "dims")
    dim_frame = _dimension_frame(table)
    if dim_list is not None:
        _require_columns(dim_frame, dim_list, "dims")
        overlap = set(dim_list) & set(counts)
        if overlap:
            raise ParameterError(f"column(s) {sorted(overlap)} are both dims and count_cols")

    out = table.copy(deep=True)
    out.attrs = dict(table.attrs)
    n, k = len(out), len(counts)
    values = _count_matrix(out, counts)
    hidden = _hidden_counts(hidden_counts, out)
    sources, ci_of = _rate_sources(out, counts, rate_cols, dim_list, interval_cols, list(hidden))

    # Earlier flags (suppress applied twice) stay.
    reason = np.zeros((n, k), dtype=np.int8)
    for j, c in enumerate(counts):
        flag = c + FLAG_SUFFIX
        if flag in out.columns:
            f = out[flag].astype(str).to_numpy()
            reason[f == PRIMARY, j] = 1
            reason[f == SECONDARY, j] = 2
    primary = _small(values, min_count, suppress_zero) & (reason == 0)
    reason[primary] = 1

    if secondary and n * k:
        flags = {c for c in out.columns if isinstance(c, str) and c.endswith(FLAG_SUFFIX)}
        excluded = set(counts) | set(sources) | set(ci_of) | flags
        cons, is_total = _build_constraints(dim_frame, counts, dim_list, excluded, total_labels)
        _warn_non_additive(values, cons)
        hidden = _secondary(values.ravel(), (reason > 0).ravel(), cons, is_total.ravel(), max_block)
        reason[(hidden.reshape(n, k)) & (reason == 0)] = 2

    # Rates: primary if a source is small, secondary if a source count was hidden to protect.
    rate_reason: dict[str, np.ndarray] = {}
    for r, src in sources.items():
        rr = np.zeros(n, dtype=np.int8)
        for s in src:
            if s in counts:
                j = counts.index(s)
                rr = np.where((reason[:, j] == 1) & (rr == 0), 1, rr)
                rr = np.where((reason[:, j] == 2) & (rr == 0), 2, rr)
            elif s in hidden:  # not published: small or unknown hides the rate
                hv = hidden[s]
                rr = np.where(_small(hv, min_count, suppress_zero) | np.isnan(hv), 1, rr)
            else:
                sv = pd.to_numeric(out[s], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
                rr = np.where(_small(sv, min_count, suppress_zero), 1, rr)
        flag = r + FLAG_SUFFIX
        if flag in out.columns:  # keep earlier flags
            f = out[flag].astype(str).to_numpy()
            rr = np.where((f == PRIMARY) & (rr == 0), 1, rr)
            rr = np.where((f == SECONDARY) & (rr == 0), 2, rr)
        rate_reason[r] = rr
    for c, rates in ci_of.items():
        reasons = np.vstack([rate_reason[r] for r in rates])
        rate_reason[c] = np.where((reasons == 1).any(axis=0), 1, reasons.max(axis=0)).astype(
            np.int8
        )

    labels = np.array(["", PRIMARY, SECONDARY], dtype=object)
    new_cols: dict[str, pd.Series] = {}
    for j, c in enumerate(counts):
        hide = reason[:, j] > 0
        s = out[c]
        if pd.api.types.is_integer_dtype(s.dtype) or (
            pd.api.types.is_object_dtype(s.dtype)
            and np.all(np.isnan(values[:, j]) | (values[:, j] % 1 == 0))
        ):
            s = pd.Series(
                pd.array(np.where(hide, np.nan, values[:, j]), dtype="Int64"), index=out.index
            )
            s[hide] = pd.NA
        else:
            s = s.astype("float64").mask(hide)
        out[c] = s
        new_cols[c + FLAG_SUFFIX] = pd.Series(labels[reason[:, j]], index=out.index, dtype=str)
    n_rates = 0
    for r, rr in rate_reason.items():
        hide = rr > 0
        n_rates += int((hide & out[r].notna().to_numpy()).sum())
        out[r] = (
            out[r].mask(hide)
            if not pd.api.types.is_integer_dtype(out[r].dtype)
            else out[r].astype("Float64").mask(hide)
        )
        new_cols[r + FLAG_SUFFIX] = pd.Series(labels[rr], index=out.index, dtype=str)

    # Each flag column right after its column; flags of other columns keep their place.
    order: list = []
    for c in out.columns:
        if c in new_cols:
            continue
        order.append(c)
        if (c + FLAG_SUFFIX if isinstance(c, str) else None) in new_cols:
            order.append(c + FLAG_SUFFIX)
    for name, s in new_cols.items():
        out[name] = s
    out = out[order]
    out.attrs = dict(table.attrs)
    out.attrs["disclosure"] = {
        "min_count": min_count,
        "n_primary": int((reason == 1).sum()),
        "n_secondary": int((reason == 2).sum()),
        "n_rates": n_rates,
        "count_cols": list(counts),
        "rate_cols": {r: list(s) for r, s in sources.items()},
        "hidden_counts": list(hidden),
        "suppress_zero": bool(suppress_zero),
        "secondary": bool(secondary),
        "note": suppression_note(min_count, language),
    }
    _stamp(out)
    return out


def _warn_non_additive(values: np.ndarray, cons: _Constraints) -> None:
    """Warn when published margins do not add up (wrong ``dims`` or perturbed figures)."""
    v = values.ravel()
    bad = 0
    for cells, coefs in zip(cons.cells, cons.coefs, strict=True):
        x = v[cells]
        if not np.isnan(x).any() and abs(float(coefs @ x)) > 1e-6 * max(
            1.0, float(np.abs(x).max())
        ):
            bad += 1
    if bad:
        warnings.warn(
            f"disclosure: {bad} of {len(cons.cells)} totals do not equal the sum of their parts; "
            "secondary suppression assumes they do -- check dims/total_labels (or perturbed "
            "figures such as SCB's Cell Key Method, methods reference §8.7)",
            DataWarning,
            stacklevel=3,
        )


def suppression_note(min_count: int = 5, language: str = DEFAULT_LANGUAGE) -> str:
    """Caption explaining the markers of :func:`format_suppressed`.

    >>> suppression_note(5, "en")
    "Values based on fewer than 5 persons or events are not shown ('<5'); '..' = hidden so that a hidden value cannot be worked out from totals."
    """
    _check_language(language)
    m = _check_min_count(min_count)
    if language == "sv":
        return (
            f"Värden som bygger på färre än {m} personer eller händelser visas inte ('<{m}'); "
            f"'{SECONDARY_MARKER}' = dolt så att ett dolt värde inte kan räknas fram ur summorna."
        )
    return (
        f"Values based on fewer than {m} persons or events are not shown ('<{m}'); "
        f"'{SECONDARY_MARKER}' = hidden so that a hidden value cannot be worked out from totals."
    )


def format_suppressed(
    df: pd.DataFrame,
    language: str = DEFAULT_LANGUAGE,
    *,
    min_count: int | None = None,
    keep_flags: bool = False,
) -> pd.DataFrame:
    """Display copy of a suppressed table: hidden cells as ``"<5"`` or ``".."``.

    Count cells flagged ``primary`` show ``"<{min_count}"`` (the threshold actually used, from
    ``df.attrs["disclosure"]`` unless given); cells flagged ``secondary``, and hidden rates and
    intervals, show ``".."``; other
    values keep their number (integers as ``int``) so Excel still sees numbers. Flag columns are
    dropped unless ``keep_flags``. The caption is put in ``attrs["disclosure_note"]``.

    Raises
    ------
    ParameterError
        When ``df`` has no flag columns or no threshold is known (the table did not pass
        :func:`suppress`).

    Examples
    --------
    >>> t = suppress(pd.DataFrame({"sex": ["F", "M", "Alla"], "n": [3, 40, 43]}), "n")
    >>> format_suppressed(t, "en")["n"].tolist()
    ['<5', '..', 43]
    """
    _check_language(language)
    info = df.attrs.get("disclosure") or {}
    m = min_count if min_count is not None else info.get("min_count")
    flagged = [
        c
        for c in df.columns
        if isinstance(c, str) and not c.endswith(FLAG_SUFFIX) and c + FLAG_SUFFIX in df.columns
    ]
    if m is None or not flagged:
        raise ParameterError(
            "format_suppressed needs a table returned by suppress() (flag columns "
            f"'<col>{FLAG_SUFFIX}' and attrs['disclosure']); pass min_count= if attrs were lost"
        )
    m = _check_min_count(m)
    out = df.copy()
    # without attrs every flagged column is taken for a count
    count_cols = set(info.get("count_cols", flagged))
    for c in flagged:
        f = df[c + FLAG_SUFFIX].astype(str).to_numpy()
        vals = []
        for x, why in zip(df[c].tolist(), f, strict=True):
            if why == PRIMARY and c in count_cols:
                vals.append(f"<{m}")
            elif why in (PRIMARY, SECONDARY):  # a hidden rate is not "<5"
                vals.append(SECONDARY_MARKER)
            elif x is None or x is pd.NA or (isinstance(x, float) and np.isnan(x)):
                vals.append(None)
            elif isinstance(x, float | np.floating) and float(x).is_integer() and c in count_cols:
                vals.append(int(x))
            else:
                vals.append(x)
        out[c] = pd.Series(vals, index=df.index, dtype=object)
    if not keep_flags:
        out = out.drop(columns=[c + FLAG_SUFFIX for c in flagged])
    out.attrs = dict(df.attrs)
    out.attrs["disclosure_note"] = suppression_note(m, language)
    if info.get("fingerprint"):
        check_suppressed(df, m, what="format_suppressed")
        _stamp(out)  # the display copy of a checked table may be written as well
    return out


def sort_by_displayed(
    df: pd.DataFrame,
    col: str,
    ascending: bool = False,
    *,
    labels: Sequence[str] | None = None,
    totals_last: bool = True,
    total_labels: Sequence[str] = DEFAULT_TOTAL_LABELS,
) -> pd.DataFrame:
    """Sort by the *displayed* value of ``col`` so that the order does not reveal hidden cells.

    Visible rows are sorted by ``col``; ties and all hidden (missing) rows are ordered by the
    label columns, never by their original position (the rows may have been sorted by the true
    value before suppression). Hidden rows go last, totals after them when ``totals_last``
    (Region Dalarna ``func_diagram.R``: bars sorted by the visible value).

    Parameters
    ----------
    labels
        Columns that name a row; default: the text, categorical and integer columns that are not
        counts or flags.

    Examples
    --------
    >>> t = pd.DataFrame({"k": ["a", "b", "c", "d"], "n": [pd.NA, 9, pd.NA, 30]}, dtype=object)
    >>> sort_by_displayed(t.astype({"n": "Int64"}), "n")["k"].tolist()
    ['d', 'b', 'a', 'c']
    """
    _require_columns(df, [col], "sort_by_displayed")
    info = df.attrs.get("disclosure") or {}
    skip = set(info.get("count_cols", [])) | {col}
    if labels is None:
        labels = [
            c
            for c in df.columns
            if c not in skip
            and not (isinstance(c, str) and c.endswith(FLAG_SUFFIX))
            and not pd.api.types.is_float_dtype(df[c].dtype)
            and not pd.api.types.is_bool_dtype(df[c].dtype)
        ]
    else:
        labels = _as_names(labels, "labels")
        _require_columns(df, labels, "sort_by_displayed labels")
    v = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    hidden = np.isnan(v)
    tot_set = {str(x).strip().casefold() for x in total_labels}
    total = np.zeros(len(df), dtype=bool)
    if totals_last:
        for c in labels:
            total |= df[c].astype(str).str.strip().str.casefold().isin(tot_set).to_numpy()
    key = np.where(hidden, 0.0, v if ascending else -v)
    keys = [df[c].astype(str).to_numpy() for c in reversed(list(labels))]
    order = np.lexsort((*keys, key, hidden, total))
    out = df.iloc[order]
    out.attrs = dict(df.attrs)
    return out


# ---------------------------------------------------------------------------------------------
# What was suppressed stays suppressed: a fingerprint, and the report-level registry
# ---------------------------------------------------------------------------------------------


def _column_hashes(s: pd.Series) -> np.ndarray:
    try:
        return pd.util.hash_pandas_object(s, index=False).to_numpy()
    except TypeError:  # mixed objects: hash their text
        return pd.util.hash_pandas_object(s.astype(str), index=False).to_numpy()


def _stamp(df: pd.DataFrame) -> None:
    """Record in ``attrs["disclosure"]`` what ``df`` holds now (column names and one hash per
    cell), so a writer can tell later whether the table is still what suppression returned."""
    info = dict(df.attrs.get("disclosure") or {})
    info["fingerprint"] = {
        str(c): tuple(int(h) for h in _column_hashes(df[c])) for c in df.columns
    }
    info["fingerprint_columns"] = [str(c) for c in df.columns]
    df.attrs["disclosure"] = info


def check_suppressed(table: pd.DataFrame, min_count: int, *, what: str = "table") -> None:
    """Refuse a table that did not come out of :func:`suppress` as it stands.

    A suppressed table carries a fingerprint of its cells. It passes when it was suppressed at
    ``min_count`` or more and holds only rows and columns of that result (rows may be dropped
    or reordered, columns dropped); a column added or a cell changed after suppression -- the
    ``attrs`` travel with the table through pandas operations, so they prove nothing alone --
    is refused.

    Raises
    ------
    DisclosureError
        Naming ``what`` and the columns added or changed.

    Examples
    --------
    >>> t = suppress(pd.DataFrame({"year": [2020, 2021], "n": [3, 40]}), "n", min_count=5)
    >>> check_suppressed(t, 5)
    >>> check_suppressed(t.assign(share=[0.1, 0.9]), 5)
    Traceback (most recent call last):
    ...
    naravard_analysis.errors.DisclosureError: table: column(s) ['share'] were added after suppress(); add them before suppressing
    """
    min_count = _check_min_count(min_count)
    info = table.attrs.get("disclosure") or {}
    prints = info.get("fingerprint")
    if not prints:
        raise DisclosureError(f"{what}: the table did not pass suppress() (no disclosure record)")
    if int(info.get("min_count", 0)) < min_count:
        raise DisclosureError(
            f"{what}: suppressed at min_count={info.get('min_count')}, below the "
            f"min_count={min_count} required here"
        )
    added = [str(c) for c in table.columns if str(c) not in prints]
    if added or len(set(map(str, table.columns))) != len(table.columns):
        raise DisclosureError(
            f"{what}: column(s) {added} were added after suppress(); add them before suppressing"
        )
    names = [str(c) for c in table.columns]
    now = list(zip(*(_column_hashes(table[c]) for c in table.columns), strict=True))
    then = Counter(zip(*(prints[c] for c in names), strict=True))
    now_count = Counter(tuple(int(h) for h in row) for row in now)
    changed = sum(max(0, k - then.get(row, 0)) for row, k in now_count.items())
    if changed:
        raise DisclosureError(
            f"{what}: {changed} row(s) differ from what suppress() returned (cells changed "
            "after suppression); change the data before suppressing"
        )


class DisclosureRegistry:
    """Every table and figure dataset of one report, suppressed jointly before it is written.

    Suppression inside one table is not enough when a report publishes the same quantity twice:
    a total per year in one figure and the same counts by sex in another give
    ``F = total - M`` across the two. :meth:`publish` suppresses a table (:func:`suppress`) and
    then treats every earlier published table that shares a *measure* with it as part of one
    table: the cells are united over the union of their dimensions (a table without dimension
    ``d`` is the total over ``d``), identical cells are one cell (hidden if hidden anywhere), and
    complementary suppression runs over the whole, with the cells already published frozen --
    the complements are taken from the new table, so nothing written earlier changes. Writers
    (:func:`~naravard_analysis.report.figures.save_figure`,
    :func:`~naravard_analysis.report.tables.write_tables`) given the registry refuse a table it
    did not publish, or one changed since (:func:`check_suppressed`).

    Assumptions (design choices): a measure names one quantity with one set of dimension
    labels across the report, and the categories of each dimension are exhaustive (the parts
    add up to the total; :func:`suppress` warns when they do not). Counts published under
    different measures are taken as unrelated.

    Parameters
    ----------
    min_count
        The report's threshold.
    total_labels
        Labels of total rows (as in :func:`suppress`).

    Examples
    --------
    >>> reg = DisclosureRegistry(min_count=5)
    >>> total = reg.publish("total", pd.DataFrame({"year": [2022, 2023], "n": [12, 30]}), "n",
    ...                     measures={"n": "admissions"}, dims=["year"])
    >>> by_sex = reg.publish("by_sex", pd.DataFrame({"year": [2022, 2022, 2023, 2023],
    ...     "sex": ["F", "M", "F", "M"], "n": [3, 9, 14, 16]}), "n",
    ...     measures={"n": "admissions"}, dims=["year", "sex"])
    >>> by_sex["n"].tolist()  # M = 12 - F would give F back: both hidden
    [<NA>, <NA>, 14, 16]
    """

    def __init__(
        self, min_count: int = 5, *, total_labels: Sequence[str] = DEFAULT_TOTAL_LABELS
    ) -> None:
        self.min_count = _check_min_count(min_count)
        self.total_labels = tuple(total_labels)
        self.token = uuid.uuid4().hex
        self.tables: dict[str, pd.DataFrame] = {}
        # measure -> list of (table name, dims, cells frame with dims + "value" + "hidden")
        self._cells: dict[str, list[tuple[str, list[str], pd.DataFrame]]] = {}

    def publish(
        self,
        name: str,
        table: pd.DataFrame,
        count_cols: str | Sequence[str],
        *,
        measures: Mapping[str, str] | None = None,
        dims: Sequence[str] | None = None,
        rate_cols: Mapping[str, str | Sequence[str]] | None = None,
        interval_cols: Sequence[str] | Mapping[str, str | Sequence[str]] | None = None,
        hidden_counts: pd.DataFrame | Mapping[str, object] | None = None,
        secondary: bool = True,
        suppress_zero: bool = False,
        language: str = DEFAULT_LANGUAGE,
    ) -> pd.DataFrame:
        """Suppress ``table`` jointly with everything published before and record it.

        ``measures`` maps count columns to the quantity they count (e.g. ``{"events":
        "unplanned_admissions"}``); columns not mapped are linked to nothing else. ``dims``
        (needed when a measure is given) are the table's dimension columns. The other
        arguments go to :func:`suppress`. Returns the table to write.
        """
        if name in self.tables:
            raise ParameterError(f"a table named {name!r} was already published in this report")
        counts = _as_names(count_cols, "count_cols")
        measures = dict(measures or {})
        if measures and dims is None:
            raise ParameterError(f"{name}: dims= is needed to link measures {sorted(measures)}")
        dim_list = list(dims or [])
        kw = dict(
            min_count=self.min_count, secondary=secondary, rate_cols=rate_cols,
            interval_cols=interval_cols, hidden_counts=hidden_counts, dims=dims, total_labels=self.total_labels, suppress_zero=suppress_zero,
            language=language,
        )
        out = suppress(table, counts, **kw)
        linked = {c: m for c, m in measures.items() if c in counts}
        for _ in range(100):  # hidden cells only grow, so this ends; 100 is a safety bound
            extra = {c: self._joint(m, name, dim_list, out, c) for c, m in linked.items()}
            if not any(e.any() for e in extra.values()):
                break
            flagged = out.copy()
            for c, rows in extra.items():
                f = flagged[c + FLAG_SUFFIX].to_numpy(dtype=object).copy()
                f[rows] = SECONDARY
                flagged[c + FLAG_SUFFIX] = f
            out = suppress(flagged, counts, **kw)
        for c, m in linked.items():
            self._cells.setdefault(m, []).append((name, dim_list, self._cell_frame(out, c, dim_list)))
        out.attrs["disclosure"] = {**out.attrs["disclosure"], "registry": self.token, "name": name}
        _stamp(out)
        self.tables[name] = out
        return out

    def check(self, table: pd.DataFrame, *, what: str = "table") -> None:
        """Refuse ``table`` unless this registry published it and it is unchanged since."""
        check_suppressed(table, self.min_count, what=what)
        info = table.attrs.get("disclosure") or {}
        if info.get("registry") != self.token:
            raise DisclosureError(
                f"{what}: not published through this report's disclosure registry; pass it "
                "through DisclosureRegistry.publish() so it is checked against the other outputs"
            )

    # ------------------------------------------------------------------ joint suppression
    def _norm(self, s: pd.Series) -> pd.Series:
        text = s.astype(str).str.strip()
        totals = {str(x).strip().casefold() for x in self.total_labels}
        return text.where(~text.str.casefold().isin(totals), self.total_labels[0])

    def _cell_frame(self, df: pd.DataFrame, col: str, dims: list[str]) -> pd.DataFrame:
        frame = pd.DataFrame({d: self._norm(df[d]).to_numpy() for d in dims})
        frame["value"] = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        frame["hidden"] = (df[col + FLAG_SUFFIX].astype(str) != "").to_numpy()
        return frame

    def _joint(self, measure: str, name: str, dims: list[str], out: pd.DataFrame, col: str) -> np.ndarray:
        """Rows of ``out`` whose ``col`` must be hidden too, given the tables already published."""
        earlier = self._cells.get(measure, [])
        if not earlier:
            return np.zeros(len(out), dtype=bool)
        new = self._cell_frame(out, col, dims)
        all_dims = list(dict.fromkeys([d for _, ds, _ in earlier for d in ds] + dims))
        parts = []
        for i, (_, _, cells) in enumerate([*earlier, (name, dims, new)]):
            part = cells.copy()
            for d in all_dims:
                if d not in part.columns:  # a table without d is the total over d
                    part[d] = self.total_labels[0]
            parts.append(part.assign(source=i, row=np.arange(len(part))))
        union = pd.concat(parts, ignore_index=True)
        cell = pd.factorize(union[all_dims].astype(str).agg("\x1f".join, axis=1))[0]
        n_cells = int(cell.max()) + 1
        is_new = (union["source"] == len(earlier)).to_numpy()
        shown = ~union["hidden"].to_numpy()
        value = union["value"].to_numpy(dtype=float)
        lo, hi = np.full(n_cells, np.inf), np.full(n_cells, -np.inf)
        np.minimum.at(lo, cell[shown], value[shown])
        np.maximum.at(hi, cell[shown], value[shown])
        clash = np.flatnonzero((hi > lo) & np.isfinite(lo))
        if clash.size:
            raise ParameterError(
                f"{name}: measure {measure!r} has {clash.size} cell(s) published with different "
                "values in different tables; give different quantities different measures"
            )

        def any_at(mask: np.ndarray) -> np.ndarray:
            out_ = np.zeros(n_cells, dtype=bool)
            np.logical_or.at(out_, cell[mask], True)
            return out_

        public = any_at(shown & ~is_new)  # already written: frozen
        hidden = any_at(~shown) & ~public
        values = np.where(np.isfinite(lo), lo, 0.0)
        grid = union.assign(_cell=cell).drop_duplicates("_cell").sort_values("_cell")
        grid = grid[all_dims].reset_index(drop=True).assign(value=values)
        cons, is_total = _build_constraints(grid, ["value"], all_dims, {"value"}, self.total_labels)
        now = _secondary(values, hidden, cons, is_total.ravel(), 1500, frozen=public)
        rows = union["row"].to_numpy()[is_new]
        extra = np.zeros(len(out), dtype=bool)
        extra[rows] = now[cell[is_new]] & shown[is_new]
        return extra
