"""An output-checking record in ACRO's ``results.json`` layout, for human output checkers.

Trusted research environments release outputs after a person has checked them, often with the
SACRO tools (semi-automated checking of research outputs; IEEE Transactions on Privacy 2025,
doi:10.1109/TP.2025.3566052). ACRO (Preen et al., AI-SDC/ACRO, doi:10.5281/zenodo.18456450)
writes ``results.json`` -- one entry per output with its status (``pass``, ``fail`` or
``review``), the checks run and their results, the command that made it and comments -- and a
``checksums/`` folder with the sha256 of every file; SACRO-Viewer shows these to the checker, who
approves or rejects each output.
:func:`write_acro_record` writes that record for a folder of outputs from the automatic scan
(:func:`naravard_analysis.report.scan.check_outputs`). The scan is the first pass, not the last
word: outputs whose values it can only partly read (figures, prose, notebooks) are marked
``review``, never ``pass``.

Layout (ACRO 1.0.1, ``acro/record.py``: ``Records.finalise_json`` and ``write_checksums``)::

    {"version": "...", "results": {"<uid>": {
        "uid", "status", "type", "properties", "files": [{"name", "sdc"}], "outcome",
        "command", "summary", "timestamp", "comments", "exception", "fair"}}}

``sdc`` is ``{"summary": {check: n_cells}, "cells": {check: [[row, column], ...]}}``; our
column positions are not known for every file type and are written as -1. SACRO-Viewer
(AI-SDC/SACRO-Viewer, ``sacro/models.py``) requires ``version``, ``results`` and a ``name`` for
every file, resolves names relative to the record's folder (``figures/its.csv`` works) and checks
each file against ``checksums/<name>.txt``. ``naravard check DIR --record`` writes the record for
any folder.

Examples
--------
>>> import pathlib, tempfile
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "t.csv").write_text("kommun,antal\\nA,40\\n")
>>> record = write_acro_record(d, command="naravard check")
>>> entry = json.loads(record.read_text())["results"]["t.csv"]
>>> entry["status"], entry["type"], entry["files"][0]["name"]
('pass', 'table', 't.csv')
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from naravard_analysis import __version__
from naravard_analysis.data.bundle import sha256_file
from naravard_analysis.report.scan import DisclosureReport, FileScan, _redact, check_outputs

__all__ = ["ACRO_LAYOUT_VERSION", "CHECKS", "RECORD_NAME", "STATUSES", "write_acro_record"]

#: ACRO release whose ``results.json`` layout is followed.
ACRO_LAYOUT_VERSION = "1.0.1"
RECORD_NAME = "results.json"
CHECKSUM_DIR = "checksums"
STATUSES = ("pass", "fail", "review")
#: The scanner's rules, as ACRO check names (ACRO calls its small-count rule "threshold").
CHECKS = {
    "small_count": "threshold",
    "implied_count": "implied_count",
    "personnummer": "identifier",
    "formula": "uncomputed_formula",
    "figure_without_data": "figure_without_data",
    "unreadable": "unreadable",
}
#: ACRO's fields of one output entry, in its order.
FIELDS = (
    "uid",
    "status",
    "type",
    "properties",
    "files",
    "outcome",
    "command",
    "summary",
    "timestamp",
    "comments",
    "exception",
    "fair",
)
# File kinds whose every cell the scan reads: a clean scan is a pass. Everything else (figures,
# prose, notebooks, documents) is read in part and goes to the checker for review.
_FULLY_CHECKED = {"csv", "excel", "parquet"}
_TYPES = {"csv": "table", "excel": "table", "parquet": "table"}
_REVIEW_NOTES = {
    "svg": "Figure: drawn values are read back only on count axes of matplotlib figures; "
    "check that no point or bar shows a count below the threshold.",
    "image": "Raster figure: its pixels cannot be read; its values were checked through its "
    "data file. Check that the figure shows only what that file holds.",
    "pdf": "PDF: only text in standard fonts can be read; check figures and tables by eye.",
    "html": "Report text: tables and prose were scanned; check numbers written in words and "
    "differences between tables and figures.",
    "notebook": "Executed notebook: outputs were scanned; check printed values by eye.",
    "prose": "Text: prose counts are found by pattern; check numbers written in words.",
    "text": "Text file: searched for identifiers only.",
    "skipped": "Not a file type the scan reads: check it by eye.",
}


def _timestamp() -> str:
    """Now, or ``SOURCE_DATE_EPOCH`` when set (reproducible builds convention)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC).isoformat()
    return dt.datetime.now(tz=dt.UTC).isoformat()


def _uid(rel: str) -> str:
    return re.sub(r"[^0-9A-Za-z_.-]", "_", rel)


def _entry(scan: FileScan, sha256: str, command: str, timestamp: str) -> dict[str, Any]:
    summary: dict[str, int] = {check: 0 for check in CHECKS.values()}
    cells: dict[str, list[list[int]]] = {check: [] for check in CHECKS.values()}
    for f in scan.findings:
        check = CHECKS.get(f.rule, f.rule)
        summary[check] = summary.get(check, 0) + f.n_cells
        cells.setdefault(check, []).extend([[int(r), -1] for r in f.rows])
    if scan.findings:
        status = "fail"
    elif scan.kind in _FULLY_CHECKED:
        status = "pass"
    else:
        status = "review"
    failed = [c for c, n in summary.items() if n]
    text = (
        f"{status}; " + (f"failed: {', '.join(failed)}" if failed else "no automatic check failed")
    )
    comments = [f.describe() for f in scan.findings] + [f"Scanned: {s}" for s in scan.scanned]
    if status == "review":
        comments.append(_REVIEW_NOTES.get(scan.kind, _REVIEW_NOTES["skipped"]))
    return {
        "uid": _uid(scan.file),
        "status": status,
        "type": _TYPES.get(scan.kind, "custom"),
        "properties": {"file_kind": scan.kind, "sha256": sha256, "method": "check_outputs"},
        "files": [{"name": scan.file, "sdc": {"summary": summary, "cells": cells}}],
        "outcome": {},
        "command": command,
        "summary": text,
        "timestamp": timestamp,
        "comments": comments,
        "exception": "",
        "fair": {},
    }


def write_acro_record(
    directory: str | Path,
    *,
    command: str,
    report: DisclosureReport | None = None,
    min_count: int = 5,
    context: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``results.json`` and ``checksums/`` (ACRO layout) for every file in ``directory``.

    Parameters
    ----------
    directory
        A folder of outputs (e.g. one region's report).
    command
        The command that made the outputs (shown to the checker with every entry).
    report
        The scan of ``directory``; scanned now (without raising) when not given.
    min_count
        Threshold for that scan.
    context
        Extra fields for every entry's ``properties`` (region, package version ...).

    Returns
    -------
    Path
        The ``results.json`` written. Files listed: every file in ``directory`` except the
        record itself and ``checksums/``; each entry has the file's sha256 in ``properties`` and
        in ``checksums/<name>.txt``.
    """
    root = Path(directory)
    if report is None:
        report = check_outputs(root, min_count=min_count, raise_on_failure=False)
    scans = {s.file: s for s in report.files}
    timestamp = _timestamp()
    results: dict[str, Any] = {}
    checksums = root / CHECKSUM_DIR
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel == RECORD_NAME or rel.startswith(f"{CHECKSUM_DIR}/"):
            continue
        rel = _redact(rel)  # as the scan names it: never an identifier in the record
        scan = scans.get(rel) or FileScan(rel, "skipped", ["written after the scan"])
        sha = sha256_file(path)
        entry = _entry(scan, sha, command, timestamp)
        entry["properties"].update({"naravard_analysis": __version__, **dict(context or {})})
        results[entry["uid"]] = entry
        target = checksums / f"{rel}.txt"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(sha, encoding="utf-8")
    out = root / RECORD_NAME
    out.write_text(
        json.dumps({"version": ACRO_LAYOUT_VERSION, "results": results}, indent=4),
        encoding="utf-8",
    )
    return out
