"""Read register extracts (CSV, SAS, Stata, Parquet) into canonical tables.

:func:`read_table` is the one entry point. It reads a file, maps Patientregistret names onto the
canonical columns (DESIGN.md; DEFINITIONS.md 2.2), normalises codes and dates, stops clear-text
personnummer (DEFINITIONS.md 8.5) and hands the result to
:func:`naravard_analysis.data.schema.validate_table`.

File-level problems (empty, truncated, mixed separators, wrong encoding, unknown extension) raise
one :class:`~naravard_analysis.errors.ReadError` that names the file and the problem; value-level
problems (bad dates, unknown codes) raise :class:`~naravard_analysis.errors.SchemaError` with the
table, the column, the rule, the row count and up to five row positions. Messages never quote a
value from the file: a value could be an identifier.

Conventions handled (DEFINITIONS.md 8.1-8.3)
--------------------------------------------
* CSV/TXT: separator ``;``, ``,`` or tab sniffed from the first lines; decimal comma; thousands
  separated by space, NBSP (U+00A0) or narrow NBSP (U+202F); encoding ``utf-8-sig`` with a
  ``cp1252`` fallback; text that was UTF-8 decoded as CP1252 and saved again (``LuleÃ¥``) is caught.
  Every CSV column is read as text by pyarrow's multi-threaded parser (code columns keep their
  leading zeros); repeating columns (codes, dates) arrive dictionary-encoded and are normalised
  once per distinct value with vectorised arrow kernels, then gathered back by index.
* SAS ``.sas7bdat`` / ``.xpt`` and Stata ``.dta`` through pyreadstat: numerics arrive as float64,
  so ids and codes are cast to integers after checking that no value has a fractional part or
  exceeds 2**53 (DEFINITIONS.md 8.2).
* Dates given as ``YYYYMMDD`` text or integers are decomposed arithmetically into year, month and
  day -- never passed to ``pd.to_datetime`` as integers, which would read them as epoch nanoseconds
  (DEFINITIONS.md 8.3). Imprecise dates ending in ``00`` are counted and, by default, an error.

Examples
--------
>>> from naravard_analysis.data.readers import read_table
>>> adm = read_table("sv_2015_2023.csv", "admissions", source="patientregistret")  # doctest: +SKIP
>>> adm.attrs["read_report"].rows_read  # doctest: +SKIP
5000000
"""

from __future__ import annotations

import codecs
import csv
import functools
import mmap
import re
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from naravard_analysis.data.schema import STRING_DTYPE, TABLES
from naravard_analysis.errors import (
    DataWarning,
    IdentifierError,
    ParameterError,
    ReadError,
    SchemaError,
)

__all__ = [
    "read_table",
    "ReadReport",
    "SOURCES",
    "FORMATS",
    "PATIENTREGISTRET_CODES",
]

#: Supported ``source`` values.
SOURCES = ("canonical", "patientregistret")

#: File extension -> format name.
FORMATS: dict[str, str] = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".sas7bdat": "sas",
    ".xpt": "xport",
    ".dta": "stata",
    ".parquet": "parquet",
    ".pq": "parquet",
}

#: Code meanings of Patientregistret (Ludvigsson et al. 2011, Table 1; DEFINITIONS.md 2.2).
#: INSATT/UTSATT codes outside these map to ``"other"`` and are counted in the read report.
PATIENTREGISTRET_CODES: dict[str, dict[str, object]] = {
    "PVARD": {"1": True, "2": False},
    "INSATT": {"1": "hospital", "2": "special_housing", "3": "home"},
    "UTSATT": {"1": "hospital", "2": "special_housing", "3": "home", "4": "died"},
    "KON": {"1": "M", "2": "F"},
}

#: MVO codes of emergency outpatient visits when PVARD == 2 (DEFINITIONS.md 2.5, KIHeartFailure).
_EMERGENCY_MVO = ("046", "100")

_SNIFF_BYTES = 1 << 16
#: Largest plausible age in years (ALDER): above the oldest verified human age (122).
MAX_AGE = 125
#: Bytes per block of pyarrow's CSV parser and of the independent line count (read_table's
#: ``block_size`` option overrides it; the tests use a few hundred bytes to cross block boundaries).
CSV_BLOCK_SIZE = 1 << 24
_SEPARATORS = (";", "\t", ",")
_SEP_NAMES = {";": "';'", ",": "','", "\t": "tab"}
#: Thousands separators accepted inside numbers: space, NBSP, narrow NBSP (Swedish locale).
_THOUSANDS = (" ", "\u00a0", "\u202f")
#: "Ã" followed by the CP1252/Latin-1 rendering of a UTF-8 continuation byte, as UTF-8 bytes:
#: C3 83 then the lead byte of U+0080..U+00BF (C2), Š/Œ/Ž (C5), ƒ (C6), ˆ/˜ (CB) or €/…/„ (E2).
_MOJIBAKE_UTF8 = re.compile(rb"\xc3\x83[\xc2\xc5\xc6\xcb\xe2]")
#: The same text in a single-byte file: "Ã" (C3) followed by a byte 0x80..0xBF.
_MOJIBAKE_8BIT = re.compile(rb"\xc3[\x80-\xbf]")
_OPTION_NAMES = {
    "usecols", "imprecise_dates", "extra", "duplicates", "check_codes", "fill", "block_size",
}  # fmt: skip


@dataclass
class ReadReport:
    """What :func:`read_table` did, attached as ``df.attrs["read_report"]``.

    Counts only -- never values -- so the report is safe to print or log.
    """

    path: str
    table: str
    source: str
    file_format: str
    rows_read: int = 0
    encoding: str | None = None
    separator: str | None = None
    decimal: str | None = None
    columns_mapped: dict[str, str] = field(default_factory=dict)
    extra_columns: list[str] = field(default_factory=list)
    imprecise_dates: dict[str, int] = field(default_factory=dict)
    imprecise_dates_policy: str = "error"
    codes_mapped_to_other: dict[str, int] = field(default_factory=dict)
    thousands_removed: list[str] = field(default_factory=list)
    pseudonymised_columns: list[str] = field(default_factory=list)
    residents_abroad: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        """One human-readable paragraph."""
        parts = [
            f"{self.path}: {self.rows_read} rows read as {self.table} ({self.source}, "
            f"{self.file_format}"
            + (f", encoding {self.encoding}" if self.encoding else "")
            + (
                f", separator {_SEP_NAMES.get(self.separator, self.separator)}"
                if self.separator
                else ""
            )
            + f") in {self.seconds:.1f} s",
            f"{len(self.columns_mapped)} columns mapped",
        ]
        if self.extra_columns:
            parts.append(f"extra columns kept: {', '.join(self.extra_columns)}")
        for col, n in self.imprecise_dates.items():
            parts.append(f"{n} imprecise dates in {col}")
        for col, n in self.codes_mapped_to_other.items():
            parts.append(f"{n} {col} codes mapped to 'other'")
        if self.residents_abroad:
            parts.append(f"{self.residents_abroad} residents abroad (KOMMUN 99) -> missing")
        if self.pseudonymised_columns:
            parts.append(f"pseudonymised: {', '.join(self.pseudonymised_columns)}")
        return "; ".join(parts) + "."


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
        (Socialstyrelsen names, DEFINITIONS.md 2.2, matched case-insensitively):

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
        ``"emergency"`` where MVO is 046 or 100 and PVARD is 2 (DEFINITIONS.md 2.5), otherwise
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
    fmt = _format_of(path)
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
        raw = _read_csv(path, encoding, sep, usecols, report, plain, block_size)
    else:
        raw = _read_binary(path, fmt, encoding, usecols, report)
    _check_column_names(path, raw.column_names, table)
    report.rows_read = raw.num_rows
    if raw.num_rows == 0:
        raise ReadError(f"{path}: has column names but no data rows")

    raw = _check_identifiers(raw, pseudonymise_key, table, report)
    ctx = _Context(table=table, report=report, imprecise=imprecise, decimal=report.decimal or ".")
    if source == "patientregistret":
        columns = _map_patientregistret(raw, ctx)
    else:
        columns = _map_canonical(raw, ctx)
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
# formats
# ----------------------------------------------------------------------------------------------


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in FORMATS:
        return FORMATS[suffix]
    raise ReadError(
        f"{path}: unknown file extension {suffix or '(none)'!r}; supported: "
        f"{', '.join(sorted(FORMATS))}"
    )


def _read_binary(
    path: Path, fmt: str, encoding: str | None, usecols: Sequence[str] | None, report: ReadReport
) -> pa.Table:
    cols = list(usecols) if usecols is not None else None
    if path.stat().st_size == 0:
        raise ReadError(f"{path}: file is empty (0 bytes)")
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            schema = pq.read_schema(path)
            if cols is not None:
                cols = _resolve_usecols(path, list(schema.names), cols)
            table = pq.read_table(path, columns=cols)
        except (pa.ArrowInvalid, OSError) as exc:
            raise ReadError(
                f"{path}: not a readable Parquet file -- it looks truncated or corrupt "
                f"({type(exc).__name__}: footer or column chunks cannot be read)"
            ) from None
        _check_mojibake_columns(path, table)
        return table
    import pyreadstat

    reader: Callable[..., tuple[pd.DataFrame, object]] = {
        "sas": pyreadstat.read_sas7bdat,
        "xport": pyreadstat.read_xport,
        "stata": pyreadstat.read_dta,
    }[fmt]
    kind = {"sas": "SAS", "xport": "SAS transport", "stata": "Stata"}[fmt]
    try:
        _, meta = reader(str(path), metadataonly=True)
        names = list(meta.column_names)
        use = _resolve_usecols(path, names, cols) if cols is not None else None
        kwargs: dict[str, object] = {"usecols": use}
        if encoding is not None and fmt != "stata":
            kwargs["encoding"] = encoding
        try:
            frame, meta = reader(str(path), **kwargs)
        except pyreadstat.ReadstatError as exc:
            # SAS files without an encoding in their header: the Swedish agencies' default.
            if "encoding" in kwargs or "convert" not in str(exc).lower():
                raise
            kwargs["encoding"] = "WINDOWS-1252"
            frame, meta = reader(str(path), **kwargs)
    except ReadError:
        raise
    except Exception as exc:  # pyreadstat raises its own and OS errors for broken files
        raise ReadError(
            f"{path}: not a readable {kind} file -- it looks truncated or corrupt "
            f"({type(exc).__name__})"
        ) from None
    report.encoding = getattr(meta, "file_encoding", None) or encoding
    declared = getattr(meta, "number_rows", None)
    if isinstance(declared, int) and declared >= 0 and declared != len(frame):
        raise ReadError(
            f"{path}: the {kind} header declares {declared} rows but {len(frame)} were read -- "
            "the file looks truncated or corrupt"
        )
    for col in frame.columns:
        if frame[col].dtype == object:
            # SAS/Stata date-formatted columns arrive as datetime.date objects (DEFINITIONS 8.2).
            first = frame[col].dropna()
            if len(first) and not isinstance(first.iloc[0], str):
                frame[col] = pd.to_datetime(frame[col])
            else:
                frame[col] = frame[col].astype(STRING_DTYPE)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    _check_mojibake_columns(path, table)
    return table


#: Decoded mojibake: "Ã" followed by the CP1252/Latin-1 rendering of a UTF-8 continuation byte.
_MOJIBAKE_TEXT = "Ã[\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013-\u203a\u20ac\u2122]"


def _check_mojibake_columns(path: Path, table: pa.Table) -> None:
    """Text columns of a binary format (already decoded) must not hold 'Ã¤'-style sequences."""
    for name, col in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_dictionary(col.type):
            col = pa.chunked_array([c.dictionary for c in col.chunks], type=col.type.value_type)
        if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            continue
        if not pc.any(pc.match_substring(col, "Ã")).as_py():
            continue
        if pc.any(pc.match_substring_regex(col, _MOJIBAKE_TEXT)).as_py():
            raise ReadError(
                f"{path}: looks double-encoded (mojibake such as 'Ã¤' for 'ä', 'Ã¥' for 'å') "
                f"in column {name}; the text was decoded with the wrong encoding and saved again"
            )


def _resolve_usecols(path: Path, names: list[str], usecols: Sequence[str]) -> list[str]:
    by_upper = {n.upper(): n for n in names}
    out, missing = [], []
    for name in usecols:
        hit = name if name in names else by_upper.get(str(name).upper())
        (out if hit is not None else missing).append(hit if hit is not None else name)
    if missing:
        raise ReadError(f"{path}: usecols names not in the file: {', '.join(map(str, missing))}")
    return out


# ----------------------------------------------------------------------------------------------
# CSV
# ----------------------------------------------------------------------------------------------


def _read_csv(
    path: Path,
    encoding: str | None,
    sep: str | None,
    usecols: Sequence[str] | None,
    report: ReadReport,
    plain_text: frozenset[str] = frozenset(),
    block_size: int = CSV_BLOCK_SIZE,
) -> pa.Table:
    """Read every column as text: ``plain_text`` columns (upper-case names of id columns) as
    strings, all others dictionary-encoded -- codes and dates repeat, so they are normalised once
    per distinct value (see :func:`_per_distinct`).

    The number of rows parsed is checked against an independent count of the file's non-empty
    lines (:func:`_count_lines`): pyarrow's block parser, given an unterminated quote in a middle
    line of a multi-block file, swallows lines up to the end of the block and silently returns
    fewer rows. A file is one record per line, so any difference is an error naming the line."""
    size = path.stat().st_size
    if size == 0:
        raise ReadError(f"{path}: file is empty (0 bytes)")
    with open(path, "rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    at_eof = size <= _SNIFF_BYTES
    if not head.lstrip(codecs.BOM_UTF8).strip():
        raise ReadError(f"{path}: file is empty (no header line, only blanks)")

    enc = encoding or _guess_encoding(head, at_eof)
    text = head.decode(_py_codec(enc), errors="replace").lstrip("\ufeff")
    lines = text.splitlines()
    if not at_eof and lines:
        lines = lines[:-1]  # the last line of the sample may be cut
    lines = [ln for ln in lines if ln.strip()]
    if sep is None:
        sep = _sniff_separator(path, lines)
    header = next(csv.reader([lines[0]], delimiter=sep))
    _check_sample_lines(path, lines, sep, len(header))
    report.separator = sep
    report.decimal = "," if sep in (";", "\t") else "."

    include = None
    if usecols is not None:
        stripped = _resolve_usecols(path, [h.strip() for h in header], usecols)
        include = [h for h in header if h.strip() in stripped]
    types = {h: pa.string() if h.strip().upper() in plain_text else _DICT for h in header}
    table, used = _parse_csv(path, enc, encoding is None, sep, types, include, block_size)
    report.encoding = used
    _check_mojibake(path, used)
    _check_tail(path, sep)
    expected = _count_lines(path, used, block_size) - 1  # minus the header line
    if table.num_rows != expected:
        raise _diagnose_lost_rows(path, used, sep, len(header), table.num_rows, expected)
    return table.rename_columns([n.strip() for n in table.column_names])


def _guess_encoding(head: bytes, at_eof: bool) -> str:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(head, final=at_eof)
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8-sig"


def _py_codec(enc: str) -> str:
    return "utf-8-sig" if enc.lower().replace("_", "-") in ("utf-8", "utf8") else enc


def _sniff_separator(path: Path, lines: list[str]) -> str:
    counts = {s: [_count_outside_quotes(ln, s) for ln in lines[:50]] for s in _SEPARATORS}
    in_header = [s for s in _SEPARATORS if counts[s][0] > 0]
    if len(in_header) == 1:
        return in_header[0]
    consistent = [s for s in in_header if all(c == counts[s][0] for c in counts[s])]
    if consistent:
        return consistent[0]  # preference order ; tab ,
    if in_header:
        return in_header[0]
    if len(lines) > 1 and any(counts[s][1] for s in _SEPARATORS):
        raise ReadError(
            f"{path}: the header line has no separator but data lines do -- the file mixes "
            "separators or its header is broken"
        )
    return ";"


def _count_outside_quotes(line: str, sep: str) -> int:
    if '"' in line:
        line = re.sub(r'"[^"]*"', "", line)
    return line.count(sep)


def _check_sample_lines(path: Path, lines: list[str], sep: str, n_fields: int) -> None:
    """Mixed separators seen in the first lines: a row with the wrong number of ``sep`` that
    has exactly the header's count of another separator."""
    for i, ln in enumerate(lines[1:200], start=2):
        got = _count_outside_quotes(ln, sep)
        if got == n_fields - 1:
            continue
        for other in _SEPARATORS:
            if other != sep and _count_outside_quotes(ln, other) == n_fields - 1:
                raise ReadError(
                    f"{path}: the file mixes separators -- the header uses "
                    f"{_SEP_NAMES[sep]} but line {i} uses {_SEP_NAMES[other]}"
                )


def _parse_csv(
    path: Path,
    enc: str,
    may_fall_back: bool,
    sep: str,
    types: dict[str, pa.DataType],
    include: list[str] | None,
    block_size: int = CSV_BLOCK_SIZE,
) -> tuple[pa.Table, str]:
    n_fields = len(types)
    convert = pacsv.ConvertOptions(
        column_types=types,
        include_columns=include,
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
    )
    parse = pacsv.ParseOptions(delimiter=sep, quote_char='"')
    attempts = [enc] if not may_fall_back or enc != "utf-8-sig" else ["utf-8-sig", "cp1252"]
    for i, attempt in enumerate(attempts, start=1):
        read = pacsv.ReadOptions(
            encoding="utf8" if attempt == "utf-8-sig" else attempt,
            block_size=block_size,
        )
        try:
            return pacsv.read_csv(
                path, read_options=read, parse_options=parse, convert_options=convert
            ), attempt
        except pa.ArrowInvalid as exc:
            msg = str(exc)
            if "invalid UTF8" in msg and i < len(attempts):
                continue
            if "invalid UTF8" in msg:
                raise ReadError(
                    f"{path}: not valid {attempt} text -- pass encoding= (e.g. 'cp1252' or "
                    "'latin-1') if the file is not UTF-8"
                ) from None
            if "Expected" in msg and "columns" in msg:
                raise _diagnose_field_count(path, attempt, sep, n_fields) from None
            if "straddl" in msg or "Empty CSV file or block" in msg:
                # (the file is not empty, checked above: its first line does not fit in a block)
                raise ReadError(
                    f"{path}: a line is longer than the parse block ({block_size} bytes) -- "
                    "pass a larger block_size="
                ) from None
            raise ReadError(
                f"{path}: cannot be parsed as CSV (pyarrow: {_strip_values(msg)})"
            ) from None
        except UnicodeDecodeError:
            if i < len(attempts):
                continue
            raise ReadError(
                f"{path}: cannot be decoded as UTF-8 or CP1252 -- pass encoding= explicitly"
            ) from None
    raise AssertionError("unreachable")  # pragma: no cover


def _strip_values(msg: str) -> str:
    # pyarrow appends the offending row text after a colon; it may hold identifiers.
    return msg.split(":", 2)[1].strip() if msg.count(":") >= 2 else msg


def _diagnose_field_count(path: Path, enc: str, sep: str, n_fields: int) -> ReadError:
    """Find the first row with the wrong number of fields and say why (error path only).

    Streams the file line by line (one line of look-ahead tells whether a line is the last),
    so a bad row near the end of a large file does not load the file into memory.
    """
    with open(path, encoding=_py_codec(enc), errors="replace", newline="") as fh:
        lines = iter(fh)
        current = next(lines, None)
        lineno = 1
        while current is not None:
            following = next(lines, None)
            is_last = following is None
            line = current.rstrip("\r\n")
            if lineno > 1 and line.strip():
                problem = _line_problem(line, lineno, is_last, current, sep, n_fields)
                if problem:
                    return ReadError(f"{path}: {problem}")
            current, lineno = following, lineno + 1
    return ReadError(f"{path}: rows have a different number of fields than the header ({n_fields})")


def _diagnose_lost_rows(
    path: Path, enc: str, sep: str, n_fields: int, parsed: int, expected: int
) -> ReadError:
    """The parser returned a different number of rows than the file has lines: name the line."""
    found = _diagnose_field_count(path, enc, sep, n_fields)
    if not str(found).endswith(f"than the header ({n_fields})"):
        return found
    return ReadError(
        f"{path}: the CSV parser returned {parsed} rows but the file has {expected} non-empty "
        "data lines -- lines were merged or dropped (a quoted value with a line break?); "
        "refusing to continue with missing rows"
    )


def _count_lines(path: Path, enc: str, block_size: int) -> int:
    """Non-empty lines of a text file, counted from its bytes, independently of any CSV parser.

    Line ends are ``\n``, ``\r\n`` and a lone ``\r`` (as in pyarrow); an empty line (two line
    ends in a row) is not counted, as pyarrow skips it. Vectorised over blocks of ``block_size``
    bytes; a ``\r`` at the end of a block is carried into the next one so that ``\r\n`` is never
    split. Encodings in which a line end is not the single byte 0x0A (UTF-16/32) are counted on
    the decoded text.
    """
    codec = _py_codec(enc)
    if "\n".encode(codec) != b"\n" or "\r".encode(codec) != b"\r":
        with open(path, encoding=codec, errors="replace", newline="") as fh:
            return sum(1 for line in fh if line.strip("\r\n"))
    terminators = empty = 0
    last_end = -1  # file position of the last byte of the previous line end
    base = 0  # file position of buf[0]
    carry = b""
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(block_size)
            buf = carry + chunk
            if not buf:
                break
            carry = b""
            if chunk and buf.endswith(b"\r"):
                carry, buf = b"\r", buf[:-1]  # may be the first half of \r\n
            a = np.frombuffer(buf, dtype=np.uint8)
            nl = np.flatnonzero(a == 10)
            cr = np.flatnonzero(a == 13)
            lone_cr = cr[(cr + 1 >= len(a)) | (a[np.minimum(cr + 1, len(a) - 1)] != 10)]
            crlf = np.zeros(len(nl), dtype=bool)
            crlf[nl > 0] = a[nl[nl > 0] - 1] == 13
            ends = np.concatenate([nl, lone_cr])
            starts = np.concatenate([nl - crlf, lone_cr])
            order = np.argsort(ends, kind="stable")
            ends, starts = ends[order] + base, starts[order] + base
            previous = np.concatenate([[last_end], ends[:-1]])
            empty += int(np.count_nonzero(starts == previous + 1))
            terminators += len(ends)
            if len(ends):
                last_end = int(ends[-1])
            base += len(buf)
            if not chunk:
                break
    trailing = 1 if base - 1 > last_end else 0  # a last line without a line end
    return terminators - empty + trailing


def _line_problem(
    line: str, lineno: int, is_last: bool, raw: str, sep: str, n_fields: int
) -> str | None:
    if line.count('"') % 2:
        return f"{'truncated: ' if is_last else ''}unterminated quote on line {lineno}"
    got = _count_outside_quotes(line, sep) + 1
    if got == n_fields:
        return None
    for other in _SEPARATORS:
        if other != sep and _count_outside_quotes(line, other) + 1 == n_fields:
            return (
                f"the file mixes separators -- the header uses {_SEP_NAMES[sep]} but line "
                f"{lineno} uses {_SEP_NAMES[other]}"
            )
    if is_last and got < n_fields:
        why = "" if raw.endswith(("\n", "\r")) else ", and the file does not end with a newline"
        return f"looks truncated -- the last line ({lineno}) has {got} of {n_fields} fields{why}"
    return f"line {lineno} has {got} fields, the header has {n_fields}"


def _check_mojibake(path: Path, enc: str) -> None:
    """Raise when the decoded text holds 'Ã¤'-style sequences (UTF-8 read as CP1252, saved
    again). Scans the raw bytes with a memory map: no second decode of a large file."""
    pattern = _MOJIBAKE_UTF8 if enc in ("utf-8-sig", "utf-8", "utf8") else _MOJIBAKE_8BIT
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        if enc in ("utf-8-sig", "utf-8", "utf8") and mm.find(b"\xc3\x83") < 0:
            return  # fast path: no "Ã" at all
        hit = pattern.search(mm)
        if hit is None:
            return
        line = mm[: hit.start()].count(b"\n") + 1
        n = sum(1 for _ in pattern.finditer(mm))
    raise ReadError(
        f"{path}: looks double-encoded (mojibake such as 'Ã¤' for 'ä', 'Ã¥' for 'å') -- "
        f"{n} such sequence{'s' if n != 1 else ''}, first on line {line}; the text was decoded "
        f"with the wrong encoding and saved again; fix the export (read as {enc})"
    )


def _check_tail(path: Path, sep: str) -> None:
    """An unterminated quote in the last line means the file was cut (pyarrow accepts it)."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        fh.seek(max(0, size - _SNIFF_BYTES))
        tail = fh.read()
    last = tail.rstrip(b"\r\n").rsplit(b"\n", 1)[-1]
    if last.count(b'"') % 2:
        raise ReadError(f"{path}: truncated: unterminated quote in the last line")


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
        rows = _decode(raw.column(name)).to_pandas(types_mapper={pa.string(): STRING_DTYPE}.get)
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


# ----------------------------------------------------------------------------------------------
# column conversion (vectorised arrow kernels)
# ----------------------------------------------------------------------------------------------


@dataclass
class _Context:
    table: str
    report: ReadReport
    imprecise: str
    decimal: str
    #: rows per distinct value while a normaliser runs on a dictionary (see _per_distinct)
    weights: np.ndarray | None = None


_NULL_STR = pa.scalar(None, pa.string())
_DICT = pa.dictionary(pa.int32(), pa.string())


def _decode(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """Dictionary-encoded -> plain values (other arrays unchanged)."""
    if pa.types.is_dictionary(col.type):
        return col.cast(col.type.value_type)
    return col


def _per_distinct(fn: Callable[..., pa.ChunkedArray]) -> Callable[..., pa.ChunkedArray]:
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
        ctx = next((a for a in args if isinstance(a, _Context)), None)
        col = col.unify_dictionaries()
        if col.num_chunks == 0:
            return fn(_decode(col), *args, **kwargs)
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
            fn(_decode(col), *args, **kwargs)  # raises again, now with row positions
            raise
        finally:
            if ctx is not None:
                ctx.weights = None
        return pc.take(mapped, indices)

    return wrapper


def _count(ctx: _Context, mask: pa.ChunkedArray) -> int:
    """Rows where ``mask`` holds (weighted by rows per distinct value in dictionary mode)."""
    if ctx.weights is None:
        return int(pc.sum(mask).as_py() or 0)
    return int(ctx.weights[_mask(mask)].sum())


def _is_text(col: pa.ChunkedArray) -> bool:
    """String, large string, or dictionary-encoded strings."""
    t = col.type.value_type if pa.types.is_dictionary(col.type) else col.type
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _as_string(col: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_large_string(col.type):
        return col.cast(pa.string())
    return col


@_per_distinct
def _clean_text(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """Trim, and make blank strings missing."""
    col = pc.utf8_trim_whitespace(_as_string(col))
    return pc.if_else(pc.equal(col, ""), _NULL_STR, col)


def _fail(ctx: _Context, column: str, rule: str, mask: np.ndarray, hint: str = "") -> None:
    pos = np.flatnonzero(mask)
    raise SchemaError(ctx.table, column, rule, len(pos), pos[:5], hint=hint)


def _mask(arr: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Arrow boolean -> numpy bool with missing as False."""
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=bool)


def _integral(col: pa.ChunkedArray, ctx: _Context, column: str, what: str) -> pa.ChunkedArray:
    """Float -> int64 after checking for fractions and values beyond 2**53 (DEFINITIONS 8.2)."""
    bad = pc.or_(pc.not_equal(pc.floor(col), col), pc.greater(pc.abs(col), 2.0**53))
    if pc.any(bad).as_py():
        _fail(
            ctx,
            column,
            f"{what} must be whole numbers below 2**53 (SAS numerics arrive as floats)",
            _mask(bad),
        )
    return col.cast(pa.int64())


@_per_distinct
def _code_text(col: pa.ChunkedArray, ctx: _Context, column: str) -> pa.ChunkedArray:
    """Codes as text whatever the delivery: 1, 1.0 and ' 1 ' all become '1'."""
    t = col.type
    if pa.types.is_floating(t):
        col = _integral(col, ctx, column, "codes")
    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
        return col.cast(pa.string())
    if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
        return col.cast(pa.string())
    col = _clean_text(col)
    if pc.any(pc.match_substring(col, ".")).as_py():
        col = pc.replace_substring_regex(col, r"^([0-9]+)\.0*$", r"\1")
    return col


@_per_distinct
def _padded_code(col: pa.ChunkedArray, ctx: _Context, column: str, width: int) -> pa.ChunkedArray:
    """Code text zero-padded to ``width`` digits (MVO '46' -> '046', LAN 1 -> '01')."""
    return _pad(_code_text(col, ctx, column), width)


@_per_distinct
def _acute(col: pa.ChunkedArray, ctx: _Context) -> pa.ChunkedArray:
    """PVARD == 2 (unplanned), as a boolean column."""
    return pc.equal(_canonical_number_text(_code_text(col, ctx, "planned")), "2")


def _pad(col: pa.ChunkedArray, width: int) -> pa.ChunkedArray:
    """Zero-pad all-digit codes to ``width`` ('1' -> '01'); other text is left alone."""
    return pc.if_else(pc.utf8_is_digit(col), pc.utf8_lpad(col, width, "0"), col)


def _canonical_number_text(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """'01' -> '1' for small integer codes compared against a dictionary."""
    digits = pc.utf8_is_digit(col)
    if pc.all(pc.fill_null(digits, True)).as_py():
        return col.cast(pa.int64()).cast(pa.string())
    return col


@_per_distinct
def _map_codes(
    col: pa.ChunkedArray,
    mapping: dict[str, object],
    ctx: _Context,
    source: str,
    column: str,
    other: str | None,
) -> pa.ChunkedArray:
    """Map register codes through ``mapping``; unknown codes become ``other`` (counted) or,
    when ``other`` is None, an error."""
    text = _canonical_number_text(_code_text(col, ctx, column))
    keys = list(mapping)
    values = list(mapping.values())
    idx = pc.index_in(text, value_set=pa.array(keys, pa.string()))
    unknown = pc.and_(pc.is_valid(text), pc.is_null(idx))
    n_unknown = _count(ctx, unknown)
    target_type = pa.bool_() if isinstance(values[0], bool) else pa.string()
    out = pc.take(pa.array(values, target_type), idx)
    if n_unknown:
        if other is None:
            _fail(
                ctx,
                column,
                f"{source} must be one of {', '.join(keys)} (Patientregistret codes)",
                _mask(unknown),
            )
        out = pc.if_else(unknown, pa.scalar(other, target_type), out)
        ctx.report.codes_mapped_to_other[source] = int(n_unknown)
    return out


@_per_distinct
def _icd(col: pa.ChunkedArray, ctx: _Context, column: str) -> pa.ChunkedArray:
    """ICD-10 codes upper case, without dots or blanks (DEFINITIONS.md 2.3)."""
    col = _code_text(col, ctx, column)
    col = pc.utf8_upper(col)
    if pc.any(pc.match_substring(col, ".")).as_py():
        col = pc.replace_substring(col, ".", "")
    for blank in (" ", "\t", "\u00a0"):  # literal searches: a regex costs 5x more per column
        if pc.any(pc.match_substring(col, blank)).as_py():
            col = pc.replace_substring(col, blank, "")
    return pc.if_else(pc.equal(col, ""), _NULL_STR, col)


def _join_codes(cols: list[pa.ChunkedArray], ctx: _Context, column: str) -> pa.ChunkedArray:
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
        values = _icd(pa.chunked_array([chunks[0].dictionary]), ctx, column).combine_chunks()
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


@_per_distinct
def _code_list(col: pa.ChunkedArray, ctx: _Context, column: str) -> pa.ChunkedArray:
    """Space-separated code list (OP): upper case, single spaces, '' when none."""
    col = pc.utf8_upper(_code_text(col, ctx, column))
    if any(pc.any(pc.match_substring(col, m)).as_py() for m in ("  ", "\t", ",", ";", "\u00a0")):
        col = pc.utf8_trim_whitespace(pc.replace_substring_regex(col, r"[\s,;]+", " "))
    return pc.fill_null(col, "")


def _dates(col: pa.ChunkedArray, ctx: _Context, column: str) -> np.ndarray:
    """``datetime64[ns]`` values of a date column (see :func:`_date_array`)."""
    out = _date_array(col, ctx, column)
    return np.asarray(out.to_numpy(), dtype="datetime64[ns]")


@_per_distinct
def _date_array(col: pa.ChunkedArray, ctx: _Context, column: str) -> pa.ChunkedArray:
    """Dates from YYYYMMDD integers/text, ISO text or date types -> ``datetime64[ns]``.

    YYYYMMDD values are split arithmetically (year = v // 10000, month = v // 100 % 100,
    day = v % 100) and rebuilt from month offsets, so an integer is never read as epoch
    nanoseconds (DEFINITIONS.md 8.3). Day or month ``00`` marks an imprecise date: counted, then
    an error (``imprecise_dates="error"``), missing (``"null"``) or the first day (``"first"``).
    """
    t = col.type
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        if pa.types.is_timestamp(t) and t.tz is not None:
            col = col.cast(pa.timestamp(t.unit))
        return col.cast(pa.timestamp("ns"))
    if pa.types.is_floating(t):
        col = _integral(col, ctx, column, "dates given as numbers")
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        col = _clean_text(col)
        try:
            ints = col.cast(pa.int64())
        except pa.ArrowInvalid:
            return _as_timestamps(_dates_text(col, ctx, column))
    elif pa.types.is_integer(col.type):
        ints = col.cast(pa.int64())
    else:
        _fail(ctx, column, f"cannot be read as dates (arrow type {t})", np.ones(len(col), bool))
    present = np.asarray(pc.is_valid(ints).to_numpy(zero_copy_only=False), dtype=bool)
    v = np.asarray(pc.fill_null(ints, 0).to_numpy(), dtype=np.int64)
    return _as_timestamps(_dates_from_ints(v, present, ctx, column))


def _as_timestamps(values: np.ndarray) -> pa.ChunkedArray:
    return pa.chunked_array([pa.array(values, type=pa.timestamp("ns"), from_pandas=True)])


def _count_np(ctx: _Context, mask: np.ndarray) -> int:
    """Rows where ``mask`` holds; weighted by rows per distinct value in dictionary mode."""
    return int(mask.sum() if ctx.weights is None else ctx.weights[mask].sum())


def _dates_from_ints(v: np.ndarray, present: np.ndarray, ctx: _Context, column: str) -> np.ndarray:
    year, month, day = v // 10000, (v // 100) % 100, v % 100
    plausible = present & (year >= 1000) & (year <= 9999) & (month <= 12) & (v >= 0)
    imprecise = plausible & ((month == 0) | (day == 0))
    n_imprecise = _count_np(ctx, imprecise)
    if n_imprecise:
        ctx.report.imprecise_dates[column] = n_imprecise
        if ctx.imprecise == "error":
            _fail(
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
        _fail(ctx, column, "is not a valid YYYYMMDD date", bad)
    out = (start + np.where(valid, day - 1, 0).astype("timedelta64[D]")).astype("datetime64[ns]")
    out[~valid] = np.datetime64("NaT")
    return out


def _dates_text(col: pa.ChunkedArray, ctx: _Context, column: str) -> np.ndarray:
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
            _fail(ctx, column, "cannot be read as a date (expected YYYYMMDD or ISO 8601)", bad)
        out[rest] = parsed.to_numpy(dtype="datetime64[ns]")
    return out


def _person_id(col: pa.ChunkedArray, ctx: _Context) -> pd.Series:
    """LopNr -> int64 when every value is a whole number, else text (leading zeros kept)."""
    col = _decode(col)
    t = col.type
    if pa.types.is_floating(t):
        if pc.any(pc.is_null(col)).as_py() or pc.any(pc.is_nan(col)).as_py():
            _fail(
                ctx,
                "person_id",
                "must not be missing",
                ~_mask(pc.is_valid(pc.if_else(pc.is_nan(col), None, col))),
            )
        col = _integral(col, ctx, "person_id", "ids")
    if pa.types.is_integer(col.type):
        if col.null_count:
            _fail(ctx, "person_id", "must not be missing", ~_mask(pc.is_valid(col)))
        return pd.Series(col.cast(pa.int64()).to_numpy())
    col = _clean_text(col)
    if col.null_count:
        _fail(ctx, "person_id", "must not be missing", ~_mask(pc.is_valid(col)))
    col = _id_text(col, ctx)
    digits = pc.all(pc.utf8_is_digit(col)).as_py()
    if digits and pc.max(pc.utf8_length(col)).as_py() <= 18:
        leading_zero = pc.any(pc.and_(pc.starts_with(col, "0"), pc.greater(pc.utf8_length(col), 1)))
        if not leading_zero.as_py():
            return pd.Series(col.cast(pa.int64()).to_numpy())
    return _to_str(col)


#: A number in scientific notation, as Excel writes long numbers ("1,23457E+11").
_SCIENTIFIC = r"^[+-]?[0-9]+([.,][0-9]*)?[eE][+-]?[0-9]+$"


def _id_text(col: pa.ChunkedArray, ctx: _Context) -> pa.ChunkedArray:
    """Ids given as text: a number written with a zero fraction (``"123.0"``, ``"123,00"``, as a
    float id saved as text) becomes its integer digits, so that it matches the same id read as a
    float; scientific notation is refused -- Excel rounds long numbers to six significant digits
    when it writes ``1,23457E+11``, which merges distinct persons into one id."""
    sci = pc.match_substring_regex(col, _SCIENTIFIC)
    if pc.any(sci).as_py():
        _fail(
            ctx,
            "person_id",
            "is written in scientific notation (e.g. 1,23457E+11): digits were lost and distinct "
            "persons would merge",
            _mask(sci),
            hint="Export the id column as text or as whole numbers, not from Excel's General format",
        )
    fraction = pc.match_substring_regex(col, r"^[0-9]+[.,][0-9]+$")
    if not pc.any(fraction).as_py():
        return col
    whole_zero = pc.match_substring_regex(col, r"^[0-9]+[.,]0+$")
    bad = pc.and_(fraction, pc.invert(whole_zero))
    if pc.any(bad).as_py():
        _fail(ctx, "person_id", "must be a whole number (ids have no fractional part)", _mask(bad))
    return pc.replace_substring_regex(col, r"[.,]0+$", "")


def _to_str(col: pa.ChunkedArray) -> pd.Series:
    return pd.Series(
        _as_string(_decode(col)).to_pandas(types_mapper={pa.string(): STRING_DTYPE}.get),
        dtype=STRING_DTYPE,
    )


def _number(col: pa.ChunkedArray, ctx: _Context, column: str, integer: bool) -> pd.Series:
    """Numbers written the Swedish way: '1 234,5' (space/NBSP thousands, decimal comma)."""
    out = _number_array(col, ctx, column, integer)
    if integer:
        return pd.Series(out.to_pandas()).astype("Int64" if out.null_count else "int64")
    return pd.Series(out.to_numpy(), dtype="float64")


@_per_distinct
def _number_array(
    col: pa.ChunkedArray, ctx: _Context, column: str, integer: bool
) -> pa.ChunkedArray:
    t = col.type
    if pa.types.is_integer(t):
        return col.cast(pa.int64()) if integer else col.cast(pa.float64())
    if pa.types.is_floating(t):
        return _integral(col, ctx, column, "values") if integer else col
    col = _clean_text(col)
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
        bad = s.isna().to_numpy() & _mask(pc.is_valid(col))
        _fail(ctx, column, "must be a number", bad)
    return _integral(num, ctx, column, "values") if integer else num


# ----------------------------------------------------------------------------------------------
# source mappings
# ----------------------------------------------------------------------------------------------


def _map_canonical(raw: pa.Table, ctx: _Context) -> dict[str, pd.Series]:
    """Canonical names: convert by the column kinds of the schema (dates and numbers here; the
    rest is left to validate_table)."""
    spec = TABLES[ctx.table]
    out: dict[str, pd.Series] = {}
    for name, col in zip(raw.column_names, raw.columns, strict=True):
        kind = spec.column(name).kind if name in spec.column_names else None
        if kind == "date":
            out[name] = pd.Series(_dates(col, ctx, name))
        elif kind == "int":
            out[name] = _number(col, ctx, name, integer=True)
        elif kind == "id":
            out[name] = _person_id(col, ctx)
        elif _is_text(col):
            text = _clean_text(col)
            if kind is None:
                ctx.report.extra_columns.append(name)
            out[name] = _to_str(text)
        else:
            if kind is None:
                ctx.report.extra_columns.append(name)
            out[name] = col.to_pandas()
        if kind is not None:
            ctx.report.columns_mapped[name] = name
    return out


def _map_patientregistret(raw: pa.Table, ctx: _Context) -> dict[str, pd.Series]:
    """Socialstyrelsen names -> canonical columns (DEFINITIONS.md 2.2, 2.6)."""
    admissions = ctx.table == "admissions"
    by_upper: dict[str, str] = {}
    for name in raw.column_names:
        key = name.strip().upper()
        if key in by_upper:
            raise ReadError(
                f"{ctx.report.path}: column {key} appears twice (names compared case-insensitively)"
            )
        by_upper[key] = name

    def col(key: str) -> pa.ChunkedArray | None:
        return raw.column(by_upper[key]) if key in by_upper else None

    used: set[str] = set()
    out: dict[str, pd.Series] = {}
    mapped = ctx.report.columns_mapped

    def take(key: str, target: str) -> pa.ChunkedArray | None:
        c = col(key)
        if c is not None:
            used.add(key)
            mapped[by_upper[key]] = target
        return c

    if (c := take("LOPNR", "person_id")) is not None:
        out["person_id"] = _person_id(c, ctx)
    date_target = "admission_date" if admissions else "contact_date"
    if (c := take("INDATUM", date_target)) is not None:
        out[date_target] = pd.Series(_dates(c, ctx, date_target))
    if admissions and (c := take("UTDATUM", "discharge_date")) is not None:
        out["discharge_date"] = pd.Series(_dates(c, ctx, "discharge_date"))
    if (c := take("HDIA", "main_diagnosis")) is not None:
        out["main_diagnosis"] = _to_str(_icd(c, ctx, "main_diagnosis"))
    dia_keys = sorted(
        (k for k in by_upper if re.fullmatch(r"DIA[0-9]+", k)), key=lambda k: int(k[3:])
    )
    if dia_keys:
        dia = [take(k, "other_diagnoses") for k in dia_keys]
        out["other_diagnoses"] = _to_str(_join_codes(dia, ctx, "other_diagnoses"))
    if (c := take("OP", "procedures")) is not None:
        out["procedures"] = _to_str(_code_list(c, ctx, "procedures"))
    pvard = take("PVARD", "planned")
    if pvard is not None:
        planned = _map_codes(pvard, PATIENTREGISTRET_CODES["PVARD"], ctx, "PVARD", "planned", None)
        out["planned"] = pd.Series(
            planned.to_pandas(types_mapper={pa.bool_(): pd.BooleanDtype()}.get), dtype="boolean"
        )
        if admissions and not planned.null_count:
            out["planned"] = out["planned"].astype(bool)
    if admissions:
        if (c := take("SJUKHUS", "hospital_id")) is not None:
            out["hospital_id"] = _to_str(_code_text(c, ctx, "hospital_id"))
    elif (c := take("SJUKHUS", "unit_id")) is not None:
        out["unit_id"] = _to_str(_code_text(c, ctx, "unit_id"))
    mvo = take("MVO", "department")
    mvo_text = None
    if mvo is not None:
        mvo_text = _padded_code(mvo, ctx, "department", 3)
        out["department"] = _to_str(mvo_text)
    if admissions:
        if (c := take("INSATT", "admitted_from")) is not None:
            out["admitted_from"] = _to_str(
                _map_codes(
                    c, PATIENTREGISTRET_CODES["INSATT"], ctx, "INSATT", "admitted_from", "other"
                )
            )
        if (c := take("UTSATT", "discharge_to")) is not None:
            out["discharge_to"] = _to_str(
                _map_codes(
                    c, PATIENTREGISTRET_CODES["UTSATT"], ctx, "UTSATT", "discharge_to", "other"
                )
            )
    else:
        out["provider_id"] = pd.Series([None] * raw.num_rows, dtype=STRING_DTYPE)
        if mvo_text is not None and pvard is not None:
            # DEFINITIONS.md 2.5: emergency outpatient visits are MVO 046/100 with PVARD == 2.
            acute = _acute(pvard, ctx)
            emergency = pc.and_(pc.is_in(mvo_text, value_set=pa.array(_EMERGENCY_MVO)), acute)
            care = pc.if_else(pc.fill_null(emergency, False), "emergency", "specialist")
            out["care_level"] = _to_str(care)
        else:
            out["care_level"] = pd.Series(["specialist"] * raw.num_rows, dtype=STRING_DTYPE)
    if (c := take("KON", "sex")) is not None:
        out["sex"] = _to_str(_map_codes(c, PATIENTREGISTRET_CODES["KON"], ctx, "KON", "sex", None))
    lan = take("LAN", "region_code")
    lan_text = None
    if lan is not None:
        lan_text = _padded_code(lan, ctx, "region_code", 2)
        out["region_code"] = _to_str(lan_text)
    if (c := take("KOMMUN", "municipality_code")) is not None:
        out["municipality_code"] = _to_str(_municipality(c, lan_text, ctx))
    if (c := take("ALDER", "age")) is not None:
        out["age"] = _number(c, ctx, "age", integer=True)
        age = out["age"].to_numpy(dtype="float64", na_value=np.nan)
        bad = (age < 0) | (age > MAX_AGE)
        if bad.any():
            _fail(ctx, "age", f"must be between 0 and {MAX_AGE} years (ALDER)", bad)
    for key, name in by_upper.items():
        if key not in used:
            c = raw.column(name)
            ctx.report.extra_columns.append(name)
            if _is_text(c):
                out[name] = _to_str(_clean_text(c))
            else:
                out[name] = c.to_pandas()
    return out


def _municipality(
    col: pa.ChunkedArray, lan_text: pa.ChunkedArray | None, ctx: _Context
) -> pa.ChunkedArray:
    """KOMMUN as a 4-digit code: positions 1-2 county, 3-4 municipality (Ludvigsson 2011 Tab 1).

    Deliveries with only the last two digits get LAN prefixed (DEFINITIONS.md 2.6); a 3-digit
    number is a 4-digit code that lost its leading zero. 99 (residents abroad) becomes missing,
    unless LAN + 99 is a real municipality code (:func:`naravard_analysis.data.official.municipalities`).
    """
    if pa.types.is_dictionary(col.type):
        dictionary = _code_text(pa.chunked_array([c.dictionary for c in col.chunks]), ctx, "x")
        if not pc.any(pc.less_equal(pc.utf8_length(dictionary), 2)).as_py():
            # Every code has 3-4 digits: normalise per distinct value, no LAN needed.
            return _padded_code(col, ctx, "municipality_code", 4)
    text = _code_text(col, ctx, "municipality_code")
    length = pc.utf8_length(text)
    short = pc.fill_null(pc.less_equal(length, 2), False)
    # Only the bare two-digit 99 can mean abroad, and only when LAN + 99 is not a municipality:
    # real codes win over the convention (LAN 14 + KOMMUN 99 is Falköping, 1499).
    abroad = pc.fill_null(pc.equal(text, "99"), False)
    if lan_text is not None and pc.any(abroad).as_py():
        from naravard_analysis.data import official

        real = pa.array(official.municipalities()["municipality_code"].astype(str).tolist())
        built99 = pc.binary_join_element_wise(lan_text, pa.scalar("99"), "")
        abroad = pc.and_(abroad, pc.invert(pc.fill_null(pc.is_in(built99, value_set=real), False)))
    n_abroad = pc.sum(abroad).as_py() or 0
    if pc.any(short).as_py():
        if lan_text is None:
            _fail(
                ctx,
                "municipality_code",
                "KOMMUN has two digits but the file has no LAN column to build the 4-digit code",
                _mask(short),
            )
        built = pc.binary_join_element_wise(lan_text, _pad(text, 2), "")
        text = pc.if_else(short, built, text)
    text = _pad(text, 4)
    if n_abroad:
        ctx.report.residents_abroad = int(n_abroad)
        text = pc.if_else(abroad, _NULL_STR, text)
    return text
