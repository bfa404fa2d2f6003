"""Binary formats: SAS (``.sas7bdat``, ``.xpt``), Stata (``.dta``) and Parquet."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from naravard_analysis.data.readers.base import FORMATS, ReadReport, resolve_usecols
from naravard_analysis.data.schema import STRING_DTYPE
from naravard_analysis.errors import (
    ReadError,
)


def format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in FORMATS:
        return FORMATS[suffix]
    raise ReadError(
        f"{path}: unknown file extension {suffix or '(none)'!r}; supported: "
        f"{', '.join(sorted(FORMATS))}"
    )


def read_binary(
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
                cols = resolve_usecols(path, list(schema.names), cols)
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
        use = resolve_usecols(path, names, cols) if cols is not None else None
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
            # SAS/Stata date-formatted columns arrive as datetime.date objects (methods reference §8.2).
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

