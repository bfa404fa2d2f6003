"""The Papermill runner refuses bad parameters before a kernel starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from naravard_analysis.cli import main
from naravard_analysis.errors import ParameterError
from naravard_analysis.report.pipeline import (
    coerce_cli_parameters,
    notebook_parameters,
    run_notebook,
)

OVERVIEW = Path(__file__).resolve().parents[2] / "notebooks" / "00_overview.ipynb"


def test_declared_parameters():
    assert list(notebook_parameters(OVERVIEW)) == [
        "region_code", "data_dir", "output_dir", "language", "min_count",
    ]


def test_cli_values_follow_the_type_of_the_default():
    got = coerce_cli_parameters(OVERVIEW, {"region_code": "01", "min_count": "3"})
    # papermill's -p would inject region_code = 1 (DEFINITIONS.md 9.2); the text default keeps "01".
    assert got == {"region_code": "01", "min_count": 3}


def test_misspelled_parameter_fails_before_kernel_start():
    with pytest.raises(ParameterError, match=r"unknown parameter\(s\) 'regoin' for 00_overview.ipynb"):
        coerce_cli_parameters(OVERVIEW, {"regoin": "01"})


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"region_code": 14}, "got the integer 14"),
        ({"region_code": "1"}, "did you mean '01'"),
        ({"region_code": "0114"}, "looks like a municipality code"),
        ({"language": "fi"}, "language must be 'sv' or 'en'"),
    ],
)
def test_run_notebook_validates_first(tmp_path, params, message):
    with pytest.raises(ParameterError, match=message):
        run_notebook(OVERVIEW, tmp_path / "out.ipynb", params)
    assert not (tmp_path / "out.ipynb").exists()  # no kernel ran, nothing written


def test_cli_reports_errors_in_one_line(capsys):
    code = main(["run", str(OVERVIEW), "-p", "region_code", "1"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("naravard run: error: region_code must be one of the 21 region codes")


def test_cli_help_lists_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("run", "params", "synth", "check"):
        assert f"    {command} " in out
