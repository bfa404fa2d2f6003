"""The output-checking record follows ACRO's ``results.json`` layout and covers every output.

The layout is taken from ACRO 1.0.1 (AI-SDC/ACRO, ``acro/record.py``): ``Records.finalise_json``
writes ``{"version", "results": {uid: {uid, status, type, properties, files: [{name, sdc}],
outcome, command, summary, timestamp, comments, exception, fair}}}``; ``Record`` documents the
statuses ``{"pass", "fail", "review"}``; ``write_checksums`` writes ``checksums/<name>.txt`` with
the file's sha256 hex digest.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from naravard_analysis.report.acro import write_acro_record

ACRO_FIELDS = {
    "uid", "status", "type", "properties", "files", "outcome", "command", "summary", "timestamp",
    "comments", "exception", "fair",
}
ACRO_STATUSES = {"pass", "fail", "review"}
ACRO_TYPES = {"table", "regression", "histogram", "pie chart", "survival plot", "custom"}


def validate_record(folder: Path) -> dict:
    """Check ``folder/results.json`` against ACRO's layout; return its entries by file name."""
    record = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    assert set(record) == {"version", "results"} and isinstance(record["version"], str)
    by_file = {}
    for uid, entry in record["results"].items():
        assert set(entry) == ACRO_FIELDS, uid
        assert entry["uid"] == uid
        assert entry["status"] in ACRO_STATUSES and entry["type"] in ACRO_TYPES
        assert isinstance(entry["comments"], list) and isinstance(entry["exception"], str)
        assert isinstance(entry["command"], str) and entry["command"]
        assert isinstance(entry["outcome"], dict) and isinstance(entry["fair"], dict)
        assert entry["summary"].startswith(entry["status"])
        (file,) = entry["files"]
        assert set(file) == {"name", "sdc"} and set(file["sdc"]) == {"summary", "cells"}
        failed = sum(file["sdc"]["summary"].values())
        assert (entry["status"] == "fail") == (failed > 0), uid
        by_file[file["name"]] = entry
    return by_file


def test_every_output_has_an_entry_with_its_sha256(regional_report_run):
    _, out = regional_report_run
    region = out / "14"
    entries = validate_record(region)
    written = {
        p.relative_to(region).as_posix()
        for p in region.rglob("*")
        if p.is_file() and p.name != "results.json" and "checksums" not in p.parts
    }
    assert set(entries) == written
    for name, entry in entries.items():
        sha = hashlib.sha256((region / name).read_bytes()).hexdigest()
        assert entry["properties"]["sha256"] == sha, name
        assert (region / "checksums" / f"{name}.txt").read_text() == sha, name
    # the report passed its scan: tables pass, figures and text go to the checker for review
    assert entries["tables.xlsx"]["status"] == "pass"
    assert entries["figures/its.csv"]["status"] == "pass"
    assert entries["figures/its.png"]["status"] == "review"
    assert entries["report.html"]["status"] == "review"
    assert entries["figures/its.png"]["command"].startswith("naravard report --regions 14")


def test_a_finding_fails_its_output_and_names_no_identifier(tmp_path):
    pd.DataFrame({"kommun": ["A", "B"], "antal": [40, 3]}).to_csv(tmp_path / "t.csv", index=False)
    pd.DataFrame({"kommun": ["A"], "antal": [40]}).to_csv(tmp_path / "811218-9876.csv", index=False)
    (tmp_path / "notes.md").write_text("Tabellerna avser 2020.\n")
    write_acro_record(tmp_path, command="naravard check OUT")
    entries = validate_record(tmp_path)
    assert entries["t.csv"]["status"] == "fail"
    assert entries["t.csv"]["files"][0]["sdc"]["summary"]["threshold"] == 1
    assert entries["t.csv"]["files"][0]["sdc"]["cells"]["threshold"] == [[1, -1]]
    assert entries["<personnummer>.csv"]["status"] == "fail"
    assert entries["notes.md"]["status"] == "review"
    assert "811218" not in (tmp_path / "results.json").read_text()


def test_naravard_check_record_writes_the_record_and_fails_on_findings(tmp_path, capsys):
    from naravard_analysis.cli import main

    pd.DataFrame({"kommun": ["A", "B"], "antal": [40, 50]}).to_csv(tmp_path / "t.csv", index=False)
    assert main(["check", str(tmp_path), "--record"]) == 0
    assert validate_record(tmp_path)["t.csv"]["status"] == "pass"
    pd.DataFrame({"kommun": ["A", "B"], "antal": [40, 2]}).to_csv(tmp_path / "u.csv", index=False)
    assert main(["check", str(tmp_path), "--record"]) == 1
    entries = validate_record(tmp_path)
    assert entries["u.csv"]["status"] == "fail" and entries["t.csv"]["status"] == "pass"
    assert "results.json" not in entries  # the record does not list itself
    assert "Output-checking record (ACRO layout)" in capsys.readouterr().out
