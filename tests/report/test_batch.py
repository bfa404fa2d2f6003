"""`naravard report`: the regional report per region, its outputs, and failure isolation."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from naravard_analysis.errors import ParameterError
from naravard_analysis.report.batch import parse_regions, run_reports


def test_parse_regions():
    assert parse_regions("01,03,14") == ["01", "03", "14"]
    assert len(parse_regions("all")) == 21
    with pytest.raises(ParameterError, match="did you mean '01'"):
        parse_regions("1,14")
    with pytest.raises(ParameterError, match=r"regions listed twice: \['14'\]"):
        parse_regions("14,14")


def test_parameters_are_checked_before_any_kernel(tmp_path, demo_dir):
    with pytest.raises(ParameterError, match=r"unknown parameter\(s\) 'langauge'"):
        run_reports("14", data=demo_dir, out=tmp_path, parameters={"langauge": "en"}, progress=False)
    with pytest.raises(ParameterError, match="no data for region\\(s\\) 01"):
        run_reports("01,14", data=demo_dir, out=tmp_path, progress=False)
    assert not any(tmp_path.iterdir())


def test_report_outputs(regional_report_run):
    summary, out = regional_report_run
    assert summary.loc[0, "status"] == "ok", summary.loc[0, "error"]
    region = out / "14"
    for name in ["report.html", "regional_report.ipynb", "tables.xlsx", "manifest.json"]:
        assert (region / name).is_file(), name
    for fig in ["continuity", "named_doctor", "avoidable", "readmission", "ed_visits", "its", "mobile_teams"]:
        for ext in ["png", "svg", "csv"]:
            assert (region / "figures" / f"{fig}.{ext}").is_file(), (fig, ext)
    manifest = json.loads((region / "manifest.json").read_text())
    assert manifest["parameters"]["region_code"] == "14"
    assert len(manifest["input_manifest_sha256"]) == 64
    assert set(manifest["outputs"]) >= {"report.html", "tables.xlsx", "figures/its.csv"}
    sheets = pd.ExcelFile(region / "tables.xlsx").sheet_names
    assert sheets[0] == "Om data" and "avoidable" in sheets
    html = (region / "report.html").read_text(encoding="utf-8")
    assert "Nära vård i Västra Götaland" in html
    assert "import " not in html  # no code cells in the published report


def test_a_failing_region_does_not_stop_the_others(tmp_path, demo_dir):
    broken = tmp_path / "data" / "01"
    broken.mkdir(parents=True)
    (broken / "manifest.json").write_text("{not json")
    (tmp_path / "data" / "14").symlink_to(demo_dir, target_is_directory=True)
    summary = run_reports("01", data=tmp_path / "data", out=tmp_path / "out", progress=False)
    assert summary["status"].tolist() == ["failed"]
    assert "manifest is not valid JSON" in summary.loc[0, "error"]
    assert (tmp_path / "out" / "01" / "error.txt").is_file()
