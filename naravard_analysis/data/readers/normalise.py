"""Column normalisation with vectorised arrow kernels (codes, dates, ids, numbers).

Repeating columns arrive dictionary-encoded and are normalised once per distinct value
(:func:`per_distinct`), then gathered back by index. Canonical-name files are mapped here
(:func:`map_canonical`); Patientregistret names in :mod:`.patientregistret`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from naravard_analysis.data.readers.base import ReadReport
from naravard_analysis.data.schema import STRING_DTYPE, TABLES
from naravard_analysis.errors import (
    SchemaError,
)

#: Thousands separators accepted inside numbers: space, NBSP, narrow NBSP (Swedish locale).
_THOUSANDS = (" ", "\u00a0", "\u202f")


@dataclass
class Context:
    table: str
    report: ReadReport
    imprecise: str
    decimal: str
    #: rows per distinct value while a normaliser runs on a dictionary (see per_distinct)
    weights: np.ndarray | None = None


NULL_STR = pa.scalar(None, pa.string())


def decode_dictionary(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """Dictionary-encoded -> plain values (other arrays unchanged)."""
    if pa.types.is_dictionary(col.type):
        return col.cast(col.type.value_type)
    return col


def per_distinct(fn: Callable[..., pa.ChunkedArray]) -> Callable[..., pa.ChunkedArray]:
    """Run a column normaliser once per distinct value of a dictionary-encoded column.

    The normaliser sees the dictionary (a few thousand codes instead of millions of rows) and
    its result is gathered back by the indices. Row counts it reports use ``ctx.weights`` (rows
    per distinct value). On a SchemaError it is re-run on the decoded rows, so the error carries
    row positions.
    """

    @functools.wraps(fn)
    def wrapper(col: pa.ChunkedArray, *args: object, **kwargs: object) -> pa.ChunkedArray:
        if not pa.types.is_dictionary(col.type):
            return fn(col, *args, **kwargs)
        ctx = next((a for a in args if isinstance(a, Context)), None)
        col = col.unify_dictionaries()
        if col.num_chunks == 0:
            return fn(decode_dictionary(col), *args, **kwargs)
        dictionary = pa.chunked_array([col.chunk(0).dictionary])
        indices = pa.chunked_array([c.indices for c in col.chunks], type=col.type.index_type)
        if ctx is not None:
            idx = np.asarray(pc.fill_null(indices, len(dictionary)).to_numpy(), dtype=np.int64)
            ctx.weights = np.bincount(idx, minlength=len(dictionary) + 1)[: len(dictionary)]
        try:
            mapped = fn(dictionary, *args, **kwargs)
        except SchemaError:
            if ctx is not None:
                ctx.weights = None
            fn(decode_dictionary(col), *args, **kwargs)  # raises again, now with row positions
            raise
        finally:
            if ctx is not None:
                ctx.weights = None
        return pc.take(mapped, indices)

    return wrapper


def count_true(ctx: Context, mask: pa.ChunkedArray) -> int:
    """Rows where ``mask`` holds (weighted by rows per distinct value in dictionary mode)."""
    if ctx.weights is None:
        return int(pc.sum(mask).as_py() or 0)
    return int(ctx.weights[as_mask(mask)].sum())


def is_text(col: pa.ChunkedArray) -> bool:
    """String, large string, or dictionary-encoded strings."""
    t = col.type.value_type if pa.types.is_dictionary(col.type) else col.type
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def as_string(col: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_large_string(col.type):
        return col.cast(pa.string())
    return col


@per_distinct
def clean_text(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """Trim, and make blank strings missing."""
    col = pc.utf8_trim_whitespace(as_string(col))
    return pc.if_else(pc.equal(col, ""), NULL_STR, col)


def fail(ctx: Context, column: str, rule: str, mask: np.ndarray, hint: str = "") -> None:
    pos = np.flatnonzero(mask)
    raise SchemaError(ctx.table, column, rule, len(pos), pos[:5], hint=hint)


def as_mask(arr: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Arrow boolean -> numpy bool with missing as False."""
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=bool)


def integral(col: pa.ChunkedArray, ctx: Context, column: str, what: str) -> pa.ChunkedArray:
    """Float -> int64 after checking for fractions and values beyond 2**53 (methods reference §8.2)."""
    bad = pc.or_(pc.not_equal(pc.floor(col), col), pc.greater(pc.abs(col), 2.0**53))
    if pc.any(bad).as_py():
        fail(
            ctx,
            column,
            f"{what} must be whole numbers below 2**53 (SAS numerics arrive as floats)",
            as_mask(bad),
        )
    return col.cast(pa.int64())


@per_distinct
def code_text(col: pa.ChunkedArray, ctx: Context, column: str) -> pa.ChunkedArray:
    """Codes as text whatever the delivery: 1, 1.0 and ' 1 ' all become '1'."""
    t = col.type
    if pa.types.is_floating(t):
        col = integral(col, ctx, column, "codes")
    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
        return col.cast(pa.string())
    if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
        return col.cast(pa.string())
    col = clean_text(col)
    if pc.any(pc.match_substring(col, ".")).as_py():
        col = pc.replace_substring_regex(col, r"^([0-9]+)\.0*$", r"\1")
    return col


@per_distinct
def padded_code(col: pa.ChunkedArray, ctx: Context, column: str, width: int) -> pa.ChunkedArray:
    """Code text zero-padded to ``width`` digits (MVO '46' -> '046', LAN 1 -> '01')."""
    return pad(code_text(col, ctx, column), width)


@per_distinct
def is_acute(col: pa.ChunkedArray, ctx: Context) -> pa.ChunkedArray:
    """PVARD == 2 (unplanned), as a boolean column."""
    return pc.equal(_canonical_number_text(code_text(col, ctx, "planned")), "2")


def pad(col: pa.ChunkedArray, width: int) -> pa.ChunkedArray:
    """Zero-pad all-digit codes to ``width`` ('1' -> '01'); other text is left alone."""
    return pc.if_else(pc.utf8_is_digit(col), pc.utf8_lpad(col, width, "0"), col)


def _canonical_number_text(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """'01' -> '1' for small integer codes compared against a dictionary."""
    digits = pc.utf8_is_digit(col)
    if pc.all(pc.fill_null(digits, True)).as_py():
        return col.cast(pa.int64()).cast(pa.string())
    return col


@per_distinct
def map_codes(
    col: pa.ChunkedArray,
    mapping: dict[str, object],
    ctx: Context,
    source: str,
    column: str,
    other: str | None,
) -> pa.ChunkedArray:
    """Map register codes through ``mapping``; unknown codes become ``other`` (counted) or,
    when ``other`` is None, an error."""
    text = _canonical_number_text(code_text(col, ctx, column))
    keys = list(mapping)
    values = list(mapping.values())
    idx = pc.index_in(text, value_set=pa.array(keys, pa.string()))
    unknown = pc.and_(pc.is_valid(text), pc.is_null(idx))
    n_unknown = count_true(ctx, unknown)
    target_type = pa.bool_() if isinstance(values[0], bool) else pa.string()
    out = pc.take(pa.array(values, target_type), idx)
    if n_unknown:
        if other is None:
            fail(
                ctx,
                column,
                f"{source} must be one of {', '.join(keys)} (Patientregistret codes)",
                as_mask(unknown),
            )
        out = pc.if_else(unknown, pa.scalar(other, target_type), out)
        ctx.report.codes_mapped_to_other[source] = int(n_unknown)
    return out


@per_distinct
def icd(col: pa.ChunkedArray, ctx: Context, column: str) -> pa.ChunkedArray:
    """ICD-10 codes upper case, without dots or blanks (methods reference §2.3)."""
    col = code_text(col, ctx, column)
    col = pc.utf8_upper(col)
    if pc.any(pc.match_substring(col, ".")).as_py():
        col = pc.replace_substring(col, ".", "")
    for blank in (" ", "\t", "\u00a0"):  # literal searches: a regex costs 5x more per column
        if pc.any(pc.match_substring(col, blank)).as_py():
            col = pc.replace_substring(col, blank, "")
    return pc.if_else(pc.equal(col, ""), NULL_STR, col)


def join_codes(cols: list[pa.ChunkedArray], ctx: Context, column: str) -> pa.ChunkedArray:
    """Normalise ICD-10 codes of DIA1..DIAn and space-join the present ones row-wise in column
    order; '' when none.

    Works on dictionary indices: each column's distinct codes are normalised once, the
    row-major positions of the valid cells of the n x k index matrix pick the codes, and one
    list kernel joins them -- no full-length string column is built per DIA column.
    """
    n = len(cols[0])
    dictionaries: list[pa.Array] = []
    index = np.full((n, len(cols)), -1, dtype=np.int64 if n * len(cols) > 2**31 else np.int32)
    offset = 0
    for k, col in enumerate(cols):
        if not pa.types.is_dictionary(col.type):
            col = pc.dictionary_encode(col)
        col = col.unify_dictionaries()
        chunks = col.chunks
        values = icd(pa.chunked_array([chunks[0].dictionary]), ctx, column).combine_chunks()
        if len(values) == 0:
            continue
        idx = pa.chunked_array([c.indices for c in chunks], type=col.type.index_type)
        idx = np.asarray(pc.fill_null(idx, -1).to_numpy(), dtype=np.int64)
        present = np.asarray(values.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        ok = (idx >= 0) & present[np.maximum(idx, 0)]
        index[:, k] = np.where(ok, idx + offset, -1)
        dictionaries.append(values)
        offset += len(values)
    valid = index >= 0
    picked = index[valid]  # boolean indexing is row-major: row by row, columns left to right
    if dictionaries:
        flat = pa.concat_arrays(dictionaries)
        if flat.nbytes >= 2**31 - 1:
            flat = flat.cast(pa.large_string())
        values = flat.take(pa.array(picked))
    else:
        values = pa.array([], pa.string())
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.count_nonzero(valid, axis=1), out=offsets[1:])
    lists = pa.LargeListArray.from_arrays(pa.array(offsets), values)
    return pa.chunked_array([pc.binary_join(lists, " ")])


@per_distinct
def code_list(col: pa.ChunkedArray, ctx: Context, column: str) -> pa.ChunkedArray:
    """Space-separated code list (OP): upper case, single spaces, '' when none."""
    col = pc.utf8_upper(code_text(col, ctx, column))
    if any(pc.any(pc.match_substring(col, m)).as_py() for m in ("  ", "\t", ",", ";", "\u00a0")):
        col = pc.utf8_trim_whitespace(pc.replace_substring_regex(col, r"[\s,;]+", " "))
    return pc.fill_null(col, "")


def parse_dates(col: pa.ChunkedArray, ctx: Context, column: str) -> np.ndarray:
    """``datetime64[ns]`` values of a date column (see :func:`_date_array`)."""
    out = _date_array(col, ctx, column)
    return np.asarray(out.to_numpy(), dtype="datetime64[ns]")


@per_distinct
def _date_array(col: pa.ChunkedArray, ctx: Context, column: str) -> pa.ChunkedArray:
    """Dates from YYYYMMDD integers/text, ISO text or date types -> ``datetime64[ns]``.

    YYYYMMDD values are split arithmetically (year = v // 10000, month = v // 100 % 100,
    day = v % 100) and rebuilt from month offsets, so an integer is never read as epoch
    nanoseconds (methods reference §8.3). Day or month ``00`` marks an imprecise date: counted, then
    an error (``imprecise_dates="error"``), missing (``"null"``) or the first day (``"first"``).
    """
    t = col.type
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        if pa.types.is_timestamp(t) and t.tz is not None:
            col = col.cast(pa.timestamp(t.unit))
        return col.cast(pa.timestamp("ns"))
    if pa.types.is_floating(t):
        col = integral(col, ctx, column, "dates given as numbers")
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        col = clean_text(col)
        try:
            ints = col.cast(pa.int64())
        except pa.ArrowInvalid:
            return _as_timestamps(_dates_text(col, ctx, column))
    elif pa.types.is_integer(col.type):
        ints = col.cast(pa.int64())
    else:
        fail(ctx, column, f"cannot be read as dates (arrow type {t})", np.ones(len(col), bool))
    present = np.asarray(pc.is_valid(ints).to_numpy(zero_copy_only=False), dtype=bool)
    v = np.asarray(pc.fill_null(ints, 0).to_numpy(), dtype=np.int64)
    return _as_timestamps(_dates_from_ints(v, present, ctx, column))


def _as_timestamps(values: np.ndarray) -> pa.ChunkedArray:
    return pa.chunked_array([pa.array(values, type=pa.timestamp("ns"), from_pandas=True)])


def _count_np(ctx: Context, mask: np.ndarray) -> int:
    """Rows where ``mask`` holds; weighted by rows per distinct value in dictionary mode."""
    return int(mask.sum() if ctx.weights is None else ctx.weights[mask].sum())


def _dates_from_ints(v: np.ndarray, present: np.ndarray, ctx: Context, column: str) -> np.ndarray:
    year, month, day = v // 10000, (v // 100) % 100, v % 100
    plausible = present & (year >= 1000) & (year <= 9999) & (month <= 12) & (v >= 0)
    imprecise = plausible & ((month == 0) | (day == 0))
    n_imprecise = _count_np(ctx, imprecise)
    if n_imprecise:
        ctx.report.imprecise_dates[column] = n_imprecise
        if ctx.imprecise == "error":
            fail(
                ctx,
                column,
                "imprecise dates (YYYYMM00 or YYYY0000: day or month unknown)",
                imprecise,
                hint="Pass imprecise_dates='null' (missing) or 'first' (first day) to read_table",
            )
        if ctx.imprecise == "first":
            month = np.where(month == 0, 1, month)
            day = np.where(day == 0, 1, day)
    m = np.where(plausible & (month >= 1), (year - 1970) * 12 + month - 1, 0)
    start = m.astype("datetime64[M]").astype("datetime64[D]")
    days_in_month = ((m + 1).astype("datetime64[M]").astype("datetime64[D]") - start).astype(
        np.int64
    )
    valid = plausible & (month >= 1) & (day >= 1) & (day <= days_in_month)
    bad = present & ~valid & ~(imprecise & (ctx.imprecise == "null"))
    if bad.any():
        fail(ctx, column, "is not a valid YYYYMMDD date", bad)
    out = (start + np.where(valid, day - 1, 0).astype("timedelta64[D]")).astype("datetime64[ns]")
    out[~valid] = np.datetime64("NaT")
    return out


def _dates_text(col: pa.ChunkedArray, ctx: Context, column: str) -> np.ndarray:
    """Mixed or ISO text dates (slow path: only when the column is not all YYYYMMDD digits)."""
    s = col.to_pandas(types_mapper={pa.string(): STRING_DTYPE}.get)
    present = s.notna().to_numpy()
    compact = s.str.fullmatch(r"[0-9]{8}").fillna(False).to_numpy(dtype=bool)
    out = np.full(len(s), np.datetime64("NaT"), dtype="datetime64[ns]")
    if compact.any():
        v = np.zeros(len(s), dtype=np.int64)
        v[compact] = s[compact].astype("int64").to_numpy()
        part = _dates_from_ints(v, compact, ctx, column)
        out[compact] = part[compact]
    rest = present & ~compact
    if rest.any():
        parsed = pd.to_datetime(s[rest], format="ISO8601", errors="coerce")
        bad = np.zeros(len(s), dtype=bool)
        bad[rest] = parsed.isna().to_numpy()
        if bad.any():
            fail(ctx, column, "cannot be read as a date (expected YYYYMMDD or ISO 8601)", bad)
        out[rest] = parsed.to_numpy(dtype="datetime64[ns]")
    return out


def person_ids(col: pa.ChunkedArray, ctx: Context) -> pd.Series:
    """LopNr -> int64 when every value is a whole number, else text (leading zeros kept)."""
    col = decode_dictionary(col)
    t = col.type
    if pa.types.is_floating(t):
        if pc.any(pc.is_null(col)).as_py() or pc.any(pc.is_nan(col)).as_py():
            fail(
                ctx,
                "person_id",
                "must not be missing",
                ~as_mask(pc.is_valid(pc.if_else(pc.is_nan(col), None, col))),
            )
        col = integral(col, ctx, "person_id", "ids")
    if pa.types.is_integer(col.type):
        if col.null_count:
            fail(ctx, "person_id", "must not be missing", ~as_mask(pc.is_valid(col)))
        return pd.Series(col.cast(pa.int64()).to_numpy())
    col = clean_text(col)
    if col.null_count:
        fail(ctx, "person_id", "must not be missing", ~as_mask(pc.is_valid(col)))
    col = _id_text(col, ctx)
    digits = pc.all(pc.utf8_is_digit(col)).as_py()
    if digits and pc.max(pc.utf8_length(col)).as_py() <= 18:
        leading_zero = pc.any(pc.and_(pc.starts_with(col, "0"), pc.greater(pc.utf8_length(col), 1)))
        if not leading_zero.as_py():
            return pd.Series(col.cast(pa.int64()).to_numpy())
    return to_str(col)


#: A number in scientific notation, as Excel writes long numbers ("1,23457E+11").
_SCIENTIFIC = r"^[+-]?[0-9]+([.,][0-9]*)?[eE][+-]?[0-9]+$"


def _id_text(col: pa.ChunkedArray, ctx: Context) -> pa.ChunkedArray:
    """Ids given as text: a number written with a zero fraction (``"123.0"``, ``"123,00"``, as a
    float id saved as text) becomes its integer digits, so that it matches the same id read as a
    float; scientific notation is refused -- Excel rounds long numbers to six significant digits
    when it writes ``1,23457E+11``, which merges distinct persons into one id."""
    sci = pc.match_substring_regex(col, _SCIENTIFIC)
    if pc.any(sci).as_py():
        fail(
            ctx,
            "person_id",
            "is written in scientific notation (e.g. 1,23457E+11): digits were lost and distinct "
            "persons would merge",
            as_mask(sci),
            hint="Export the id column as text or as whole numbers, not from Excel's General format",
        )
    fraction = pc.match_substring_regex(col, r"^[0-9]+[.,][0-9]+$")
    if not pc.any(fraction).as_py():
        return col
    whole_zero = pc.match_substring_regex(col, r"^[0-9]+[.,]0+$")
    bad = pc.and_(fraction, pc.invert(whole_zero))
    if pc.any(bad).as_py():
        fail(ctx, "person_id", "must be a whole number (ids have no fractional part)", as_mask(bad))
    return pc.replace_substring_regex(col, r"[.,]0+$", "")


def to_str(col: pa.ChunkedArray) -> pd.Series:
    return pd.Series(
        as_string(decode_dictionary(col)).to_pandas(types_mapper={pa.string(): STRING_DTYPE}.get),
        dtype=STRING_DTYPE,
    )


def numbers(col: pa.ChunkedArray, ctx: Context, column: str, integer: bool) -> pd.Series:
    """Numbers written the Swedish way: '1 234,5' (space/NBSP thousands, decimal comma)."""
    out = _number_array(col, ctx, column, integer)
    if integer:
        return pd.Series(out.to_pandas()).astype("Int64" if out.null_count else "int64")
    return pd.Series(out.to_numpy(), dtype="float64")


@per_distinct
def _number_array(
    col: pa.ChunkedArray, ctx: Context, column: str, integer: bool
) -> pa.ChunkedArray:
    t = col.type
    if pa.types.is_integer(t):
        return col.cast(pa.int64()) if integer else col.cast(pa.float64())
    if pa.types.is_floating(t):
        return integral(col, ctx, column, "values") if integer else col
    col = clean_text(col)
    for mark in _THOUSANDS:
        if pc.any(pc.match_substring(col, mark)).as_py():
            col = pc.replace_substring(col, mark, "")
            if column not in ctx.report.thousands_removed:
                ctx.report.thousands_removed.append(column)
    if ctx.decimal == "," and pc.any(pc.match_substring(col, ",")).as_py():
        col = pc.replace_substring(col, ",", ".")
    try:
        num = col.cast(pa.float64())
    except pa.ArrowInvalid:
        s = pd.to_numeric(col.to_pandas(), errors="coerce")
        bad = s.isna().to_numpy() & as_mask(pc.is_valid(col))
        fail(ctx, column, "must be a number", bad)
    return integral(num, ctx, column, "values") if integer else num



def map_canonical(raw: pa.Table, ctx: Context) -> dict[str, pd.Series]:
    """Canonical names: convert by the column kinds of the schema (dates and numbers here; the
    rest is left to validate_table)."""
    spec = TABLES[ctx.table]
    out: dict[str, pd.Series] = {}
    for name, col in zip(raw.column_names, raw.columns, strict=True):
        kind = spec.column(name).kind if name in spec.column_names else None
        if kind == "date":
            out[name] = pd.Series(parse_dates(col, ctx, name))
        elif kind == "int":
            out[name] = numbers(col, ctx, name, integer=True)
        elif kind == "id":
            out[name] = person_ids(col, ctx)
        elif is_text(col):
            text = clean_text(col)
            if kind is None:
                ctx.report.extra_columns.append(name)
            out[name] = to_str(text)
        else:
            if kind is None:
                ctx.report.extra_columns.append(name)
            out[name] = col.to_pandas()
        if kind is not None:
            ctx.report.columns_mapped[name] = name
    return out

