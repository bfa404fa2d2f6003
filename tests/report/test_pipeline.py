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
    # papermill's -p would inject region_code = 1 (methods reference §9.2); the text default keeps "01".
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


def test_make_reproducible_removes_timings_ids_and_the_output_path(tmp_path):
    import json

    import nbformat

    from naravard_analysis.report.pipeline import make_reproducible

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(f'output_dir = "{tmp_path}/.14.partial"')
    cell.metadata = {"tags": ["injected-parameters"], "execution": {"iopub.status.busy": "2026"},
                     "papermill": {"duration": 0.1, "start_time": "t", "status": "completed"}}
    nb.cells = [cell]
    nb.metadata["papermill"] = {"start_time": "t", "end_time": "t", "duration": 1.0,
                                "input_path": "/srv/notebooks/r.ipynb", "output_path": "/srv/o.ipynb"}
    path = tmp_path / "r.ipynb"
    nbformat.write(nb, path)
    make_reproducible(path, paths={f"{tmp_path}/.14.partial": "."})
    got = json.loads(path.read_text())
    assert got["cells"][0]["id"] == "injected-parameters"
    assert "".join(got["cells"][0]["source"]) == 'output_dir = "."'
    assert got["cells"][0]["metadata"]["papermill"] == {"status": "completed"}
    assert "execution" not in got["cells"][0]["metadata"]
    assert got["metadata"]["papermill"] == {"input_path": "r.ipynb", "output_path": "o.ipynb"}
    assert str(tmp_path) not in path.read_text()
    nbformat.validate(nbformat.read(path, as_version=4))


def test_kernel_log_noise_is_filtered_and_other_lines_pass(tmp_path):
    import io
    import os

    from naravard_analysis.report.pipeline import _relay_stderr

    read_fd, write_fd = os.pipe()
    os.write(write_fd, (
        b"[IPKernelApp] WARNING | Kernel is running over TCP without encryption. All ...\n"
        b"[IPKernelApp] ERROR | KeyboardInterrupt caught in kernel\n"
        b"[IPKernelApp] ERROR | Exception in message handler\n"
    ))
    os.close(write_fd)
    sink = io.StringIO()
    _relay_stderr(read_fd, sink)
    assert sink.getvalue() == "[IPKernelApp] ERROR | Exception in message handler\n"


def test_cli_params_prints_the_type_of_each_default(capsys):
    assert main(["params", str(OVERVIEW)]) == 0
    out = capsys.readouterr().out
    assert 'region_code: str = "14"' in out and "min_count: int = 5" in out
    assert ": None =" not in out
