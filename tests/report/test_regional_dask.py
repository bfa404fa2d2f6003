"""The regional report's per-person flags on a Dask cluster give the same published tables, and the
`naravard report` cluster flags reach the notebook as its `cluster` parameter."""

from __future__ import annotations

import dask
import pandas as pd
import pytest

from naravard_analysis.cli import build_parser
from naravard_analysis.data import RegisterData
from naravard_analysis.report import regional as rr
from naravard_analysis.report.pipeline import notebook_parameters


def _params(tmp_path, engine_dir: str) -> dict:
    return rr.validate_report_parameters(
        region_code="14", municipality_codes="", start_year=2016, end_year=2023, baseline_year=2019,
        interruption="2019-01-01", covid_start="2020-03-01", covid_end="2021-12-01", language="en",
        min_count=5, data_dir=".", output_dir=str(tmp_path / engine_dir))


@pytest.mark.parametrize("section", ["avoidable", "readmission"])
def test_flags_on_dask_give_the_same_section_table(demo_dir, tmp_path, section):
    data = RegisterData.from_dir(demo_dir)
    on_pandas = rr.RegionalReport(data, **_params(tmp_path, "p")).section(section).table
    with dask.config.set(scheduler="sync"):
        report = rr.RegionalReport(data, engine="dask", **_params(tmp_path, "d"))
        on_dask = report.section(section).table
    pd.testing.assert_frame_equal(on_dask, on_pandas)


def test_cli_cluster_flags(monkeypatch, tmp_path):
    seen = {}

    def fake_run_reports(regions, **kw):
        seen.update(kw["parameters"])
        return pd.DataFrame({"region": ["14"], "status": ["ok"], "html": [None]})

    monkeypatch.setattr("naravard_analysis.report.batch.run_reports", fake_run_reports)
    args = build_parser().parse_args(["report", "--regions", "14", "--data", str(tmp_path), "--out",
                                      str(tmp_path / "o"), "--local-cluster", "2"])
    assert args.func(args) == 0 and seen["cluster"] == "local:2"
    args = build_parser().parse_args(["report", "--regions", "14", "--data", str(tmp_path), "--out",
                                      str(tmp_path / "o"), "--cluster", "tcp://10.0.0.1:8786"])
    args.func(args)
    assert seen["cluster"] == "tcp://10.0.0.1:8786"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["report", "--regions", "14", "--data", ".", "--out", ".",
                                   "--cluster", "tcp://a:1", "--local-cluster", "2"])
    declared = notebook_parameters("notebooks/regional_report.ipynb")
    assert declared["cluster"]["default"] in ('""', "")
