"""Read register extracts (CSV, SAS, Stata, Parquet) into canonical tables.

:func:`read_table` is the one entry point. It reads a file, maps Patientregistret names onto the
canonical columns (:mod:`naravard_analysis.data.schema`; methods reference §2.2), normalises codes and dates, stops clear-text
personnummer (methods reference §8.5) and hands the result to
:func:`naravard_analysis.data.schema.validate_table`.

File-level problems (empty, truncated, mixed separators, wrong encoding, unknown extension) raise
one :class:`~naravard_analysis.errors.ReadError` that names the file and the problem; value-level
problems (bad dates, unknown codes) raise :class:`~naravard_analysis.errors.SchemaError` with the
table, the column, the rule, the row count and up to five row positions. Messages never quote a
value from the file: a value could be an identifier.

Conventions handled (methods reference §8.1-8.3)
------------------------------------------------
* CSV/TXT: separator ``;``, ``,`` or tab sniffed from the first lines; decimal comma; thousands
  separated by space, NBSP (U+00A0) or narrow NBSP (U+202F); encoding ``utf-8-sig`` with a
  ``cp1252`` fallback; text that was UTF-8 decoded as CP1252 and saved again (``LuleÃ¥``) is caught.
  Every CSV column is read as text by pyarrow's multi-threaded parser (code columns keep their
  leading zeros); repeating columns (codes, dates) arrive dictionary-encoded and are normalised
  once per distinct value with vectorised arrow kernels, then gathered back by index.
* SAS ``.sas7bdat`` / ``.xpt`` and Stata ``.dta`` through pyreadstat: numerics arrive as float64,
  so ids and codes are cast to integers after checking that no value has a fractional part or
  exceeds 2**53 (methods reference §8.2).
* Dates given as ``YYYYMMDD`` text or integers are decomposed arithmetically into year, month and
  day -- never passed to ``pd.to_datetime`` as integers, which would read them as epoch nanoseconds
  (methods reference §8.3). Imprecise dates ending in ``00`` are counted and, by default, an error.

Modules
-------
:mod:`.dialect` (CSV encoding, separator, quoting, row count against the lines), :mod:`.formats`
(SAS, Stata, Parquet), :mod:`.normalise` (arrow kernels for codes, dates, ids and numbers; canonical
names), :mod:`.patientregistret` (Socialstyrelsen names and codes), :mod:`.base` (the read report).

Examples
--------
>>> from naravard_analysis.data.readers import read_table
>>> adm = read_table("sv_2015_2023.csv", "admissions", source="patientregistret")  # doctest: +SKIP
>>> adm.attrs["read_report"].rows_read  # doctest: +SKIP
5000000
"""
from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from naravard_analysis.data.readers.base import FORMATS, SOURCES, ReadReport
from naravard_analysis.data.readers.dialect import CSV_BLOCK_SIZE, read_csv
from naravard_analysis.data.readers.formats import format_of, read_binary
from naravard_analysis.data.readers.normalise import Context, decode_dictionary, map_canonical
from naravard_analysis.data.readers.patientregistret import (
    MAX_AGE,
    PATIENTREGISTRET_CODES,
    map_patientregistret,
)
from naravard_analysis.data.schema import STRING_DTYPE, TABLES
from naravard_analysis.errors import DataWarning, IdentifierError, ParameterError, ReadError

__all__ = [
    "read_table",
    "ReadReport",
    "SOURCES",
    "FORMATS",
    "PATIENTREGISTRET_CODES",
    "CSV_BLOCK_SIZE",
    "MAX_AGE",
]

_OPTION_NAMES = {
    "usecols", "imprecise_dates", "extra", "duplicates", "check_codes", "fill", "block_size",
}  # fmt: skip



# ----------------------------------------------------------------------------------------------
# public entry point
# ----------------------------------------------------------------------------------------------


def read_table(
    path: str | Path,
    table: str,
    source: str = "canonical",
    *,
    encoding: str | None = None,
    sep: str | None = None,
    pseudonymise_key: str | bytes | None = None,
    validate: bool = True,
    **options: object,
) -> pd.DataFrame:
    """Read one register file into a canonical table.

    Parameters
    ----------
    path
        ``.csv``/``.txt``/``.tsv``, ``.sas7bdat``, ``.xpt``, ``.dta`` or ``.parquet``.
    table
        Canonical table name (``admissions``, ``contacts``, ``persons``, ...; see
        :data:`naravard_analysis.data.schema.TABLES`). With ``source="patientregistret"`` only
        ``admissions`` (slutenvård) and ``contacts`` (öppenvård) are defined.
    source
        ``"canonical"`` (columns already carry canonical names) or ``"patientregistret"``
        (Socialstyrelsen names, methods reference §2.2, matched case-insensitively):

        ============  ============================================================================
        LopNr         person_id (float/text ids become int64 after an integrality check)
        INDATUM       admission_date (admissions) or contact_date (contacts)
        UTDATUM       discharge_date (admissions)
        HDIA          main_diagnosis (upper case, dots and blanks removed)
        DIA1..DIAn    other_diagnoses: the non-empty codes joined by single spaces, '' when none
        OP            procedures (upper case, single spaces)
        PVARD         planned: 1 -> True, 2 -> False
        INSATT        admitted_from: 1 hospital, 2 special_housing, 3 home, other codes 'other'
        UTSATT        discharge_to: 1 hospital, 2 special_housing, 3 home, 4 died, others 'other'
        MVO           department (3-digit zero-padded text)
        SJUKHUS       hospital_id (admissions) or unit_id (contacts), text
        KON           sex: 1 -> 'M', 2 -> 'F'
        LAN           region_code (2-digit zero-padded)
        KOMMUN        municipality_code (4 digits; built as LAN + KOMMUN when 2 digits; 99 abroad
                      becomes missing and is counted)
        ALDER         age (int, kept as an extra column)
        ============  ============================================================================

        For contacts the outpatient register has no profession, mode or clinician: pass
        ``fill={"profession": ..., "mode": ...}`` to state them; ``care_level`` is
        ``"emergency"`` where MVO is 046 or 100 and PVARD is 2 (methods reference §2.5), otherwise
        ``"specialist"``. Unmapped columns are kept under their own names.
    encoding
        Text encoding of a CSV (or SAS file); default: try ``utf-8-sig`` then ``cp1252``.
    sep
        CSV separator; default: sniffed from the first lines (``;``, tab or ``,``).
    pseudonymise_key
        When a column holds clear-text personnummer, replace it by
        :func:`~naravard_analysis.data.identifiers.pseudonymise` with this key. Without a key
        such a file raises :class:`~naravard_analysis.errors.IdentifierError`.
    validate
        Run :func:`~naravard_analysis.data.schema.validate_table` (recommended).
    **options
        ``usecols`` (source column names to read), ``imprecise_dates`` (``"error"`` default,
        ``"null"`` or ``"first"`` = first day of the month/year), ``fill`` (constant canonical
        columns to add when absent), ``extra``, ``duplicates``, ``check_codes`` (passed to
        ``validate_table``), ``block_size`` (bytes per CSV parse block, default
        :data:`CSV_BLOCK_SIZE`; smaller blocks use less memory).

    Returns
    -------
    DataFrame
        Canonical dtypes; ``df.attrs["read_report"]`` holds a :class:`ReadReport`.

    Raises
    ------
    ReadError
        File-level problems, naming the file and the problem.
    SchemaError, IdentifierError
        Value-level problems, naming table, column, rule, row count and row positions.

    Examples
    --------
    >>> adm = read_table("sv.csv", "admissions", source="patientregistret")  # doctest: +SKIP
    >>> print(adm.attrs["read_report"].summary())  # doctest: +SKIP
    """
    started = time.perf_counter()
    unknown = set(options) - _OPTION_NAMES
    if unknown:
        raise ParameterError(
            f"read_table: unknown option(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(_OPTION_NAMES))}"
        )
    if source not in SOURCES:
        raise ParameterError(f"read_table: source must be one of {SOURCES}, got {source!r}")
    if table not in TABLES:
        raise ParameterError(
            f"read_table: unknown table {table!r}; expected one of {', '.join(TABLES)}"
        )
    if source == "patientregistret" and table not in ("admissions", "contacts"):
        raise ParameterError(
            "read_table: source='patientregistret' maps onto 'admissions' (slutenvård) or "
            f"'contacts' (öppenvård), not {table!r}"
        )
    imprecise = str(options.get("imprecise_dates", "error"))
    if imprecise not in ("error", "null", "first"):
        raise ParameterError("read_table: imprecise_dates must be 'error', 'null' or 'first'")
    usecols = options.get("usecols")
    if usecols is not None and isinstance(usecols, str):
        usecols = [usecols]
    block_size = options.get("block_size", CSV_BLOCK_SIZE)
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 64:
        raise ParameterError(f"read_table: block_size must be an integer >= 64, got {block_size!r}")

    if pseudonymise_key is not None:
        from naravard_analysis.data.identifiers import check_key

        check_key(pseudonymise_key)  # a weak key is refused before any file is read
    path = Path(path)
    fmt = format_of(path)
    if not path.exists():
        raise ReadError(f"{path}: file not found")
    if not path.is_file():
        raise ReadError(f"{path}: not a regular file")
    report = ReadReport(path=str(path), table=table, source=source, file_format=fmt)
    report.imprecise_dates_policy = imprecise

    if fmt == "csv":
        # Ids are mostly distinct: plain text, checked for leading zeros before becoming int64
        # (an int64 parse would merge "0012" with "12"); all other columns, dates included,
        # repeat and are dictionary-encoded.
        if source == "patientregistret":
            plain = frozenset({"LOPNR"})
        else:
            plain = frozenset(c.name.upper() for c in TABLES[table].columns if c.kind == "id")
        raw = read_csv(path, encoding, sep, usecols, report, plain, block_size)
    else:
        raw = read_binary(path, fmt, encoding, usecols, report)
    _check_column_names(path, raw.column_names, table)
    report.rows_read = raw.num_rows
    if raw.num_rows == 0:
        raise ReadError(f"{path}: has column names but no data rows")

    raw = _check_identifiers(raw, pseudonymise_key, table, report)
    ctx = Context(table=table, report=report, imprecise=imprecise, decimal=report.decimal or ".")
    if source == "patientregistret":
        columns = map_patientregistret(raw, ctx)
    else:
        columns = map_canonical(raw, ctx)
    for name, value in dict(options.get("fill") or {}).items():
        if name not in columns:
            columns[name] = pd.Series(
                [value] * raw.num_rows, dtype=STRING_DTYPE if isinstance(value, str) else None
            )
    df = pd.DataFrame(columns)
    del raw, columns

    if validate:
        from naravard_analysis.data.schema import validate_table

        kwargs = {k: options[k] for k in ("extra", "duplicates", "check_codes") if k in options}
        if source == "patientregistret" and kwargs.get("extra", "warn") == "warn":
            # The person-level columns mapped from Patientregistret (sex, age, residence) are
            # expected extras; only unmapped source columns are unknown (warned below).
            kwargs["extra"] = "keep"
            if report.extra_columns:
                warnings.warn(
                    f"{table}: {len(report.extra_columns)} unknown column(s) kept: "
                    + ", ".join(report.extra_columns),
                    DataWarning,
                    stacklevel=2,
                )
        df = validate_table(df, table, **kwargs)
    report.seconds = time.perf_counter() - started
    df.attrs["read_report"] = report
    _warn_recovered(report)
    return df


def _check_column_names(path: Path, names: Sequence[str], table: str) -> None:
    """Column names are metadata that gets printed: none may be an identity number, and none may
    appear twice (a later column of the same name would silently replace the first).

    Names are compared without case and surrounding blanks, as the mappings compare them. A
    name that holds a personnummer is never shown; it usually means the header line is missing.
    """
    from naravard_analysis.data.identifiers import contains_personnummer

    flagged = contains_personnummer(pd.Series([str(n) for n in names], dtype=object))
    if flagged.any():
        positions = [str(i + 1) for i in np.flatnonzero(flagged)]
        raise IdentifierError(
            table,
            f"column {positions[0]}",
            "the column name is (or holds) a personnummer/samordningsnummer (not shown)"
            + (f"; also columns {', '.join(positions[1:])}" if len(positions) > 1 else ""),
            hint=f"{path}: does the file lack its header line?",
        )
    seen: dict[str, int] = {}
    for i, name in enumerate(names, start=1):
        key = str(name).strip().upper()
        if key in seen:
            raise ReadError(
                f"{path}: column name {str(name).strip()!r} appears twice (columns {seen[key]} "
                f"and {i}; names are compared without case and surrounding blanks) -- one of them "
                "would be lost; rename or drop one"
            )
        seen[key] = i


def _warn_recovered(report: ReadReport) -> None:
    """One DataWarning that counts the values read_table changed (never silent)."""
    notes: list[str] = []
    for column, n in report.imprecise_dates.items():
        how = "set to missing" if report.imprecise_dates_policy == "null" else "set to day 1"
        notes.append(f"{n} imprecise dates in {column} {how}")
    for source, n in report.codes_mapped_to_other.items():
        notes.append(f"{n} {source} codes outside the code list mapped to 'other'")
    if report.residents_abroad:
        notes.append(f"{report.residents_abroad} KOMMUN 99 (abroad) set to missing")
    if notes:
        warnings.warn(f"{report.path}: " + "; ".join(notes), DataWarning, stacklevel=3)


# ----------------------------------------------------------------------------------------------
# identifiers
# ----------------------------------------------------------------------------------------------


def _check_identifiers(
    raw: pa.Table, key: str | bytes | None, table: str, report: ReadReport
) -> pa.Table:
    """Stop (or pseudonymise) clear-text personnummer before anything else sees them."""
    from naravard_analysis.data.identifiers import identifier_report, pseudonymise

    # Screen the distinct values of dictionary columns (cheap), then count rows exactly for the
    # columns flagged; plain columns are screened on their rows.
    distinct, plain = {}, {}
    for name, col in zip(raw.column_names, raw.columns, strict=True):
        if not _may_hold_identifier(col):
            continue
        if pa.types.is_dictionary(col.type):
            values = pc.unique(pa.chunked_array([c.dictionary for c in col.chunks]))
            distinct[name] = values.to_pandas(types_mapper={pa.string(): STRING_DTYPE}.get)
        else:
            plain[name] = col.to_pandas(types_mapper={pa.string(): STRING_DTYPE}.get)
    if not distinct and not plain:
        return raw
    found = identifier_report(pd.DataFrame(plain)) if plain else {}
    candidates = dict(plain)
    flagged = [n for n, v in distinct.items() if identifier_report(pd.DataFrame({n: v}))]
    for name in flagged:
        rows = decode_dictionary(raw.column(name)).to_pandas(types_mapper={pa.string(): STRING_DTYPE}.get)
        candidates[name] = rows
        found.update(identifier_report(pd.DataFrame({name: rows})))
    if not found:
        return raw
    if key is None:
        name, n = next(iter(found.items()))
        others = [c for c in found if c != name]
        raise IdentifierError(
            table,
            name,
            "holds clear-text personnummer/samordningsnummer"
            + (f" (also in: {', '.join(others)})" if others else ""),
            n,
            hint="Pass pseudonymise_key=KEY to read_table to replace them by a keyed hash",
        )
    for name in found:
        hashed = pseudonymise(candidates[name], key)
        idx = raw.column_names.index(name)
        raw = raw.set_column(
            idx,
            name,
            pa.chunked_array([pa.array(hashed.to_numpy(dtype=object, na_value=None), pa.string())]),
        )
        report.pseudonymised_columns.append(name)
    return raw


def _may_hold_identifier(col: pa.ChunkedArray) -> bool:
    if pa.types.is_dictionary(col.type):
        col = pa.chunked_array([c.dictionary for c in col.chunks], type=col.type.value_type)
    t = col.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        longest = pc.max(pc.utf8_length(col)).as_py()
        return longest is not None and longest >= 10
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        biggest = pc.max(pc.abs(col)).as_py()
        return biggest is not None and biggest >= 1e8
    return False

