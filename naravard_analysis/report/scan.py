r"""Scan written outputs for small counts and personal identity numbers before they are published.

:func:`check_outputs` reads every file of an output folder by type (CSV, Excel, HTML, executed
notebooks, Parquet, text) and fails if a count below the threshold or a valid personnummer /
samordningsnummer appears anywhere. It is the last automatic check before a human output checker
(see :mod:`naravard_analysis.report.acro`), not a proof of safety: what it does and does not catch
is listed in the README's privacy section.

Examples
--------
>>> import pathlib, tempfile
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "t.csv").write_text("kommun;antal\nA;3\nB;40\n")
>>> check_outputs(d, raise_on_failure=False).findings[0].describe()
"t.csv [sep ';'] column 'antal': 1 cell(s) with a count of 1..4 (rows 0) -- rule: counts below min_count=5 must be suppressed"
"""

from __future__ import annotations

import csv
import fnmatch
import html.parser
import io
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from naravard_analysis.data.identifiers import is_personnummer
from naravard_analysis.errors import DisclosureError, ParameterError

__all__ = [
    "DEFAULT_COUNT_PATTERNS",
    "DisclosureError",
    "DisclosureReport",
    "FileScan",
    "Finding",
    "check_outputs",
    "is_count_column",
]

# Suffix of the flag columns that ``disclosure.suppress`` adds (``n_suppressed``): never counts.
FLAG_SUFFIX = "_suppressed"


def _check_min_count(min_count: object) -> int:
    if isinstance(min_count, bool) or not isinstance(min_count, int | np.integer) or min_count < 1:
        raise ParameterError(
            f"min_count must be an integer >= 1 (e.g. 3, 5 or 10), got {min_count!r}"
        )
    return int(min_count)


_TOKENS = (
    "events",
    "cases",
    "controls",
    "deaths",
    "admissions",
    "visits",
    "contacts",
    "readmitted",
    "readmissions",
    "population",
    "eligible",
    "patients",
    "persons",
    "individuals",
    "numerator",
    "denominator",
    "personer",
    "patienter",
    "individer",
    "vårdtillfällen",
    "besök",
    "återinskrivningar",
    "dödsfall",
    "befolkning",
    "täljare",
    "nämnare",
    "händelser",
)
DEFAULT_COUNT_PATTERNS: tuple[str, ...] = (
    "n",
    "n_*",
    "*_n",
    "count",
    "count*",
    "*_count",
    "antal",
    "antal*",
    "*_antal",
    "freq",
    "frequency",
    "nobs",
    *(p for t in _TOKENS for p in (t, f"*_{t}", f"{t}_*")),
)
# A column whose name holds one of these words is a rate, share, mean or interval, not a count.
_RATE_WORDS = {
    "per",
    "rate",
    "rates",
    "andel",
    "share",
    "pct",
    "percent",
    "procent",
    "prop",
    "proportion",
    "mean",
    "medel",
    "medelvärde",
    "median",
    "ratio",
    "kvot",
    "lower",
    "upper",
    "lcl",
    "ucl",
    "ci",
    "ki",
    "se",
    "sd",
    "dsr",
    "crude",
    "rr",
    "or",
    "hr",
    "irr",
    "takt",
    "%",
    "avg",
    "average",
    "min",
    "max",
    "p25",
    "p75",
    "iqr",
}


def is_count_column(name: object, patterns: Sequence[str] = DEFAULT_COUNT_PATTERNS) -> bool:
    """Whether a column header names a count (used by :func:`check_outputs`).

    A header matches when it equals a pattern without wildcard, or matches a glob pattern
    (case-insensitive) and holds no rate word (``per``, ``rate``, ``andel``, ``mean``,
    ``lower`` ...). Flag columns (``*_suppressed``) are never counts.

    >>> [is_count_column(c) for c in ["n", "antal_besok", "n_per_1000", "n_suppressed", "region"]]
    [True, True, False, False, False]
    """
    if name is None:
        return False
    low = str(name).strip().casefold()
    if not low or low.endswith(FLAG_SUFFIX):
        return False
    exact = {p.casefold() for p in patterns if not any(ch in p for ch in "*?[")}
    if low in exact:
        return True
    words = set(re.split(r"[^0-9a-zåäöéü%]+", low))
    if words & _RATE_WORDS:
        return False
    return any(
        fnmatch.fnmatchcase(low, p.casefold()) for p in patterns if any(ch in p for ch in "*?[")
    )


# Personnummer / samordningsnummer: 10 or 12 digits, optional -/+ before the last four, not part
# of a longer number, a decimal fraction or an alphanumeric token (hashes, base64).
_ID_RE = re.compile(r"(?<![0-9A-Za-z])([0-9]{8}|[0-9]{6})([-+]?)([0-9]{4})(?![0-9A-Za-z])")
_FRACTION_BEFORE = re.compile(r"[0-9][.,]$")
_FRACTION_AFTER = re.compile(r"[.,][0-9]")


def _identity_checker() -> Callable[[str], bool]:
    """The data layer's personnummer / samordningsnummer check (Luhn digit and date)."""

    def check(candidate: str) -> bool:
        return bool(is_personnummer(candidate))

    return check


def _count_identifiers(text: str, check: Callable[[str], bool]) -> int:
    if not text or len(text) < 10:
        return 0
    n = 0
    for m in _ID_RE.finditer(text):
        # "0.8112189876" and "8112189876.5" are numbers; "1,811218-9876,2" (with a separator)
        # is not. Cells of CSV/Excel/HTML tables are checked one by one, so there a bare
        # 10-digit number is found whatever stands in the neighbouring cells.
        if not m.group(2) and (
            _FRACTION_BEFORE.search(text, 0, m.start()) or _FRACTION_AFTER.match(text, m.end())
        ):
            continue
        n += bool(check(m.group(0)))
    return n


@dataclass(frozen=True)
class Finding:
    """One problem in one place: never the value itself.

    ``rule`` is ``"small_count"`` or ``"personnummer"``; ``location`` names the sheet, table,
    notebook cell/output or ``"text"``; ``column`` the header (or None); ``rows`` up to five
    positions: 0-based data rows below the header (CSV, HTML, Parquet, notebook tables), Excel
    row numbers (1-based, as Excel shows) for workbooks, line numbers (1-based) for text.
    """

    file: str
    rule: str
    location: str
    column: str | None
    n_cells: int
    rows: tuple[int, ...]
    row_kind: str = "rows"
    min_count: int = 5

    def describe(self) -> str:
        where = f"{self.file}"
        if self.location:
            where += f" [{self.location}]"
        if self.column is not None:
            where += f" column {self.column!r}"
        rows = ", ".join(map(str, self.rows)) + (", ..." if self.n_cells > len(self.rows) else "")
        pos = f" ({self.row_kind} {rows})" if self.rows else ""
        if self.rule == "small_count":
            return (
                f"{where}: {self.n_cells} cell(s) with a count of 1..{self.min_count - 1}{pos} -- "
                f"rule: counts below min_count={self.min_count} must be suppressed"
            )
        if self.rule == "unreadable":
            return f"{where}: could not be read -- rule: every output must be checkable"
        return (
            f"{where}: {self.n_cells} valid personnummer/samordningsnummer{pos} -- rule: no "
            "personal identity numbers in outputs"
        )


@dataclass
class FileScan:
    """What was scanned in one file and what was found there."""

    file: str
    kind: str
    scanned: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


@dataclass
class DisclosureReport:
    """Result of :func:`check_outputs`: one :class:`FileScan` per file."""

    directory: str
    min_count: int
    files: list[FileScan] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return [f for s in self.files for f in s.findings]

    @property
    def ok(self) -> bool:
        return not self.findings

    def summary(self) -> str:
        n_scanned = sum(1 for s in self.files if s.kind != "skipped")
        head = (
            f"Disclosure check of {self.directory} (min_count={self.min_count}): "
            f"{n_scanned} file(s) scanned, {len(self.files) - n_scanned} skipped, "
            + ("no problems found." if self.ok else f"{len(self.findings)} problem(s):")
        )
        lines = [head]
        lines += [f"  - {f.describe()}" for f in self.findings]
        for s in self.files:
            lines.append(f"  {s.file} ({s.kind}): " + ("; ".join(s.scanned) or "-"))
        return "\n".join(lines)

    __str__ = summary

    def to_frame(self) -> pd.DataFrame:
        rows = [
            {
                "file": s.file,
                "kind": s.kind,
                "scanned": "; ".join(s.scanned),
                "rule": f.rule if f else "",
                "location": f.location if f else "",
                "column": (f.column or "") if f else "",
                "n_cells": f.n_cells if f else 0,
                "rows": ", ".join(map(str, f.rows)) if f else "",
            }
            for s in self.files
            for f in (s.findings or [None])
        ]
        return pd.DataFrame(
            rows,
            columns=["file", "kind", "scanned", "rule", "location", "column", "n_cells", "rows"],
        )

    def _repr_html_(self) -> str:
        status = "OK" if self.ok else f"{len(self.findings)} problem(s)"
        return (
            f"<p><b>Disclosure check</b> ({self.directory}, min_count={self.min_count}): {status}</p>"
            + self.to_frame().to_html(index=False)
        )


_NUM_RE = re.compile(r"^[-+]?[0-9]+(?:[.,][0-9]+)?(?:[eE][-+]?[0-9]+)?$")


def _number(x: object) -> float:
    if x is None or isinstance(x, bool):
        return np.nan
    if isinstance(x, int | float | np.integer | np.floating):
        return float(x)
    s = str(x).strip()
    for ch in (" ", "\u00a0", "\u202f", "\u2009"):
        s = s.replace(ch, "")
    return float(s.replace(",", ".")) if _NUM_RE.match(s) else np.nan


def _cell_text(x: object) -> str:
    if x is None:
        return ""
    if isinstance(x, float | np.floating) and np.isfinite(x) and float(x).is_integer():
        return str(int(x))
    return str(x)


class _Scanner:
    """Collects findings for one file."""

    def __init__(
        self,
        scan: FileScan,
        min_count: int,
        patterns: Sequence[str],
        allow_zero: bool,
        check: Callable[[str], bool],
    ):
        self.scan, self.min_count, self.patterns = scan, min_count, patterns
        self.allow_zero, self.check = allow_zero, check

    def _add(
        self, rule: str, location: str, column: str | None, positions: list[int], row_kind: str
    ) -> None:
        if positions:
            self.scan.findings.append(
                Finding(
                    self.scan.file,
                    rule,
                    location,
                    column,
                    len(positions),
                    tuple(positions[:5]),
                    row_kind,
                    self.min_count,
                )
            )

    def grid(
        self,
        location: str,
        header: Sequence[object],
        rows: Sequence[Sequence[object]],
        *,
        row_numbers: Sequence[int] | None = None,
        row_kind: str = "rows",
    ) -> None:
        """Check a table: count columns by header name, identifiers in every cell."""
        names = [_cell_text(h).strip() for h in header]
        count_idx = [j for j, h in enumerate(names) if is_count_column(h, self.patterns)]
        nums = row_numbers if row_numbers is not None else range(len(rows))
        small: dict[int, list[int]] = {j: [] for j in count_idx}
        ids: dict[int, list[int]] = {}
        for pos, row in zip(nums, rows, strict=True):
            for j in count_idx:
                if j < len(row):
                    v = _number(row[j])
                    if (0 < v < self.min_count) or (not self.allow_zero and v == 0):
                        small[j].append(pos)
            for j, x in enumerate(row):
                if _count_identifiers(_cell_text(x), self.check):
                    ids.setdefault(j, []).append(pos)
        header_ids = [j for j, h in enumerate(names) if _count_identifiers(h, self.check)]
        for j in header_ids:
            self._add("personnummer", location, f"header of column {j}", [-1], "row")
        for j, pos in small.items():
            self._add("small_count", location, names[j], pos, row_kind)
        for j, pos in sorted(ids.items()):
            self._add(
                "personnummer",
                location,
                names[j] if j < len(names) and names[j] else f"#{j}",
                pos,
                row_kind,
            )
        cc = ", ".join(names[j] for j in count_idx) or "none"
        self.scan.scanned.append(
            f"{location or 'table'}: {len(names)} columns x {len(rows)} rows, count columns: {cc}"
        )

    def text(self, location: str, text: str) -> None:
        lines = [
            i + 1
            for i, line in enumerate(text.splitlines())
            if _count_identifiers(line, self.check)
        ]
        self._add("personnummer", location, None, lines, "lines")


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _scan_csv(path: Path, sc: _Scanner) -> None:
    text = _decode(path.read_bytes())
    first = next((line for line in text.splitlines() if line.strip()), "")
    sep = max([";", ",", "\t", "|"], key=first.count) if first else ","
    records = list(csv.reader(io.StringIO(text), delimiter=sep))
    widths = [len(r) for r in records if r]
    if not widths:
        sc.scan.scanned.append("empty")
        return
    modal = max(set(widths), key=widths.count)
    h = next(i for i, r in enumerate(records) if len(r) == modal)
    # caption lines above the header: identifiers only, reported by line
    pre = [
        i + 1 for i, r in enumerate(records[:h]) if any(_count_identifiers(x, sc.check) for x in r)
    ]
    sc._add("personnummer", "text", None, pre, "lines")
    sc.grid(f"sep {sep!r}", records[h], [r for r in records[h + 1 :] if r])


def _scan_sheet(ws: object, sc: _Scanner) -> None:
    """One worksheet: a row of text headers with a count name starts a table (several may
    follow each other on one sheet); identifiers are looked for in every cell."""
    where = f"sheet {ws.title!r}"  # type: ignore[attr-defined]
    tables: list[tuple[list[object], list[list[object]], list[int]]] = []
    loose: list[int] = []
    for i, row in enumerate(ws.iter_rows(values_only=True), start=1):  # type: ignore[attr-defined]
        cells = list(row)
        texts = [c for c in cells if isinstance(c, str)]
        numeric = [c for c in cells if isinstance(c, int | float) and not isinstance(c, bool)]
        if texts and not numeric and any(is_count_column(t, sc.patterns) for t in texts):
            tables.append((cells, [], []))
        elif tables:
            tables[-1][1].append(cells)
            tables[-1][2].append(i)
        elif any(_count_identifiers(_cell_text(c), sc.check) for c in cells):
            loose.append(i)
    for header, block, numbers in tables:
        sc.grid(where, header, block, row_numbers=numbers, row_kind="Excel rows")
    if not tables:
        sc.scan.scanned.append(f"{where}: no count header (identifiers only)")
    sc._add("personnummer", where, None, loose, "Excel rows")


def _scan_excel(path: Path, sc: _Scanner) -> None:
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        for ws in wb.worksheets:
            _scan_sheet(ws, sc)
    finally:
        wb.close()


class _HTMLTables(html.parser.HTMLParser):
    """Tables (rows of (text, is_header)) and identifier hits outside tables, by line."""

    def __init__(self, check: Callable[[str], bool]):
        super().__init__(convert_charrefs=True)
        self.check = check
        self.tables: list[list[list[tuple[str, bool]]]] = []
        self.stack: list[int] = []
        self.cell: list[str] | None = None
        self.cell_th = False
        self.colspan = 1
        self.loose_lines: list[int] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for _, val in attrs:
            if val and not val.startswith("data:") and _count_identifiers(val, self.check):
                self.loose_lines.append(self.getpos()[0])
        if tag == "table":
            self.tables.append([])
            self.stack.append(len(self.tables) - 1)
        elif tag == "tr" and self.stack:
            self.tables[self.stack[-1]].append([])
        elif tag in ("td", "th") and self.stack:
            self.cell, self.cell_th = [], tag == "th"
            span = dict(attrs).get("colspan") or "1"
            self.colspan = int(span) if span.isdigit() else 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None and self.stack:
            rows = self.tables[self.stack[-1]]
            if not rows:
                rows.append([])
            text = " ".join("".join(self.cell).split())
            rows[-1].extend([(text, self.cell_th)] * max(1, self.colspan))
            self.cell = None
        elif tag == "table" and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)
        elif _count_identifiers(data, self.check):
            self.loose_lines.append(self.getpos()[0])


def _scan_html(text: str, sc: _Scanner, where: str) -> None:
    p = _HTMLTables(sc.check)
    p.feed(text)
    p.close()
    sc._add("personnummer", f"{where}text".strip(), None, sorted(set(p.loose_lines)), "lines")
    for t, rows in enumerate(p.tables):
        rows = [r for r in rows if r]
        if not rows:
            continue
        n_head = 0
        while n_head < len(rows) and all(th for _, th in rows[n_head]) and n_head < len(rows) - 1:
            n_head += 1
        n_head = max(n_head, 1)
        width = max(len(r) for r in rows)
        header = []
        for j in range(width):
            names = [r[j][0] for r in rows[:n_head] if j < len(r) and r[j][0]]
            counts = [h for h in names if is_count_column(h, sc.patterns)]
            header.append(counts[-1] if counts else (names[-1] if names else ""))
        sc.grid(f"{where}table {t}", header, [[c for c, _ in r] for r in rows[n_head:]])


_NOT_A_HEADER = re.compile(r"[:;,~()=]")


def _scan_plain_table(text: str, sc: _Scanner, where: str) -> None:
    """Whitespace-aligned DataFrame reprs in text/plain or stream output (heuristic).

    A header is a line without sentence punctuation that names a count column; the table is
    the run of following lines with as many tokens as the header plus 0-2 index tokens (a
    one-token index-name line right after the header is allowed). Values are right-aligned.
    """
    raw_lines = text.splitlines()
    lines = [line.split() for line in raw_lines]
    i = 0
    while i < len(lines):
        header = lines[i]
        raw = raw_lines[i]
        if (
            not header
            or _NOT_A_HEADER.search(raw)
            or not any(is_count_column(h, sc.patterns) for h in header)
        ):
            i += 1
            continue
        rows, j = [], i + 1
        while j < len(lines):
            tok = lines[j]
            if 0 <= len(tok) - len(header) <= 2:
                rows.append(tok[len(tok) - len(header) :])
            elif not (j == i + 1 and 1 <= len(tok) <= 2):
                break
            j += 1
        if rows:
            sc.grid(f"{where}printed table", header, rows)
        i = max(j, i + 1)


def _scan_notebook(path: Path, sc: _Scanner) -> None:
    nb = json.loads(_decode(path.read_bytes()))
    cells = nb.get("cells", [])
    n_out = 0
    for i, cell in enumerate(cells):
        src = cell.get("source", "")
        sc.text(f"cell {i} source", "".join(src) if isinstance(src, list) else str(src))
        for j, out in enumerate(cell.get("outputs", []) or []):
            n_out += 1
            where = f"cell {i} output {j} "
            data = out.get("data") or {}
            if "text" in out:  # stream
                t = "".join(out["text"]) if isinstance(out["text"], list) else str(out["text"])
                sc.text(f"{where}stream", t)
                _scan_plain_table(t, sc, where)
            if "traceback" in out:
                sc.text(f"{where}traceback", "\n".join(out.get("traceback") or []))
            for mime, val in data.items():
                if mime.startswith("image/") and mime != "image/svg+xml":
                    continue
                t = (
                    "".join(val)
                    if isinstance(val, list)
                    else (val if isinstance(val, str) else json.dumps(val))
                )
                if mime == "text/html":
                    _scan_html(t, sc, f"{where}text/html ")
                else:
                    sc.text(f"{where}{mime}", t)
                    if mime == "text/plain" and "text/html" not in data:
                        _scan_plain_table(t, sc, where)
    sc.scan.scanned.insert(0, f"{len(cells)} cells, {n_out} outputs")


def _scan_parquet(path: Path, sc: _Scanner) -> None:
    df = pd.read_parquet(path)
    sc.grid("", list(map(str, df.columns)), df.astype(object).to_numpy().tolist())


_KINDS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".xlsx": "excel",
    ".xlsm": "excel",
    ".html": "html",
    ".htm": "html",
    ".ipynb": "notebook",
    ".parquet": "parquet",
    ".txt": "text",
    ".md": "text",
    ".json": "text",
    ".svg": "text",
    ".log": "text",
    ".tex": "text",
    ".yaml": "text",
    ".yml": "text",
    ".xml": "text",
    ".rst": "text",
}


def check_outputs(
    directory: str | Path,
    min_count: int = 5,
    *,
    count_patterns: Sequence[str] = DEFAULT_COUNT_PATTERNS,
    allow_zero: bool = True,
    raise_on_failure: bool = True,
) -> DisclosureReport:
    """Scan written outputs for small counts and personal identity numbers.

    Every file under ``directory`` (recursively, hidden folders included) is read by type:
    CSV/TSV (separator ``;`` ``,`` tab or ``|`` from the first line; decimal comma or point;
    space/NBSP thousands; UTF-8 or CP1252), Excel ``.xlsx`` (every sheet; a row of headers with
    a count name starts a table), HTML (every ``<table>``, and all text and attributes outside
    tables), executed notebooks (cell sources; stream, ``text/html``, ``text/plain`` and other
    text outputs; printed DataFrames are parsed heuristically), Parquet, and plain text files
    (``.txt .md .json .svg .log ...``: identifiers only). Other files (PNG, PDF ...) are listed
    as skipped.

    Rules: a value ``v`` with ``0 < v < min_count`` (or ``v == 0`` when not ``allow_zero``) in a
    count column fails (DEFINITIONS.md 8.7); count columns are recognised by header name
    (:func:`is_count_column`, ``count_patterns``). Any valid personnummer or samordningsnummer
    (10 or 12 digits, optional ``-``/``+``, Luhn check digit, valid date, day - 60 for
    samordningsnummer; DEFINITIONS.md 8.5-8.6) anywhere fails. Suppressed markers (``<5``,
    ``..``, empty) are not numbers and pass.

    Parameters
    ----------
    directory
        Output folder (or a single file).
    min_count
        Threshold used when the outputs were suppressed.
    count_patterns
        Header names (exact) and glob patterns (``n_*``) of count columns, case-insensitive;
        extend with ``DEFAULT_COUNT_PATTERNS + ("Kvinnor", "Män")`` for wide tables.
    allow_zero
        Zero counts pass (default, as in :func:`suppress`).
    raise_on_failure
        Raise :class:`DisclosureError` when anything is found (default); else only report.

    Returns
    -------
    DisclosureReport
        Per file: what was scanned and what was found (file, sheet/table/cell, column, row
        positions and how many cells) -- never the value of an identifier.

    Raises
    ------
    DisclosureError
        Something disclosive was found; the message names file, column, number of cells and
        the rule, and ``err.report`` holds the full report.
    ParameterError
        The directory does not exist or ``min_count`` is invalid.
    """
    min_count = _check_min_count(min_count)
    root = Path(directory)
    if not root.exists():
        raise ParameterError(f"check_outputs: {str(root)!r} does not exist")
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    report = DisclosureReport(str(root), min_count)
    check = _identity_checker()
    for path in files:
        rel = path.name if root.is_file() else path.relative_to(root).as_posix()
        kind = _KINDS.get(path.suffix.lower(), "skipped")
        scan = FileScan(rel, kind)
        report.files.append(scan)
        sc = _Scanner(scan, min_count, count_patterns, allow_zero, check)
        try:
            if kind == "csv":
                _scan_csv(path, sc)
            elif kind == "excel":
                _scan_excel(path, sc)
            elif kind == "html":
                _scan_html(_decode(path.read_bytes()), sc, "")
            elif kind == "notebook":
                _scan_notebook(path, sc)
            elif kind == "parquet":
                _scan_parquet(path, sc)
            elif kind == "text":
                sc.text("text", _decode(path.read_bytes()))
                scan.scanned.append("text (identifiers only)")
            else:
                scan.scanned.append(f"not scanned ({path.suffix or 'no extension'})")
        except Exception as err:  # a file we cannot read cannot be vouched for
            scan.findings.append(Finding(rel, "unreadable", "", None, 1, (), "rows", min_count))
            scan.scanned.append(f"could not be read: {type(err).__name__}")
    if raise_on_failure and not report.ok:
        shown = report.findings[:20]
        msg = (
            f"disclosure check of {root} failed (min_count={min_count}): {len(report.findings)} "
            "problem(s):\n" + "\n".join(f"  - {f.describe()}" for f in shown)
        )
        if len(report.findings) > len(shown):
            msg += f"\n  ... and {len(report.findings) - len(shown)} more (see err.report)"
        err = DisclosureError(msg)
        err.report = report  # type: ignore[attr-defined]
        raise err
    return report
