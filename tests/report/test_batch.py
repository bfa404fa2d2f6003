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
    # nothing tells where on the server the report was made
    assert str(out) not in html and str(out) not in (region / "regional_report.ipynb").read_text()
    assert "output_dir" not in manifest["parameters"]


def test_a_failing_region_does_not_stop_the_others(tmp_path, demo_dir):
    broken = tmp_path / "data" / "01"
    broken.mkdir(parents=True)
    (broken / "manifest.json").write_text("{not json")
    (tmp_path / "data" / "14").symlink_to(demo_dir, target_is_directory=True)
    summary = run_reports("01", data=tmp_path / "data", out=tmp_path / "out", progress=False)
    assert summary["status"].tolist() == ["failed"]
    assert "manifest is not valid JSON" in summary.loc[0, "error"]
    assert (tmp_path / "out" / "01" / "FAILED").is_file()


# ---------------------------------------------------------------------------------------------
# outputs appear all at once or not at all; identical runs give identical files
# ---------------------------------------------------------------------------------------------


def _files(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def _leftovers(out):
    return sorted(p.name for p in out.iterdir() if p.name.startswith("."))


def test_failed_rerun_leaves_only_a_failed_marker_and_identical_runs_equal_manifests(
    tmp_path, demo_dir, capfd
):
    from _tiny_report import tiny_report

    nb = tiny_report(tmp_path)
    one, two = tmp_path / "one", tmp_path / "two"

    def run(out, mode):
        return run_reports("14", data=demo_dir, out=out, notebook=nb, parameters={"mode": mode},
                           progress=False).loc[0]

    assert run(one, "stderr")["status"] == "ok"
    assert run(two, "stderr")["status"] == "ok"
    first = json.loads((one / "14" / "manifest.json").read_text())
    # the same run into another folder gives byte-identical outputs and an equal manifest
    assert first == json.loads((two / "14" / "manifest.json").read_text())
    assert "output_dir" not in first["parameters"] and "seconds" not in first
    for name in ("report.html", "tiny_report.ipynb"):
        text = (one / "14" / name).read_text(encoding="utf-8")
        assert str(one) not in text and ".partial" not in text
    # the manifest lists every published file; the checker's record comes after it
    listed = set(first["outputs"]) | {"manifest.json"}
    record = {f for f in _files(one / "14") if f == "results.json" or f.startswith("checksums/")}
    assert set(_files(one / "14")) == listed | record

    # the kernel's start/shutdown log noise is filtered; its real stderr is passed on
    err = capfd.readouterr().err
    assert "KeyboardInterrupt caught in kernel" not in err
    assert "without encryption" not in err
    assert "real kernel problem" in err

    failed = run(one, "fail")
    assert failed["status"] == "failed" and "planned failure" in failed["error"]
    # nothing that looks complete is left: no old manifest, report or figures
    assert _files(one / "14") == ["FAILED", "FAILED-notebook.ipynb"]
    marker = (one / "14" / "FAILED").read_text(encoding="utf-8")
    assert "FAILED" in marker and "RuntimeError: planned failure" in marker
    assert _leftovers(one) == []

    # a later success lists no stale marker and equals the first run
    assert run(one, "stderr")["status"] == "ok"
    assert "FAILED" not in _files(one / "14")
    assert json.loads((one / "14" / "manifest.json").read_text()) == first


def test_a_killed_run_leaves_a_failed_marker_and_no_partial_outputs(tmp_path, demo_dir):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from _tiny_report import tiny_report

    nb = tiny_report(tmp_path)
    out = tmp_path / "out"
    code = (
        "import sys; from naravard_analysis.report.batch import run_reports; "
        f"run_reports('14', data={str(demo_dir)!r}, out={str(out)!r}, notebook={str(nb)!r}, "
        "parameters={'mode': 'sleep'}, progress=False)"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path.cwd()), *sys.path])}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.PIPE)
    try:
        started = out / ".14.partial" / "started"
        deadline = time.monotonic() + 120
        while not started.exists():
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the notebook did not start"
            time.sleep(0.2)
        assert (out / ".14.partial" / "figures" / "bars.png").is_file()  # partly written
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    assert "FAILED" in _files(out / "14")
    assert not {"manifest.json", "report.html", "figures/bars.png"} & set(_files(out / "14"))
    assert "RunStopped: stopped by signal SIGTERM" in (out / "14" / "FAILED").read_text()
    assert _leftovers(out) == []


def test_out_under_a_regular_file_is_one_clear_error(tmp_path, demo_dir, capsys):
    from naravard_analysis.cli import main

    (tmp_path / "file").write_text("x")
    code = main(["report", "--regions", "14", "--data", str(demo_dir),
                 "--out", str(tmp_path / "file" / "reports")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("naravard report: error: --out ") and "is a file, not a folder" in err
    assert "Traceback" not in err


def test_report_parameters_are_typed_by_the_notebook_defaults(tmp_path, demo_dir, monkeypatch):
    import naravard_analysis.report.batch as batch
    from naravard_analysis.cli import main

    seen = {}

    def fake_run_reports(regions, **kwargs):
        seen.update(kwargs["parameters"])
        return pd.DataFrame({"region": ["14"], "status": ["ok"], "html": [""]})

    monkeypatch.setattr(batch, "run_reports", fake_run_reports)
    args = ["report", "--regions", "14", "--data", str(demo_dir), "--out", str(tmp_path)]
    assert main([*args, "-p", "start_year", "2017", "-p", "municipality_codes", "1438"]) == 0
    assert seen["start_year"] == 2017 and seen["municipality_codes"] == "1438"
    assert main([*args, "-p", "start_year", "20x7"]) == 2  # before any kernel starts


@pytest.mark.slow
def test_two_identical_regional_reports_have_equal_manifests(regional_report_run, demo_dir, tmp_path):
    _, out = regional_report_run
    summary = run_reports("14", data=demo_dir, out=tmp_path, jobs=1, progress=False)
    assert summary.loc[0, "status"] == "ok", summary.loc[0, "error"]
    first = json.loads((out / "14" / "manifest.json").read_text())
    again = json.loads((tmp_path / "14" / "manifest.json").read_text())
    assert first == again
