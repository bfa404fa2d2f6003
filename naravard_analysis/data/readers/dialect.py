"""CSV dialect: encoding, separator, quoting, and the check that every line became a row.

Every column is read as text by pyarrow's multi-threaded parser: ``plain_text`` columns (ids) as
strings, all others dictionary-encoded. The file's non-empty lines are counted independently of
the parser (:func:`count_lines`) and any difference is an error naming the line.
"""

from __future__ import annotations

import codecs
import csv
import mmap
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from naravard_analysis.data.readers.base import SEP_NAMES, ReadReport, resolve_usecols
from naravard_analysis.errors import (
    ReadError,
)

_SNIFF_BYTES = 1 << 16
#: Bytes per block of pyarrow's CSV parser and of the independent line count (read_table's
#: ``block_size`` option overrides it; the tests use a few hundred bytes to cross block boundaries).
CSV_BLOCK_SIZE = 1 << 24
_SEPARATORS = (";", "\t", ",")
#: "Ã" followed by the CP1252/Latin-1 rendering of a UTF-8 continuation byte, as UTF-8 bytes:
#: C3 83 then the lead byte of U+0080..U+00BF (C2), Š/Œ/Ž (C5), ƒ (C6), ˆ/˜ (CB) or €/…/„ (E2).
_MOJIBAKE_UTF8 = re.compile(rb"\xc3\x83[\xc2\xc5\xc6\xcb\xe2]")
#: The same text in a single-byte file: "Ã" (C3) followed by a byte 0x80..0xBF.
_MOJIBAKE_8BIT = re.compile(rb"\xc3[\x80-\xbf]")
DICT_TEXT = pa.dictionary(pa.int32(), pa.string())


def read_csv(
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
    per distinct value (see :func:`per_distinct`).

    The number of rows parsed is checked against an independent count of the file's non-empty
    lines (:func:`count_lines`): pyarrow's block parser, given an unterminated quote in a middle
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
    text = head.decode(py_codec(enc), errors="replace").lstrip("\ufeff")
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
        stripped = resolve_usecols(path, [h.strip() for h in header], usecols)
        include = [h for h in header if h.strip() in stripped]
    types = {h: pa.string() if h.strip().upper() in plain_text else DICT_TEXT for h in header}
    table, used = _parse_csv(path, enc, encoding is None, sep, types, include, block_size)
    report.encoding = used
    _check_mojibake(path, used)
    _check_tail(path, sep)
    expected = count_lines(path, used, block_size) - 1  # minus the header line
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


def py_codec(enc: str) -> str:
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
                    f"{SEP_NAMES[sep]} but line {i} uses {SEP_NAMES[other]}"
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
    with open(path, encoding=py_codec(enc), errors="replace", newline="") as fh:
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


def count_lines(path: Path, enc: str, block_size: int) -> int:
    """Non-empty lines of a text file, counted from its bytes, independently of any CSV parser.

    Line ends are ``\n``, ``\r\n`` and a lone ``\r`` (as in pyarrow); an empty line (two line
    ends in a row) is not counted, as pyarrow skips it. Vectorised over blocks of ``block_size``
    bytes; a ``\r`` at the end of a block is carried into the next one so that ``\r\n`` is never
    split. Encodings in which a line end is not the single byte 0x0A (UTF-16/32) are counted on
    the decoded text.
    """
    codec = py_codec(enc)
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
                f"the file mixes separators -- the header uses {SEP_NAMES[sep]} but line "
                f"{lineno} uses {SEP_NAMES[other]}"
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

