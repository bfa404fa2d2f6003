"""Canonical tables: the one place that defines their columns, dtypes and rules.

Every reader, generator and indicator in the package speaks these six tables (described in ``data/README.md`` and methods reference §2.2):
``persons``, ``population``, ``admissions``, ``contacts``, ``listings`` and ``enrolments``.
:func:`validate_table` coerces a DataFrame to the canonical dtypes and checks every rule, raising
one :class:`~naravard_analysis.errors.SchemaError` that names the table, the column, the rule, how
many rows break it and up to five row positions (never an identifier in clear).

Canonical dtypes
----------------
* dates: ``datetime64[ns]``, between 1900-01-01 and today;
* codes and text ids: :data:`STRING_DTYPE` (``pd.StringDtype("pyarrow", na_value=np.nan)``, the
  default ``str`` dtype of pandas 3, compact at 10^7 rows, comparisons give numpy ``bool``);
* ``person_id``: ``int64`` when all values are integers (a ``LopNr`` that arrives as float is cast
  after checking that no value has a fractional part), otherwise text;
* ``planned``: ``bool`` in admissions (PVARD is always recorded) and nullable ``boolean`` in
  contacts;
* counts, years and ages: ``int64``.

Examples
--------
>>> import pandas as pd
>>> from naravard_analysis.data.schema import validate_table
>>> persons = pd.DataFrame({"person_id": [1, 2], "sex": ["F", "M"],
...     "birth_date": ["1950-03-01", "1941-12-24"], "region_code": ["14", "14"],
...     "municipality_code": ["1480", "1401"], "death_date": [None, "2021-02-03"]})
>>> validate_table(persons, "persons").dtypes["birth_date"]
dtype('<M8[ns]')
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date

import numpy as np
import pandas as pd

from naravard_analysis.errors import DataWarning, SchemaError

__all__ = [
    "STRING_DTYPE",
    "SCHEMA_VERSION",
    "Column",
    "TableSpec",
    "TABLES",
    "ICD10_PATTERN",
    "validate_table",
    "empty_table",
    "MIN_DATE",
]

#: Version of the canonical table layout; written into every bundle manifest.
SCHEMA_VERSION = "1.0"

#: Text dtype of canonical code and id columns (pandas 3's default ``str``; arrow-backed).
STRING_DTYPE = pd.StringDtype("pyarrow", na_value=np.nan)

#: Earliest date accepted anywhere (a package rule: dates outside 1900..today are errors).
MIN_DATE = pd.Timestamp("1900-01-01")

#: One dotless ICD-10(-SE) code: letter, two digits, up to three more digits or letters
#: (methods reference §2.3; ICD-10-SE has 5-character Swedish extensions).
ICD10_PATTERN = r"[A-Z][0-9]{2}[0-9A-Z]{0,3}"
_ICD_LIST_PATTERN = rf"(?:{ICD10_PATTERN}(?: {ICD10_PATTERN})*)?"
#: KVÅ procedure codes: three letters and two digits, optionally a suffix (kept permissive).
_KVA_LIST_PATTERN = r"(?:[A-Z0-9]{3,8}(?: [A-Z0-9]{3,8})*)?"


@dataclass(frozen=True)
class Column:
    """One canonical column.

    Attributes
    ----------
    name
        Column name.
    kind
        ``"id"`` (int64 or text), ``"date"``, ``"str"``, ``"bool"``, ``"boolean"`` (nullable) or
        ``"int"``.
    nullable
        Whether missing values are allowed.
    allowed
        Closed set of allowed values (for ``str`` columns), or ``None``.
    pattern
        Regular expression every non-missing value must match in full, or ``None``.
    pattern_rule
        Human description of ``pattern`` used in error messages.
    required
        Whether the column must be present; optional columns are added with ``default``.
    default
        Fill value for an absent optional column.
    min_value, max_value
        Numeric bounds for ``int`` columns.
    """

    name: str
    kind: str
    nullable: bool = False
    allowed: tuple[str, ...] | None = None
    pattern: str | None = None
    pattern_rule: str = ""
    required: bool = True
    default: object = None
    min_value: int | None = None
    max_value: int | None = None


@dataclass(frozen=True)
class TableSpec:
    """A canonical table: its columns, unique key and cross-column date rules."""

    name: str
    columns: tuple[Column, ...]
    #: Columns that identify a row; duplicates on these are errors. ``None``: exact duplicates.
    key: tuple[str, ...] | None = None
    #: Pairs (earlier, later) of date columns with later >= earlier where both present.
    date_order: tuple[tuple[str, str], ...] = ()
    description: str = ""
    column_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "column_names", tuple(c.name for c in self.columns))

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)


_SEX = ("F", "M")
_REGION = Column(
    "region_code", "str", pattern=r"[0-9]{2}", pattern_rule="two-digit zero-padded region code"
)
_MUNICIPALITY = Column(
    "municipality_code",
    "str",
    pattern=r"[0-9]{4}",
    pattern_rule="four-digit zero-padded municipality code",
)

TABLES: dict[str, TableSpec] = {
    "persons": TableSpec(
        "persons",
        (
            Column("person_id", "id"),
            Column("sex", "str", allowed=_SEX),
            Column("birth_date", "date"),
            _REGION,
            _MUNICIPALITY,
            Column("death_date", "date", nullable=True),
        ),
        key=("person_id",),
        date_order=(("birth_date", "death_date"),),
        description="One row per person: sex, birth date, residence and death date.",
    ),
    "population": TableSpec(
        "population",
        (
            Column("year", "int", min_value=1900, max_value=2100),
            _REGION,
            replace(_MUNICIPALITY, nullable=True),  # missing: a county-level row
            Column("sex", "str", allowed=_SEX),
            Column("age", "int", min_value=0, max_value=130),
            Column("population", "int", min_value=0),
        ),
        key=("year", "region_code", "municipality_code", "sex", "age"),
        description="Residents on 31 December by year, area, sex and single year of age.",
    ),
    "admissions": TableSpec(
        "admissions",
        (
            Column("person_id", "id"),
            Column("admission_date", "date"),
            Column("discharge_date", "date"),
            Column(
                "main_diagnosis",
                "str",
                pattern=ICD10_PATTERN,
                pattern_rule="dotless upper-case ICD-10 code (e.g. I500)",
            ),
            Column(
                "other_diagnoses",
                "str",
                pattern=_ICD_LIST_PATTERN,
                pattern_rule="dotless ICD-10 codes separated by single spaces ('' when none)",
                required=False,
                default="",
            ),
            Column(
                "procedures",
                "str",
                pattern=_KVA_LIST_PATTERN,
                pattern_rule="KVÅ codes separated by single spaces ('' when none)",
                required=False,
                default="",
            ),
            Column("planned", "bool"),
            Column("hospital_id", "str", nullable=True, required=False),
            Column("department", "str", nullable=True, required=False),
            Column(
                "admitted_from",
                "str",
                allowed=("home", "hospital", "special_housing", "other"),
                required=False,
                default="home",
            ),
            Column(
                "discharge_to",
                "str",
                allowed=("home", "hospital", "special_housing", "died", "other"),
            ),
        ),
        key=None,
        date_order=(("admission_date", "discharge_date"),),
        description="Inpatient stays (vårdtillfällen, slutenvård), one row per stay.",
    ),
    "contacts": TableSpec(
        "contacts",
        (
            Column("person_id", "id"),
            Column("contact_date", "date"),
            Column("provider_id", "str", nullable=True),
            Column(
                "profession",
                "str",
                allowed=("physician", "nurse", "physiotherapist", "occupational_therapist", "other"),
            ),
            Column("unit_id", "str"),
            Column("care_level", "str", allowed=("primary", "specialist", "emergency", "municipal")),
            Column("mode", "str", allowed=("physical", "video", "phone")),
            Column("planned", "boolean", nullable=True, required=False),
        ),
        key=None,
        description="Outpatient contacts (primary care, specialist, emergency department).",
    ),
    "listings": TableSpec(
        "listings",
        (
            Column("person_id", "id"),
            Column("doctor_id", "str", nullable=True),
            Column("unit_id", "str"),
            Column("start_date", "date"),
            Column("end_date", "date", nullable=True),
        ),
        key=None,
        date_order=(("start_date", "end_date"),),
        description="Listing at a primary-care unit, with a named doctor (fast läkarkontakt) or not.",
    ),
    "enrolments": TableSpec(
        "enrolments",
        (
            Column("person_id", "id"),
            Column("intervention", "str"),
            Column("team_id", "str"),
            Column("start_date", "date"),
            Column("end_date", "date", nullable=True),
        ),
        key=None,
        date_order=(("start_date", "end_date"),),
        description="Enrolments in interventions such as mobile teams (mobila team).",
    ),
}


def _positions(mask: np.ndarray) -> np.ndarray:
    return np.flatnonzero(mask)


def _fail(table: str, column: str | None, rule: str, mask: np.ndarray, hint: str = "") -> None:
    pos = _positions(mask)
    raise SchemaError(table, column, rule, len(pos), pos[:5], hint=hint)


def _coerce_id(s: pd.Series, table: str) -> pd.Series:
    if pd.api.types.is_integer_dtype(s.dtype):
        if s.isna().any():
            _fail(table, "person_id", "must not be missing", s.isna().to_numpy())
        return s.astype("int64")
    if pd.api.types.is_float_dtype(s.dtype):
        values = s.to_numpy(dtype="float64", na_value=np.nan)
        bad = np.isnan(values)
        if bad.any():
            _fail(table, "person_id", "must not be missing", bad)
        frac = (values != np.floor(values)) | (np.abs(values) > 2**53)
        if frac.any():
            _fail(
                table,
                "person_id",
                "float id must be a whole number below 2**53 (SAS numerics arrive as floats)",
                frac,
            )
        return pd.Series(values.astype("int64"), index=s.index, name=s.name)
    text = s.astype(STRING_DTYPE)
    missing = text.isna().to_numpy() | (text.str.len() == 0).to_numpy()
    if missing.any():
        _fail(table, "person_id", "must not be missing", missing)
    stripped = text.str.strip()
    if stripped.str.fullmatch(r"[0-9]{1,18}").all():
        # All-digit text ids (e.g. LopNr read as text) become integers; leading zeros would
        # change the id, so keep those as text.
        if not stripped.str.match(r"0[0-9]").any():
            return stripped.astype("int64")
    return stripped


def _coerce_date(s: pd.Series, table: str, column: str) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        out = s
        if getattr(out.dt, "tz", None) is not None:
            out = out.dt.tz_localize(None)
        return out.astype("datetime64[ns]")
    was_missing = s.isna().to_numpy()
    if pd.api.types.is_integer_dtype(s.dtype) or pd.api.types.is_float_dtype(s.dtype):
        # Register dates arrive as YYYYMMDD integers; pd.to_datetime would read them as epoch
        # nanoseconds (methods reference §8.3), so go through text with an explicit format.
        v = np.nan_to_num(s.to_numpy(dtype="float64", na_value=np.nan), nan=0.0).astype("int64")
        parts = pd.DataFrame({"year": v // 10000, "month": (v // 100) % 100, "day": v % 100})
        parsed = pd.to_datetime(parts, errors="coerce")
        parsed[was_missing] = pd.NaT
    else:
        text = s.astype(STRING_DTYPE).str.strip()
        compact = text.str.fullmatch(r"[0-9]{8}").fillna(False).to_numpy(dtype=bool)
        parsed = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
        if compact.any():
            parsed[compact] = pd.to_datetime(text[compact], format="%Y%m%d", errors="coerce")
        rest = ~compact & ~was_missing
        if rest.any():
            parsed[rest] = pd.to_datetime(text[rest], format="ISO8601", errors="coerce")
    bad = parsed.isna().to_numpy() & ~was_missing
    if bad.any():
        _fail(
            table,
            column,
            "cannot be read as a date (expected ISO 8601 or YYYYMMDD; imprecise dates ending in 00 "
            "must be resolved before validation)",
            bad,
        )
    return parsed.astype("datetime64[ns]")


_TRUE = {"true", "1", "t", "yes", "y", "ja", "j"}
_FALSE = {"false", "0", "f", "no", "n", "nej"}


def _coerce_bool(s: pd.Series, table: str, column: str, nullable: bool) -> pd.Series:
    if pd.api.types.is_bool_dtype(s.dtype) and not isinstance(s.dtype, pd.BooleanDtype):
        return s.astype("boolean") if nullable else s
    if isinstance(s.dtype, pd.BooleanDtype):
        out = s
    elif pd.api.types.is_numeric_dtype(s.dtype):
        values = pd.Series(s.to_numpy(dtype="float64", na_value=np.nan), index=s.index)
        bad = ~values.isin([0.0, 1.0]) & values.notna()
        if bad.any():
            _fail(table, column, "must be boolean (True/False or 1/0)", bad.to_numpy())
        out = values.map({1.0: True, 0.0: False}).astype("boolean")
    else:
        text = s.astype(STRING_DTYPE).str.strip().str.lower()
        mapped = pd.Series(pd.NA, index=s.index, dtype="boolean")
        mapped[text.isin(_TRUE).to_numpy(dtype=bool)] = True
        mapped[text.isin(_FALSE).to_numpy(dtype=bool)] = False
        bad = mapped.isna().to_numpy() & text.notna().to_numpy()
        if bad.any():
            _fail(table, column, "must be boolean (True/False or 1/0)", bad)
        out = mapped
    if nullable:
        return out.astype("boolean")
    if out.isna().any():
        _fail(table, column, "must not be missing", out.isna().to_numpy())
    return out.astype(bool)


def _coerce_int(s: pd.Series, table: str, column: str) -> pd.Series:
    if pd.api.types.is_integer_dtype(s.dtype) and not s.isna().any():
        return s.astype("int64")
    numeric = pd.to_numeric(s, errors="coerce")
    values = numeric.to_numpy(dtype="float64", na_value=np.nan)
    bad = (np.isnan(values) & ~s.isna().to_numpy()) | (
        ~np.isnan(values) & (values != np.floor(values))
    )
    if bad.any():
        _fail(table, column, "must be a whole number", bad)
    if np.isnan(values).any():
        _fail(table, column, "must not be missing", np.isnan(values))
    return pd.Series(values.astype("int64"), index=s.index, name=s.name)


def _coerce_str(s: pd.Series, col: Column, table: str) -> pd.Series:
    if col.pattern is not None and col.pattern.startswith("[0-9]{") and (
        pd.api.types.is_integer_dtype(s.dtype) or pd.api.types.is_float_dtype(s.dtype)
    ):
        # A code read as a number has lost its leading zeros ("01" -> 1): say so plainly.
        width = int(col.pattern[6])
        _fail(
            table,
            col.name,
            f"must be a zero-padded text code of {width} digits, got numbers (e.g. 1 instead of "
            f"'{'1'.zfill(width)}')",
            s.notna().to_numpy(),
            hint="Read code columns as text (dtype=str)",
        )
    out = s.astype(STRING_DTYPE)
    return out


def _check_values(out: pd.Series, col: Column, table: str) -> None:
    missing = out.isna().to_numpy()
    if col.kind == "str" and not col.nullable and col.default == "":
        # Optional text lists: missing means "none recorded".
        missing = np.zeros(len(out), dtype=bool)
    if not col.nullable and missing.any():
        _fail(table, col.name, "must not be missing", missing)
    if col.kind == "str":
        present = out.notna().to_numpy()
        if col.allowed is not None:
            bad = present & ~out.isin(col.allowed).to_numpy(dtype=bool)
            if bad.any():
                _fail(table, col.name, f"must be one of {', '.join(map(repr, col.allowed))}", bad)
        if col.pattern is not None:
            # Check the distinct values only: codes repeat, so this is fast at 10^7 rows.
            codes, uniques = pd.factorize(out, use_na_sentinel=True)
            ok_unique = pd.Series(uniques, dtype=STRING_DTYPE).str.fullmatch(col.pattern)
            ok_unique = ok_unique.fillna(False).to_numpy(dtype=bool)
            bad = present & ~np.where(codes >= 0, ok_unique[np.maximum(codes, 0)], True)
            if bad.any():
                _fail(table, col.name, f"must be a {col.pattern_rule}", bad)
    if col.kind == "int":
        values = out.to_numpy()
        if col.min_value is not None and (values < col.min_value).any():
            _fail(table, col.name, f"must be >= {col.min_value}", values < col.min_value)
        if col.max_value is not None and (values > col.max_value).any():
            _fail(table, col.name, f"must be <= {col.max_value}", values > col.max_value)
    if col.kind == "date":
        today = pd.Timestamp(date.today())
        values = out.to_numpy()
        bad = ~np.isnat(values) & ((values < MIN_DATE.to_datetime64()) | (values > today.to_datetime64()))
        if bad.any():
            _fail(table, col.name, f"must lie between 1900-01-01 and today ({today.date()})", bad)


def _check_codes_known(df: pd.DataFrame, table: str) -> None:
    """Region and municipality codes must exist in the official code lists (methods reference §8.4)."""
    try:
        from naravard_analysis.data import official
    except ImportError:  # pragma: no cover - official lists ship with the package
        return
    checks = []
    if "region_code" in df.columns:
        checks.append(("region_code", "regions", "a region code of the 21 Swedish regions"))
    if "municipality_code" in df.columns:
        checks.append(("municipality_code", "municipalities", "a Swedish municipality code"))
    for column, loader, rule in checks:
        try:
            known = getattr(official, loader)()[column]
        except (AttributeError, OSError, ValueError):
            continue
        values = df[column]
        present = values.notna().to_numpy()
        bad = present & ~values.isin(set(known)).to_numpy(dtype=bool)
        if bad.any():
            _fail(table, column, f"must be {rule} (official code list)", bad)


def validate_table(
    df: pd.DataFrame,
    table: str,
    *,
    extra: str = "warn",
    duplicates: str = "error",
    check_codes: bool = True,
    check_duplicates: bool = True,
) -> pd.DataFrame:
    """Coerce a table to its canonical dtypes and check every rule of its schema.

    Parameters
    ----------
    df
        The table as read or generated.
    table
        One of ``persons``, ``population``, ``admissions``, ``contacts``, ``listings``,
        ``enrolments``.
    extra
        What to do with columns the schema does not know: ``"warn"`` (keep them, one
        :class:`~naravard_analysis.errors.DataWarning` listing them), ``"keep"`` (silently) or
        ``"error"``.
    duplicates
        ``"error"`` (default) raises on duplicate rows -- exact duplicates, or duplicates on the
        table's key (``person_id`` for persons; area × sex × age × year for population); ``"warn"``
        keeps them with a warning that counts them. Nothing is ever dropped silently.
    check_codes
        Check region and municipality codes against the official code lists.
    check_duplicates
        ``False`` skips only the duplicate-row check (the one costly rule), for a table read back
        from files whose hashes match what was written; every other rule -- dtypes, missing and
        allowed values, ranges, dates, codes, clear-text identifiers -- always runs.

    Returns
    -------
    DataFrame
        A copy with canonical dtypes, canonical columns first, extra columns after them.

    Raises
    ------
    SchemaError
        Naming the table, the column, the rule, the number of rows that break it and up to five
        row positions.
    """
    if table not in TABLES:
        raise SchemaError(table, None, f"unknown table; expected one of {', '.join(TABLES)}")
    if not isinstance(df, pd.DataFrame):
        raise SchemaError(table, None, f"must be a pandas DataFrame, got {type(df).__name__}")
    spec = TABLES[table]
    _check_column_names(df, table)
    df = df.reset_index(drop=True)
    missing = [c.name for c in spec.columns if c.required and c.name not in df.columns]
    if missing:
        raise SchemaError(
            table,
            missing[0],
            "missing required column"
            + (f" (also missing: {', '.join(missing[1:])})" if len(missing) > 1 else ""),
            hint=f"Expected columns: {', '.join(spec.column_names)}",
        )
    extras = [c for c in df.columns if c not in spec.column_names]
    if extras:
        if extra == "error":
            raise SchemaError(table, extras[0], "unknown column (extra='error')")
        if extra == "warn":
            warnings.warn(
                f"{table}: {len(extras)} unknown column(s) kept: {', '.join(map(str, extras))}",
                DataWarning,
                stacklevel=2,
            )

    out: dict[str, pd.Series] = {}
    for col in spec.columns:
        if col.name not in df.columns:
            s = pd.Series([col.default] * len(df), index=df.index, name=col.name)
        else:
            s = df[col.name]
        if col.kind == "id":
            s = _coerce_id(s, table)
        elif col.kind == "date":
            s = _coerce_date(s, table, col.name)
        elif col.kind in ("bool", "boolean"):
            s = _coerce_bool(s, table, col.name, nullable=col.kind == "boolean")
        elif col.kind == "int":
            s = _coerce_int(s, table, col.name)
        else:
            s = _coerce_str(s, col, table)
            if col.default == "":
                s = s.fillna("")
        _check_values(s, col, table)
        out[col.name] = s
    result = pd.DataFrame(out, index=df.index)
    for name in extras:
        result[name] = df[name]

    for earlier, later in spec.date_order:
        a, b = result[earlier].to_numpy(), result[later].to_numpy()
        bad = ~np.isnat(a) & ~np.isnat(b) & (b < a)
        if bad.any():
            _fail(table, later, f"{later} must not be before {earlier}", bad)

    if check_codes:
        _check_codes_known(result, table)
    if check_duplicates:
        _check_duplicates(result, spec, duplicates)
    _check_identifiers(result, table)
    return result


def _check_duplicates(df: pd.DataFrame, spec: TableSpec, how: str) -> None:
    subset = list(spec.key) if spec.key else list(spec.column_names)
    dup = df.duplicated(subset=subset, keep="first").to_numpy()
    if dup.any():
        what = "duplicate " + ("key (" + ", ".join(spec.key) + ")" if spec.key else "rows")
        if how == "error":
            _fail(
                spec.name,
                None,
                f"{what}: every row must be unique",
                dup,
                hint="Duplicates are reported, never dropped silently; pass duplicates='warn' to keep them",
            )
        warnings.warn(
            f"{spec.name}: {int(dup.sum())} {what} kept (duplicates='warn')",
            DataWarning,
            stacklevel=3,
        )


def _check_column_names(df: pd.DataFrame, table: str) -> None:
    """No column name may be (or hold) a personnummer: names are printed in warnings and errors."""
    from naravard_analysis.data.identifiers import contains_personnummer

    names = pd.Series([str(c) for c in df.columns], dtype=object)
    flagged = np.flatnonzero(contains_personnummer(names)) if len(names) else []
    if len(flagged):
        from naravard_analysis.errors import IdentifierError

        raise IdentifierError(
            table,
            f"column {flagged[0] + 1}",
            "the column name is (or holds) a personnummer/samordningsnummer (not shown)",
        )


def _check_identifiers(df: pd.DataFrame, table: str) -> None:
    from naravard_analysis.data.identifiers import identifier_report

    report = identifier_report(df)
    if report:
        from naravard_analysis.errors import IdentifierError

        column, n = next(iter(report.items()))
        raise IdentifierError(
            table,
            column,
            "holds clear-text personnummer/samordningsnummer",
            n,
            hint="Pseudonymise on read: read_table(..., pseudonymise_key=KEY)",
        )


def empty_table(table: str) -> pd.DataFrame:
    """An empty DataFrame with the canonical columns and dtypes of ``table``."""
    spec = TABLES[table]
    dtypes = {
        "id": "int64",
        "date": "datetime64[ns]",
        "str": STRING_DTYPE,
        "bool": bool,
        "boolean": "boolean",
        "int": "int64",
    }
    return pd.DataFrame({c.name: pd.Series([], dtype=dtypes[c.kind]) for c in spec.columns})


def require_columns(df: pd.DataFrame, table: str, columns: Iterable[str]) -> None:
    """Raise a SchemaError when ``df`` lacks any of ``columns`` (for indicator inputs)."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise SchemaError(
            table,
            missing[0],
            "missing required column"
            + (f" (also missing: {', '.join(missing[1:])})" if len(missing) > 1 else ""),
        )
