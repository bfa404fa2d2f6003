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
from naravard_analysis.report.labels import label_key

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
    "counts",
    "count_*",
    "count *",
    "*_count",
    "antal",
    "antal_*",
    "antal *",
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
    ``lower`` ...). Flag columns (``*_suppressed``) are never counts. A labelled header, as
    :func:`~naravard_analysis.report.tables.write_tables` writes it, is read back to its column
    name first (:func:`~naravard_analysis.report.labels.label_key`, Swedish and English): a
    column is a count under its label (``Antal``, ``Index episodes``, ``N enrolled``) exactly
    when it is one under its name.

    >>> [is_count_column(c) for c in ["n", "antal_besok", "n_per_1000", "n_suppressed", "region"]]
    [True, True, False, False, False]
    >>> [is_count_column(c) for c in ["Indexvårdtillfällen", "Number", "Nedre gräns"]]
    [True, True, False]
    """
    if name is None:
        return False
    text = str(name).strip()
    if not text:
        return False
    key = label_key(text)
    return _names_count(text, patterns) or (key != text and _names_count(key, patterns))


def _names_count(name: str, patterns: Sequence[str]) -> bool:
    low = name.casefold()
    if low.endswith(FLAG_SUFFIX):
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


# Personnummer / samordningsnummer: 10 or 12 digits, optional -, + or space before the last four,
# not part of a longer number, a decimal fraction or an alphanumeric token (hashes, base64).
_ID_RE = re.compile(r"(?<![0-9A-Za-z])([0-9]{8}|[0-9]{6})([-+ ]?)([0-9]{4})(?![0-9A-Za-z])")
_FRACTION_BEFORE = re.compile(r"[0-9][.,]$")
_FRACTION_AFTER = re.compile(r"[.,][0-9]")
_REDACTED = "<personnummer>"


def _identity_checker() -> Callable[[str], bool]:
    """The data layer's personnummer / samordningsnummer check (Luhn digit and date)."""

    def check(candidate: str) -> bool:
        return bool(is_personnummer(candidate))

    return check


def _identifier_spans(text: str, check: Callable[[str], bool]) -> list[tuple[int, int]]:
    """Positions of valid personnummer / samordningsnummer in ``text``."""
    if not text or len(text) < 10:
        return []
    spans = []
    for m in _ID_RE.finditer(text):
        # "0.8112189876" and "8112189876.5" are numbers; "1,811218-9876,2" (with a separator)
        # is not. Cells of CSV/Excel/HTML tables are checked one by one, so there a bare
        # 10-digit number is found whatever stands in the neighbouring cells.
        if m.group(2) in ("", " ") and (
            _FRACTION_BEFORE.search(text, 0, m.start()) or _FRACTION_AFTER.match(text, m.end())
        ):
            continue
        sep = m.group(2) if m.group(2) in "-+" else ""  # "YYMMDD NNNC" is written with a space
        if check(m.group(1) + sep + m.group(3)):
            spans.append(m.span())
    return spans


def _count_identifiers(text: str, check: Callable[[str], bool]) -> int:
    return len(_identifier_spans(text, check))


def _redact(text: object, check: Callable[[str], bool] | None = None) -> str:
    """``text`` with every valid identity number replaced: the scanner's own report names files,
    sheets and columns, and must never repeat an identifier it found in one of those names."""
    text = str(text)
    for start, end in reversed(_identifier_spans(text, check or _identity_checker())):
        text = text[:start] + _REDACTED + text[end:]
    return text


# Counts written in prose: "3 personer", "n = 3", "3 (7,5 %)", "3 av 40 patienter", "antal: 3".
_COUNT_NOUNS = (
    "personer|person|patienter|patient|individer|individ|vårdtillfällen|vårdtillfälle|besök|"
    "återinskrivningar|återinskrivning|inskrivningar|dödsfall|händelser|händelse|fall|kontakter|"
    "kontakt|kvinnor|män|barn|invånare|avlidna|persons|people|patients|individuals|individual|"
    "admissions|admission|readmissions|readmission|visits|visit|deaths|death|events|event|cases|"
    "case|contacts|contact|stays|stay|women|men|children|residents"
)
_INT = r"(?<![\w.,])([0-9]{1,4})(?![0-9]|[.,][0-9])"
_TEXT_COUNT_RES = (
    # a number before a count noun, one adjective allowed: "3 nya patienter", "3 unique patients"
    re.compile(_INT + r"\s+(?:st\.?\s+)?(?:[^\W\d]+\s+)?(?:" + _COUNT_NOUNS + r")\b", re.I),
    # n (%): "3 (7,5 %)", "3 (7.5%)"
    re.compile(_INT + r"\s*\(\s*[0-9]+(?:[.,][0-9]+)?\s*%\s*\)"),
    # "n = 3", "N: 3", "antal vårdtillfällen: 3", "number of deaths = 3"
    re.compile(
        r"(?:\bn|\bantal\b[^.:=\n]{0,40}|\bnumber of\b[^.:=\n]{0,40})\s*[=:]\s*" + _INT, re.I
    ),
    # "3 av 40 patienter", "3 of 40 patients", "3 out of 40"
    re.compile(
        _INT
        + r"\s+(?:av|of|out of)\s+[0-9][0-9 \u00a0]*\s+(?:[^\W\d]+\s+)?(?:"
        + _COUNT_NOUNS
        + r")\b",
        re.I,
    ),
)
# A threshold, not a count: "färre än 5 personer", "fewer than 5 persons", "< 5", "minst 5".
_THRESHOLD_BEFORE = re.compile(
    r"(?:färre än|fler än|mindre än|minst|högst|under|över|fewer than|more than|less than|"
    r"at least|at most|below|above|[<>≤≥]=?)\s*$",
    re.I,
)


def _text_counts(text: str, min_count: int, allow_zero: bool) -> list[int]:
    """Line numbers (1-based) of counts below ``min_count`` written in prose."""
    if not text:
        return []
    lines: set[int] = set()
    for i, line in enumerate(text.splitlines(), start=1):
        if not any(ch.isdigit() for ch in line):
            continue
        for rx in _TEXT_COUNT_RES:
            for m in rx.finditer(line):
                k = int(m.group(1))
                if _THRESHOLD_BEFORE.search(line, 0, m.start(1)):
                    continue
                if 0 < k < min_count or (k == 0 and not allow_zero):
                    lines.add(i)
    return sorted(lines)


_RULE_TEXT = {
    "implied_count": (
        "share(s)/rate(s) that, with the denominator beside them, give back a count of "
        "1..min_count-1 -- rule: a rate whose numerator is small must be suppressed"
    ),
    "formula": (
        "formula cell(s) without a computed value -- rule: every published number must be "
        "checkable; save the workbook with values (or without formulas)"
    ),
    "figure_without_data": (
        "figure(s) whose values cannot be read back and that have no data file (same name, "
        ".csv or .svg) beside them -- rule: every figure is published with its data"
    ),
}


@dataclass(frozen=True)
class Finding:
    """One problem in one place: never the value itself.

    ``rule`` is ``"small_count"``, ``"personnummer"``, ``"implied_count"`` (a share or rate times
    its denominator gives a small count), ``"formula"`` (an Excel formula without a cached value),
    ``"figure_without_data"`` or ``"unreadable"``; ``location`` names the sheet, table,
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
        if self.rule in _RULE_TEXT:
            return f"{where}: {self.n_cells} {_RULE_TEXT[self.rule]}{pos}"
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

    def __repr__(self) -> str:
        # shown in notebooks and published with them: no server path, no file details
        status = "no problems" if self.ok else f"{len(self.findings)} problem(s)"
        return (
            f"DisclosureReport(min_count={self.min_count}, files={len(self.files)}, {status})"
        )

    def _repr_html_(self) -> str:
        status = "OK" if self.ok else f"{len(self.findings)} problem(s)"
        return (
            f"<p><b>Disclosure check</b> (min_count={self.min_count}): {status}</p>"
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
        """Check a table: count columns by header name (and integer columns headed by a year or
        month), counts written as text in any cell ("3 (7,5 %)"), shares and rates that give a
        small count back with the denominator beside them, identifiers in every cell."""
        location = _redact(location, self.check)
        header_ids = [
            j for j, h in enumerate(header) if _count_identifiers(_cell_text(h), self.check)
        ]
        names = [_redact(_cell_text(h).strip(), self.check) for h in header]
        nums = list(row_numbers if row_numbers is not None else range(len(rows)))
        count_idx = [j for j, h in enumerate(names) if is_count_column(h, self.patterns)]
        count_idx += [
            j
            for j, h in enumerate(names)
            if j not in count_idx and _PERIOD_HEADER.match(h) and _integer_column(rows, j)
        ]
        small: dict[int, list[int]] = {j: [] for j in count_idx}
        in_text: dict[int, list[int]] = {}
        ids: dict[int, list[int]] = {}
        for pos, row in zip(nums, rows, strict=True):
            for j in count_idx:
                if j < len(row):
                    v = _number(row[j])
                    if (0 < v < self.min_count) or (not self.allow_zero and v == 0):
                        small[j].append(pos)
            for j, x in enumerate(row):
                t = _cell_text(x)
                if _count_identifiers(t, self.check):
                    ids.setdefault(j, []).append(pos)
                if (
                    isinstance(x, str)
                    and np.isnan(_number(x))
                    and _text_counts(t, self.min_count, self.allow_zero)
                ):
                    in_text.setdefault(j, []).append(pos)
        for j in header_ids:
            self._add("personnummer", location, f"header of column {j}", [-1], "row")
        for j, pos in small.items():
            self._add("small_count", location, names[j], pos, row_kind)
        for j, pos in sorted(in_text.items()):
            self._add(
                "small_count", location, names[j] if j < len(names) else f"#{j}", pos, row_kind
            )
        for j, pos in _implied_counts(names, rows, count_idx, self.min_count).items():
            self._add("implied_count", location, names[j], [nums[i] for i in pos], row_kind)
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

    def text(self, location: str, text: str, *, counts: bool = False) -> None:
        """Identifiers in every line; with ``counts``, also counts written in prose."""
        lines = [
            i + 1
            for i, line in enumerate(text.splitlines())
            if _count_identifiers(line, self.check)
        ]
        location = _redact(location, self.check)
        self._add("personnummer", location, None, lines, "lines")
        if counts:
            found = _text_counts(text, self.min_count, self.allow_zero)
            self._add("small_count", location, None, found, "lines")


# A header that is a period: 2019, 2019-01, 2019M01, 2019 Q1, 2019K1 (wide tables by year).
_PERIOD_HEADER = re.compile(
    r"^(?:19|20)[0-9]{2}(?:[-/M ](?:0?[1-9]|1[0-2])|(?:0[1-9]|1[0-2])|[ -]?[QqKk][1-4])?$"
)


def _integer_column(rows: Sequence[Sequence[object]], j: int) -> bool:
    """Column ``j`` holds numbers, all whole (a count), as written."""
    seen = False
    for row in rows:
        if j >= len(row):
            continue
        x = row[j]
        v = _number(x)
        if np.isnan(v):
            continue
        if not float(v).is_integer() or (isinstance(x, str) and re.search(r"[.,][0-9]", x)):
            return False
        seen = True
    return seen


# Header words of shares and rates (a numerator over a denominator) and their scale.
_SHARE_WORDS = {"andel", "share", "prop", "proportion", "fraction"}
_PERCENT_WORDS = {"pct", "percent", "procent", "%", "procentandel"}
_RATE_ONLY_WORDS = {"rate", "rates", "takt", "per", "incidence", "incidens", "risk"}
_NOT_A_SHARE = {
    "lower",
    "upper",
    "lcl",
    "ucl",
    "ci",
    "ki",
    "se",
    "sd",
    "rr",
    "or",
    "hr",
    "irr",
    "ratio",
    "kvot",
    "mean",
    "medel",
    "median",
    "change",
    "diff",
    "förändring",
}
# "per 100 000", "per 100,000", "per_100000": thousands grouped by space, comma or underscore
_PER_N = re.compile(r"per[\s_]*([0-9]{1,3}(?:[ ,_\u00a0][0-9]{3})+(?![0-9])|[0-9]+)")


def _share_scale(name: str, values: list[float]) -> float | None:
    """Units of one share/rate column: 1 (share), 100 (percent), 1000 (per 1 000) ...; None when
    the column is not a share or rate of a count. A labelled header is read by its column name
    first (``Per 100,000 inhabitants`` -> ``rate_per_100000``)."""
    key = label_key(name)
    if key != name.strip():
        scale = _scale_of(key, values)
        if scale is not None:
            return scale
    return _scale_of(name, values)


def _scale_of(name: str, values: list[float]) -> float | None:
    low = name.casefold()
    words = set(re.split(r"[^0-9a-zåäöéü%]+", low)) | ({"%"} if "%" in low else set())
    if not words & (_SHARE_WORDS | _PERCENT_WORDS | _RATE_ONLY_WORDS) or words & _NOT_A_SHARE:
        return None
    m = _PER_N.search(low)
    if m:
        return float(re.sub(r"[^0-9]", "", m.group(1)))
    if words & _PERCENT_WORDS:
        return 100.0
    finite = [v for v in values if np.isfinite(v)]
    # a share above 1 without a percent sign is ambiguous (percent? per what?): not used
    return 1.0 if finite and max(finite) <= 1 else None


def _half_unit(x: object) -> float:
    """Half a unit in the last digit shown (``0.07`` -> 0.005): the rounding of a displayed rate."""
    text = _cell_text(x).strip().replace(",", ".")
    if isinstance(x, float | np.floating):
        text = repr(float(x))
    if "e" in text.lower():
        return 0.0
    decimals = len(text.split(".")[1]) if "." in text else 0
    return 0.5 * 10.0**-decimals


def _implied_counts(
    names: Sequence[str], rows: Sequence[Sequence[object]], count_idx: Sequence[int], min_count: int
) -> dict[int, list[int]]:
    """Rows where a share or rate times the largest count of its row (the denominator; a
    denominator is never smaller than its numerator) can only be a count of 1..min_count-1."""
    if not count_idx:
        return {}
    found: dict[int, list[int]] = {}
    for j, name in enumerate(names):
        if j in count_idx:
            continue
        vals = [_number(r[j]) if j < len(r) else np.nan for r in rows]
        scale = _share_scale(name, vals)
        if scale is None:
            continue
        for i, row in enumerate(rows):
            v = vals[i]
            dens = [_number(row[c]) for c in count_idx if c < len(row)]
            dens = [d for d in dens if np.isfinite(d) and d > 0]
            if not np.isfinite(v) or v <= 0 or not dens:
                continue
            d, h = max(dens), _half_unit(row[j])
            lo, hi = (v - h) * d / scale, (v + h) * d / scale
            ks = range(int(np.ceil(lo - 1e-9)), int(np.floor(hi + 1e-9)) + 1)
            if len(ks) and all(0 < k < min_count for k in ks):
                found.setdefault(j, []).append(i)
    return found


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _csv_records(text: str) -> tuple[str, list[list[str]], int]:
    """Separator, records and modal width: the separator that gives the most rows of one width
    (a caption line above the header must not decide it)."""
    best: tuple[int, int, str, list[list[str]]] | None = None
    for sep in (";", ",", "\t", "|"):
        try:
            records = list(csv.reader(io.StringIO(text), delimiter=sep))
        except csv.Error:
            continue
        widths = [len(r) for r in records if r]
        if not widths:
            continue
        modal = max(sorted(set(widths)), key=widths.count)
        score = widths.count(modal) if modal > 1 else 0
        if best is None or score > best[0]:
            best = (score, modal, sep, records)
    if best is None:
        return ",", [], 0
    return best[2], best[3], best[1]


def _scan_csv(path: Path, sc: _Scanner) -> None:
    text = _decode(path.read_bytes())
    sep, records, modal = _csv_records(text)
    if not records or not modal:
        sc.scan.scanned.append("empty")
        return
    h = next(i for i, r in enumerate(records) if len(r) == modal)
    # caption lines above the header and footnotes below: identifiers and counts in prose
    loose = [(i, r) for i, r in enumerate(records) if r and (i < h or len(r) != modal)]
    ids = [i + 1 for i, r in loose if any(_count_identifiers(x, sc.check) for x in r)]
    counts = [i + 1 for i, r in loose if _text_counts(sep.join(r), sc.min_count, sc.allow_zero)]
    sc._add("personnummer", "text", None, ids, "lines")
    sc._add("small_count", "text", None, counts, "lines")
    body = [r for r in records[h + 1 :] if len(r) == modal]
    sc.grid(f"sep {sep!r}", records[h], body)


# A suppression mark of ``format_suppressed`` ("<5", ".."): a hidden cell, never a header.
_MARK = re.compile(r"^(?:<\s*[0-9]+|\.\.)$")


def _is_header_row(cells: Sequence[object], patterns: Sequence[str]) -> bool:
    """A row of text headers naming a count, or of two or more periods (a wide table by year).
    A row holding a suppression mark is data (a row of category names whose counts are all
    hidden, e.g. ``admissions | <5``, would otherwise start a new table and hide the rows below
    it from the count check)."""
    filled = [c for c in cells if c is not None and str(c).strip()]
    if not filled or any(_MARK.match(str(c).strip()) for c in filled):
        return False
    periods = [c for c in filled if _PERIOD_HEADER.match(_cell_text(c).strip())]
    texts = [c for c in filled if isinstance(c, str)]
    if len(texts) + len(periods) < len(filled):
        return False
    return any(is_count_column(t, patterns) for t in texts) or len(periods) >= 2


def _scan_sheet(ws: object, sc: _Scanner, index: int) -> None:
    """One worksheet: a header row (see :func:`_is_header_row`) starts a table (several may
    follow each other on one sheet); identifiers and prose counts are looked for in every cell."""
    title = str(ws.title)  # type: ignore[attr-defined]
    where = f"sheet {_redact(title, sc.check)!r}"
    if _count_identifiers(title, sc.check):
        sc._add("personnummer", f"sheet {index + 1}", "sheet name", [index + 1], "sheets")
    tables: list[tuple[list[object], list[list[object]], list[int]]] = []
    loose: list[int] = []
    loose_counts: list[int] = []
    for i, row in enumerate(ws.iter_rows(values_only=True), start=1):  # type: ignore[attr-defined]
        cells = list(row)
        if _is_header_row(cells, sc.patterns):
            tables.append((cells, [], []))
        elif tables:
            tables[-1][1].append(cells)
            tables[-1][2].append(i)
        else:
            if any(_count_identifiers(_cell_text(c), sc.check) for c in cells):
                loose.append(i)
            if any(
                isinstance(c, str) and _text_counts(c, sc.min_count, sc.allow_zero) for c in cells
            ):
                loose_counts.append(i)
    for header, block, numbers in tables:
        sc.grid(where, header, block, row_numbers=numbers, row_kind="Excel rows")
    if not tables:
        sc.scan.scanned.append(f"{where}: no count header (identifiers and prose counts only)")
    sc._add("personnummer", where, None, loose, "Excel rows")
    sc._add("small_count", where, None, loose_counts, "Excel rows")


# Parts of an .xlsx package besides the cells, by what a reader of the workbook sees of them.
_XLSX_PARTS = (
    ("docProps/", "document properties"),
    ("xl/comments", "cell comments"),
    ("xl/threadedComments/", "cell comments"),
    ("xl/persons/", "comment authors"),
    ("xl/workbook.xml", "workbook (sheet and range names)"),
    ("xl/drawings/", "drawings"),
    ("xl/charts/", "charts"),
    ("xl/tables/", "table definitions"),
    ("xl/pivot", "pivot tables"),
    ("customXml/", "custom XML"),
)
_XML_TEXT = re.compile(r">([^<]+)<|=\"([^\"]*)\"")


def _scan_xlsx_parts(path: Path, sc: _Scanner) -> None:
    """Identifiers in the workbook's properties, comments, sheet names, charts ...; prose counts
    in comments (the cells themselves are read through openpyxl)."""
    import html as html_module
    import zipfile

    with zipfile.ZipFile(path) as z:
        for name in sorted(z.namelist()):
            what = next((w for prefix, w in _XLSX_PARTS if name.startswith(prefix)), None)
            if what is None or not name.endswith((".xml", ".rels")) or name.endswith(".rels"):
                continue
            raw = _decode(z.read(name))
            pieces = [
                html_module.unescape(m.group(1) or m.group(2) or "")
                for m in _XML_TEXT.finditer(raw)
            ]
            text = "\n".join(p for p in pieces if p.strip())
            n_ids = _count_identifiers(text, sc.check)
            if n_ids:
                sc.scan.findings.append(
                    Finding(
                        sc.scan.file, "personnummer", what, None, n_ids, (), "lines", sc.min_count
                    )
                )
            if what == "cell comments":
                found = _text_counts(text, sc.min_count, sc.allow_zero)
                sc._add("small_count", what, None, found, "comment lines")
    sc.scan.scanned.append("workbook parts: properties, comments, names, charts")


def _scan_formulas(path: Path, sc: _Scanner) -> None:
    """Formula cells without a cached value: the number a reader's Excel will compute cannot be
    checked (openpyxl and pandas write formulas without values)."""
    import openpyxl

    wf = openpyxl.load_workbook(path, read_only=True, data_only=False)
    wv = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        for ws_f, ws_v in zip(wf.worksheets, wv.worksheets, strict=True):
            rows: list[int] = []
            pairs = zip(
                ws_f.iter_rows(values_only=True), ws_v.iter_rows(values_only=True), strict=False
            )
            for i, (rf, rv) in enumerate(pairs, start=1):
                if any(
                    isinstance(f, str) and f.startswith("=") and (j >= len(rv) or rv[j] is None)
                    for j, f in enumerate(rf)
                ):
                    rows.append(i)
            where = f"sheet {_redact(ws_f.title, sc.check)!r}"
            sc._add("formula", where, None, rows, "Excel rows")
    finally:
        wf.close()
        wv.close()


def _scan_excel(path: Path, sc: _Scanner) -> None:
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        for k, ws in enumerate(wb.worksheets):
            _scan_sheet(ws, sc, k)
    finally:
        wb.close()
    _scan_formulas(path, sc)
    _scan_xlsx_parts(path, sc)


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
        # prose outside tables, one entry per block (paragraph, heading, list item ...)
        self.prose: list[tuple[int, str]] = []
        self._buffer: list[str] = []
        self._buffer_line = 0
        self._hidden = 0  # inside <script>/<style>: code, not prose

    def _flush(self) -> None:
        text = " ".join("".join(self._buffer).split())
        if text:
            self.prose.append((self._buffer_line, text))
        self._buffer = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for _, val in attrs:
            if val and not val.startswith("data:") and _count_identifiers(val, self.check):
                self.loose_lines.append(self.getpos()[0])
        if tag in _HTML_BLOCKS:
            self._flush()
        if tag in ("script", "style"):
            self._hidden += 1
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
        if tag in _HTML_BLOCKS:
            self._flush()
        if tag in ("script", "style"):
            self._hidden = max(0, self._hidden - 1)
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
            return
        if _count_identifiers(data, self.check):
            self.loose_lines.append(self.getpos()[0])
        if not self._hidden:
            if not self._buffer:
                self._buffer_line = self.getpos()[0]
            self._buffer.append(data)

    def close(self) -> None:
        super().close()
        self._flush()


_HTML_BLOCKS = frozenset(
    "p div li ul ol h1 h2 h3 h4 h5 h6 br hr tr table caption section article header footer "
    "blockquote pre figcaption title dt dd".split()
)


def _scan_html(text: str, sc: _Scanner, where: str) -> None:
    p = _HTMLTables(sc.check)
    p.feed(text)
    p.close()
    sc._add("personnummer", f"{where}text".strip(), None, sorted(set(p.loose_lines)), "lines")
    prose = sorted({line for line, t in p.prose if _text_counts(t, sc.min_count, sc.allow_zero)})
    sc._add("small_count", f"{where}text".strip(), None, prose, "lines")
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


def _joined(val: object) -> str:
    if isinstance(val, list):
        return "".join(map(str, val))
    return val if isinstance(val, str) else json.dumps(val)


def _scan_notebook(path: Path, sc: _Scanner) -> None:
    nb = json.loads(_decode(path.read_bytes()))
    cells = nb.get("cells", [])
    n_out = 0
    sc.text("notebook metadata", json.dumps(nb.get("metadata", {}), ensure_ascii=False, indent=1))
    for i, cell in enumerate(cells):
        src = _joined(cell.get("source", ""))
        # prose counts in markdown cells; code is only searched for identifiers
        sc.text(f"cell {i} source", src, counts=cell.get("cell_type") == "markdown")
        if cell.get("metadata"):
            sc.text(
                f"cell {i} metadata", json.dumps(cell["metadata"], ensure_ascii=False, indent=1)
            )
        for j, out in enumerate(cell.get("outputs", []) or []):
            n_out += 1
            where = f"cell {i} output {j} "
            data = out.get("data") or {}
            if "text" in out:  # stream
                t = _joined(out["text"])
                sc.text(f"{where}stream", t, counts=True)
                _scan_plain_table(t, sc, where)
            if "traceback" in out:
                sc.text(f"{where}traceback", "\n".join(out.get("traceback") or []))
            if out.get("metadata"):
                sc.text(f"{where}metadata", json.dumps(out["metadata"], ensure_ascii=False))
            for mime, val in data.items():
                if mime.startswith("image/") and mime != "image/svg+xml":
                    continue
                t = _joined(val)
                if mime == "text/html":
                    _scan_html(t, sc, f"{where}text/html ")
                elif mime == "image/svg+xml":
                    _scan_svg_text(t, sc, f"{where}{mime} ")
                else:
                    sc.text(f"{where}{mime}", t, counts=mime.startswith("text/"))
                    if mime == "text/plain" and "text/html" not in data:
                        _scan_plain_table(t, sc, where)
    sc.scan.scanned.insert(0, f"{len(cells)} cells, {n_out} outputs")


def _scan_parquet(path: Path, sc: _Scanner) -> None:
    import pyarrow.parquet as pq

    df = pd.read_parquet(path)
    sc.grid("", list(map(str, df.columns)), df.astype(object).to_numpy().tolist())
    meta = pq.read_schema(path).metadata or {}
    text = "\n".join(
        (k.decode("utf-8", "replace") + " " + v.decode("utf-8", "replace")) for k, v in meta.items()
    )
    sc.text("file metadata", text)


# ---------------------------------------------------------------------------------------------
# figures and documents: PNG metadata, PDF text, SVG text and the values drawn in an SVG
# ---------------------------------------------------------------------------------------------


def _png_text(raw: bytes) -> str:
    """The text chunks of a PNG (tEXt, zTXt, iTXt): title, author, description, software ..."""
    import struct
    import zlib

    if not raw.startswith(b"\x89PNG\r\n\x1a\n"):
        raise ValueError("not a PNG file")
    out, pos = [], 8
    while pos + 8 <= len(raw):
        (length,) = struct.unpack(">I", raw[pos : pos + 4])
        kind, body = raw[pos + 4 : pos + 8], raw[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"tEXt":
            key, _, value = body.partition(b"\0")
            out.append(f"{key.decode('latin-1')}: {value.decode('latin-1')}")
        elif kind == b"zTXt":
            key, _, rest = body.partition(b"\0")
            out.append(f"{key.decode('latin-1')}: {zlib.decompress(rest[1:]).decode('latin-1')}")
        elif kind == b"iTXt":
            key, _, rest = body.partition(b"\0")
            compressed, rest = rest[0], rest[2:]
            _lang, _, rest = rest.partition(b"\0")
            _tkey, _, value = rest.partition(b"\0")
            value = zlib.decompress(value) if compressed else value
            out.append(f"{key.decode('latin-1')}: {value.decode('utf-8', 'replace')}")
        elif kind == b"IEND":
            break
    return "\n".join(out)


_PDF_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.S)
_PDF_TEXT_BLOCK = re.compile(rb"BT(.*?)ET", re.S)
_PDF_STRING = re.compile(rb"\((?:\\.|[^\\()])*\)|<[0-9A-Fa-f\s]+>")


def _pdf_string(token: bytes) -> str:
    if token.startswith(b"<"):
        data = bytes.fromhex(re.sub(rb"\s", b"", token[1:-1]).decode())
    else:
        body = token[1:-1]
        body = re.sub(rb"\\([0-7]{1,3})", lambda m: bytes([int(m.group(1), 8) & 255]), body)
        body = re.sub(
            rb"\\(.)",
            lambda m: {b"n": b"\n", b"r": b"\r", b"t": b"\t"}.get(m.group(1), m.group(1)),
            body,
        )
        data = body
    if data.startswith(b"\xfe\xff"):
        return data[2:].decode("utf-16-be", "replace")
    return data.decode("latin-1")


def _pdf_text(raw: bytes) -> str:
    """Text of a PDF without a PDF library: the document information and every text block of the
    (Flate-compressed or plain) content streams, one line per block. Text drawn with fonts that
    use their own glyph codes (subset CID fonts) does not come out readable."""
    import zlib

    chunks = [raw]
    for m in _PDF_STREAM.finditer(raw):
        try:
            chunks.append(zlib.decompress(m.group(1)))
        except zlib.error:
            chunks.append(m.group(1))
    lines = []
    # document information (/Title (..) /Author (..)) and other strings outside text blocks
    info = _PDF_STREAM.sub(b"", raw)
    lines += [_pdf_string(t) for t in _PDF_STRING.findall(info) if t.startswith(b"(")]
    for chunk in chunks:
        for block in _PDF_TEXT_BLOCK.finditer(chunk):
            lines.append("".join(_pdf_string(t) for t in _PDF_STRING.findall(block.group(1))))
    return "\n".join(line for line in lines if line.strip())


_SVG_NUMBER = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_COUNT_AXIS = re.compile(r"\b(?:antal|number of|count|counts|frequency|frekvens)\b", re.I)


def _axis_number(label: str) -> float:
    t = label.strip().replace("\u2212", "-")
    for ch in (" ", "\u00a0", "\u202f", "\u2009"):
        t = t.replace(ch, "")
    if re.fullmatch(r"-?[0-9]{1,3}(?:,[0-9]{3})+", t):
        t = t.replace(",", "")
    return _number(t)


def _is_count_axis(label: str, patterns: Sequence[str]) -> bool:
    low = label.casefold()
    words = set(re.split(r"[^0-9a-zåäöéü%]+", low))
    if words & (_RATE_WORDS | {"%"}) or "%" in low:
        return False
    return is_count_column(label, patterns) or bool(_COUNT_AXIS.search(label))


def _svg_tag(el: object) -> str:
    return str(el.tag).rsplit("}", 1)[-1]  # type: ignore[attr-defined]


def _svg_texts(el: object) -> list[str]:
    return ["".join(t.itertext()) for t in el.iter() if _svg_tag(t) == "text"]  # type: ignore[attr-defined]


def _path_points(d: str) -> list[tuple[float, float]]:
    nums = [float(x) for x in _SVG_NUMBER.findall(re.sub(r"[A-Za-z]", " ", d))]
    return list(zip(nums[0::2], nums[1::2], strict=False))


def _axis_scale(axis: object, tick_prefix: str, coord: int) -> tuple[float, float] | None:
    """Linear map pixel -> value from the tick labels of one matplotlib axis (None if not linear
    or not readable)."""
    pairs = []
    for g in axis.iter():  # type: ignore[attr-defined]
        if _svg_tag(g) != "g" or not str(g.get("id", "")).startswith(tick_prefix):
            continue
        texts = _svg_texts(g)
        value = _axis_number(texts[0]) if texts else np.nan
        pos = None
        for el in g.iter():
            if _svg_tag(el) == "use" and el.get("x") is not None:
                pos = float(el.get("y" if coord else "x"))
                break
            if _svg_tag(el) == "path" and el.get("d"):
                pts = _path_points(el.get("d"))
                if pts:
                    pos = pts[0][coord]
                    break
        if pos is not None and np.isfinite(value):
            pairs.append((pos, value))
    if len({p for p, _ in pairs}) < 2:
        return None
    px, val = np.array(pairs).T
    slope, intercept = np.polyfit(px, val, 1)
    if np.max(np.abs(slope * px + intercept - val)) > 1e-6 * max(1.0, np.ptp(val)):
        return None  # logarithmic or categorical axis
    return float(slope), float(intercept)


def _svg_drawn_values(root: object, patterns: Sequence[str]) -> tuple[list[float], int]:
    """Values drawn on count axes of a matplotlib SVG (bar lengths, line and marker positions,
    value labels), read back through the axis ticks; and the number of count axes found."""
    values: list[float] = []
    n_axes = 0
    for axes in root.iter():  # type: ignore[attr-defined]
        if _svg_tag(axes) != "g" or not str(axes.get("id", "")).startswith("axes_"):
            continue
        children = [c for c in axes if _svg_tag(c) == "g"]
        axis_groups = {
            str(c.get("id")): c
            for c in children
            if str(c.get("id", "")).startswith("matplotlib.axis_")
        }
        for name, prefix, coord in (
            ("matplotlib.axis_2", "ytick_", 1),
            ("matplotlib.axis_1", "xtick_", 0),
        ):
            axis = axis_groups.get(name)
            if axis is None:
                continue
            label_groups = [
                c
                for c in axis
                if _svg_tag(c) == "g" and not str(c.get("id", "")).startswith(("ytick_", "xtick_"))
            ]
            label = " ".join(t for g in label_groups for t in _svg_texts(g))
            if not label or not _is_count_axis(label, patterns):
                continue
            scale = _axis_scale(axis, prefix, coord)
            if scale is None:
                continue
            n_axes += 1
            slope, intercept = scale
            patches = [c for c in children if str(c.get("id", "")).startswith("patch_")][1:]
            for g in children:
                gid = str(g.get("id", ""))
                if gid.startswith("line2d_"):
                    for el in g.iter():
                        if _svg_tag(el) == "path" and el.get("d") and el.get("id") is None:
                            values += [
                                slope * p[coord] + intercept for p in _path_points(el.get("d"))
                            ]
                        elif _svg_tag(el) == "use" and el.get("x") is not None:
                            values.append(slope * float(el.get("y" if coord else "x")) + intercept)
                elif g in patches:
                    for el in g.iter():
                        if _svg_tag(el) == "path" and el.get("d", "").rstrip().endswith("z"):
                            pts = _path_points(el.get("d"))
                            ends = sorted({round(p[coord], 6) for p in pts})
                            if len(pts) in (4, 5) and len(ends) == 2:
                                values.append(abs(slope * (ends[1] - ends[0])))
                elif gid.startswith("text_"):
                    values += [_axis_number(t) for t in _svg_texts(g)]
    return [v for v in values if np.isfinite(v)], n_axes


def _scan_svg_text(text: str, sc: _Scanner, where: str = "", path: Path | None = None) -> None:
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(text.encode("utf-8"))
    except ET.ParseError:
        root = None
    texts = _svg_texts(root) if root is not None else []
    sc.text(f"{where}text".strip(), text)
    sc.text(f"{where}labels".strip(), "\n".join(texts), counts=True)
    if root is None:
        return
    values, n_axes = _svg_drawn_values(root, sc.patterns)
    if path is not None and not texts:
        # text drawn as glyph outlines: neither labels nor ticks can be read back
        _require_data_file(path, sc, (".csv", ".tsv", ".xlsx", ".parquet"))
    small = [
        i
        for i, v in enumerate(values)
        if 0.5 <= v < sc.min_count - 0.5 or (not sc.allow_zero and abs(v) < 0.5)
    ]
    sc._add("small_count", f"{where}drawn values".strip(), None, small, "drawn elements")
    sc.scan.scanned.append(
        f"{n_axes} count axis/axes read back, {len(values)} drawn values"
        if n_axes
        else "no count axis (labels and identifiers only)"
    )


_FIGURE_DATA = (".csv", ".tsv", ".svg", ".xlsx", ".parquet")


def _scan_image(path: Path, sc: _Scanner) -> None:
    """A raster figure: its metadata text, and its values through the data file beside it (the
    pixels themselves cannot be read back)."""
    if path.suffix.lower() == ".png":
        sc.text("PNG metadata", _png_text(path.read_bytes()), counts=True)
    _require_data_file(path, sc, _FIGURE_DATA)


def _require_data_file(path: Path, sc: _Scanner, suffixes: Sequence[str]) -> None:
    """A figure whose values cannot be read back passes only with its data file beside it (the
    data file is scanned in its own right)."""
    companions = [path.with_suffix(s) for s in suffixes if path.with_suffix(s).is_file()]
    if companions:
        sc.scan.scanned.append(f"values checked through {companions[0].name}")
    else:
        sc.scan.findings.append(
            Finding(sc.scan.file, "figure_without_data", "image", None, 1, (), "", sc.min_count)
        )


_KINDS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".xlsx": "excel",
    ".xlsm": "excel",
    ".html": "html",
    ".htm": "html",
    ".ipynb": "notebook",
    ".parquet": "parquet",
    ".svg": "svg",
    ".png": "image",
    ".jpg": "image",
    ".jpeg": "image",
    ".gif": "image",
    ".webp": "image",
    ".tif": "image",
    ".tiff": "image",
    ".pdf": "pdf",
    ".txt": "prose",
    ".md": "prose",
    ".rst": "prose",
    ".tex": "prose",
    ".log": "prose",
    ".json": "text",
    ".yaml": "text",
    ".yml": "text",
    ".xml": "text",
}


def _scan_file(path: Path, kind: str, sc: _Scanner) -> None:
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
    elif kind == "svg":
        _scan_svg_text(_decode(path.read_bytes()), sc, path=path)
    elif kind == "image":
        _scan_image(path, sc)
    elif kind == "pdf":
        sc.text("PDF text", _pdf_text(path.read_bytes()), counts=True)
        sc.scan.scanned.append("PDF text and document information")
    elif kind in ("text", "prose"):
        sc.text("text", _decode(path.read_bytes()), counts=kind == "prose")
        sc.scan.scanned.append(
            "text (identifiers and prose counts)" if kind == "prose" else "text (identifiers only)"
        )
    else:
        sc.scan.scanned.append(f"not scanned ({path.suffix or 'no extension'})")


def check_outputs(
    directory: str | Path,
    min_count: int = 5,
    *,
    count_patterns: Sequence[str] = DEFAULT_COUNT_PATTERNS,
    allow_zero: bool = True,
    raise_on_failure: bool = True,
) -> DisclosureReport:
    """Scan written outputs for small counts and personal identity numbers.

    Every file under ``directory`` (recursively, hidden folders included) is read by type, and
    every file and folder *name* is checked for identifiers:

    * CSV/TSV: the separator (``;`` ``,`` tab ``|``) that gives the most rows of one width, so a
      caption line cannot mislead it; decimal comma or point; space/NBSP thousands; UTF-8 or
      CP1252. Caption and footnote lines are read as prose.
    * Excel ``.xlsx``: every sheet (a row of text headers naming a count, or of two or more
      periods such as ``2019 2020``, starts a table); formula cells without a cached value;
      sheet names, document properties, comments, defined names and charts (the XML parts).
    * HTML: every ``<table>``, all attributes, and the prose outside tables.
    * Executed notebooks: notebook and cell metadata, cell sources (identifiers; prose counts in
      Markdown cells), stream, ``text/*`` and SVG outputs, printed DataFrames (heuristic).
    * Parquet: the table and the file's key-value metadata.
    * SVG: all text; for a matplotlib figure whose axis label names a count ("Antal ...",
      "Number of ..."), the drawn values (bar lengths, line vertices, markers, value labels) read
      back through the tick labels. PNG: the text chunks; PDF: the document information and the
      text of the content streams. A raster figure (and an SVG with text drawn as outlines)
      passes only with its data file (same name, ``.csv`` ``.svg`` ``.xlsx`` ...) beside it.
    * Other text files: ``.md .txt .rst .tex .log`` (identifiers and prose counts), ``.json
      .yaml .xml`` (identifiers).

    Rules: a value ``v`` with ``0 < v < min_count`` (or ``v == 0`` when not ``allow_zero``) fails
    in a count column (recognised by header name: :func:`is_count_column`, ``count_patterns``;
    or a period header over whole numbers), in a drawn count axis, or written in prose or in a
    text cell ("3 personer", "n = 3", "3 (7,5 %)", "3 av 40 patienter", "Antal dödsfall: 3";
    "färre än 5" is a threshold, not a count). A share, percentage or rate beside a count fails
    when, times the largest count of its row (its denominator) and allowing for the rounding
    shown, it can only be a numerator of 1 .. ``min_count - 1``. Any valid personnummer or
    samordningsnummer (10 or 12 digits, optional ``-``, ``+`` or space, checked by
    :func:`naravard_analysis.data.identifiers.is_personnummer`) anywhere fails. Suppressed
    markers (``<5``, ``..``, empty) are not numbers and pass. What the scan cannot see (counts
    recoverable by differencing across files, values drawn in raster images, numbers written
    in words) is listed in the README's privacy section.

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
        positions and how many cells) -- never the value of an identifier: identifiers in
        file, sheet or column names are shown as ``<personnummer>``.

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
        raise ParameterError(f"check_outputs: {_redact(root)!r} does not exist")
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    check = _identity_checker()
    report = DisclosureReport(_redact(root, check), min_count)
    for path in files:
        rel = path.name if root.is_file() else path.relative_to(root).as_posix()
        kind = _KINDS.get(path.suffix.lower(), "skipped")
        scan = FileScan(_redact(rel, check), kind)
        report.files.append(scan)
        sc = _Scanner(scan, min_count, count_patterns, allow_zero, check)
        # a file or folder named after a person is published by its name alone
        sc.text("file name", rel)
        try:
            _scan_file(path, kind, sc)
        except Exception as err:  # a file we cannot read cannot be vouched for
            scan.findings.append(
                Finding(scan.file, "unreadable", "", None, 1, (), "rows", min_count)
            )
            scan.scanned.append(f"could not be read: {type(err).__name__}")
    if raise_on_failure and not report.ok:
        shown = report.findings[:20]
        msg = (
            f"disclosure check of {report.directory} failed (min_count={min_count}): {len(report.findings)} "
            "problem(s):\n" + "\n".join(f"  - {f.describe()}" for f in shown)
        )
        if len(report.findings) > len(shown):
            msg += f"\n  ... and {len(report.findings) - len(shown)} more (see err.report)"
        err = DisclosureError(msg)
        err.report = report  # type: ignore[attr-defined]
        raise err
    return report
