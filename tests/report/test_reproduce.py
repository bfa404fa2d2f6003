"""Tests of naravard_analysis.report.reproduce (``naravard reproduce papers/NAME``).

Two parts:

* the validation paper (``papers/validation``) is re-created from its notebook and every figure's data
  must be byte-identical to the recorded CSV (one real notebook run, about 20-50 s on the shared machine);
* the machinery on a tiny fake paper in ``tmp_path``: the notebook runner is replaced by a function that
  writes a chosen CSV into ``output_dir``, so each case takes milliseconds and the expected differences are
  known by construction (written out beside each assertion).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from naravard_analysis.cli import main
from naravard_analysis.errors import ParameterError
from naravard_analysis.report import pipeline
from naravard_analysis.report.reproduce import ReproductionError, load_figures, reproduce_paper

REPO = Path(__file__).resolve().parents[2]
VALIDATION = REPO / "papers" / "validation"


@pytest.mark.parametrize(
    "name", ["excess-deaths-2020", "mobile-teams-regions", "mobile-teams-regression-to-the-mean"]
)
def test_papers_reproduce_identically(tmp_path, name):
    paper = VALIDATION.parent / name
    result = reproduce_paper(paper, work_dir=tmp_path)
    assert result["status"].tolist() == ["identical"] * len(result), result.to_string()


# ------------------------------------------------------------------------------------------------
# The validation paper, for real
# ------------------------------------------------------------------------------------------------
def test_validation_paper_reproduces_identically(tmp_path):
    spec = load_figures(VALIDATION)
    ids = [f["id"] for f in spec["figures"]]
    # every figure has its recorded CSV and hash committed beside the paper
    for fig in spec["figures"]:
        recorded = VALIDATION / "recorded" / f"{fig['id']}.csv"
        assert hashlib.sha256(recorded.read_bytes()).hexdigest() == fig["sha256"], fig["id"]
    result = reproduce_paper(VALIDATION, work_dir=tmp_path)
    assert result["id"].tolist() == ids
    assert result["status"].tolist() == ["identical"] * len(ids), result.to_string()
    assert (result["max_abs_diff"] == 0).all()
    # one notebook run serves every figure (same notebook and parameters)
    assert sorted(p.name for p in (tmp_path / "outputs").iterdir()) == ["run0"]
    # the reproduction the paper reports, read back from the re-created tables
    out = tmp_path / "outputs" / "run0"
    sicily = pd.read_csv(out / "tab1_sicily_rate_ratios.csv")
    assert len(sicily) == 9 and sicily["agrees_4dp"].all()
    # model 3 step: 0.8851 (0.8394, 0.9332), tests/methods/test_its_sicily.py EXPECTED
    row = sicily[(sicily["model"] == "3 quasi-Poisson + Fourier") & (sicily["term"] == "smokban")]
    assert np.round(row[["ratio", "ratio_lower", "ratio_upper"]].to_numpy(float), 4).tolist() == [
        [0.8851, 0.8394, 0.9332]]
    attgt = pd.read_csv(out / "tab2_did_att_gt.csv")
    agg = pd.read_csv(out / "tab3_did_aggregations.csv")
    assert len(attgt) == 4 * 12 and len(agg) == 4 * (1 + 8 + 4 + 5)  # 4 scenarios; overall + periods
    assert attgt["within_tolerance"].all() and agg["within_tolerance"].all()
    assert agg[["att_abs_diff", "se_abs_diff"]].max().max() <= 1e-6


# ------------------------------------------------------------------------------------------------
# The machinery on a fake paper
# ------------------------------------------------------------------------------------------------
class FakeRunner:
    """Stands in for pipeline.run_notebook: writes ``frames[name]`` to ``output_dir/name``."""

    def __init__(self) -> None:
        self.frames: dict[str, pd.DataFrame] = {}
        self.calls: list[dict] = []
        self.error: Exception | None = None

    def __call__(self, notebook, output, parameters):
        self.calls.append(dict(parameters))
        if self.error is not None:
            raise self.error
        out = Path(parameters["output_dir"])
        out.mkdir(parents=True, exist_ok=True)
        for name, frame in self.frames.items():
            frame.to_csv(out / name, index=False, float_format="%.10g")
        return Path(output)


BASE = pd.DataFrame({"label": ["a", "b", "c"], "x": [1.0, 2.0, 3.0], "n": [10, 20, 30]})


@pytest.fixture
def runner(monkeypatch) -> FakeRunner:
    fake = FakeRunner()
    fake.frames["fig1.csv"] = BASE.copy()
    monkeypatch.setattr(pipeline, "run_notebook", fake)
    return fake


def _paper(tmp_path: Path, figures: list[dict] | None = None, **extra) -> Path:
    paper = tmp_path / "fake-paper"
    paper.mkdir(exist_ok=True)
    notebook = tmp_path / "fake.ipynb"
    notebook.write_text("{}", encoding="utf-8")  # never executed: the runner is replaced
    if figures is None:
        figures = [{"id": "fig1", "notebook": str(notebook), "parameters": {"language": "en"},
                    "output": "fig1.csv"}]
    (paper / "figures.yaml").write_text(
        yaml.safe_dump({"paper": "fake", "figures": figures, **extra}, sort_keys=False), encoding="utf-8"
    )
    return paper


def _recorded_paper(tmp_path: Path) -> Path:
    paper = _paper(tmp_path)
    result = reproduce_paper(paper, record=True)
    assert result["status"].tolist() == ["recorded"]
    return paper


def test_record_writes_csv_and_hash_then_reproduces_identical(tmp_path, runner):
    paper = _recorded_paper(tmp_path)
    recorded = paper / "recorded" / "fig1.csv"
    # %.10g writes 1.0 as "1", so the recorded x reads back as integers
    pd.testing.assert_frame_equal(pd.read_csv(recorded), BASE, check_dtype=False)
    spec = yaml.safe_load((paper / "figures.yaml").read_text(encoding="utf-8"))
    assert spec["figures"][0]["sha256"] == hashlib.sha256(recorded.read_bytes()).hexdigest()
    result = reproduce_paper(paper)
    assert result.to_dict("records") == [{"id": "fig1", "status": "identical", "max_abs_diff": 0.0, "note": ""}]
    # the runner got output_dir in a temporary work folder, removed afterwards
    out_dir = Path(runner.calls[-1]["output_dir"])
    assert runner.calls[-1]["language"] == "en"
    assert not out_dir.exists()


def test_differing_csv_reports_largest_absolute_difference(tmp_path, runner, capsys):
    paper = _recorded_paper(tmp_path)
    # x: 1, 2, 3 -> 1, 2.25, 2.5 (differences 0, 0.25, 0.5); n: 20 -> 19 (difference 1) in the 2nd run
    runner.frames["fig1.csv"] = BASE.assign(x=[1.0, 2.25, 2.5])
    result = reproduce_paper(paper)
    assert result.loc[0, "status"] == "differs"
    assert result.loc[0, "max_abs_diff"] == pytest.approx(0.5, abs=1e-12)
    assert result.loc[0, "note"] == ""
    runner.frames["fig1.csv"] = BASE.assign(x=[1.0, 2.25, 2.5], n=[10, 19, 30])
    assert reproduce_paper(paper).loc[0, "max_abs_diff"] == pytest.approx(1.0, abs=1e-12)
    # the command line says the same and fails
    assert main(["reproduce", str(paper)]) == 1
    assert capsys.readouterr().out.strip() == "fig1: differs, largest absolute difference 1"


def test_text_cells_and_missing_values_count_as_differences(tmp_path, runner):
    paper = _recorded_paper(tmp_path)
    runner.frames["fig1.csv"] = BASE.assign(label=["a", "B", "c"])
    result = reproduce_paper(paper)
    assert result.loc[0, ["status", "max_abs_diff", "note"]].tolist() == ["differs", 0.0, "1 text cell(s) differ"]
    # a number that became empty (e.g. newly suppressed) is an infinite difference, not a match
    runner.frames["fig1.csv"] = BASE.assign(x=[1.0, np.nan, 3.0])
    result = reproduce_paper(paper)
    assert result.loc[0, "status"] == "differs" and result.loc[0, "max_abs_diff"] == np.inf


def test_changed_shape_is_reported(tmp_path, runner):
    paper = _recorded_paper(tmp_path)
    runner.frames["fig1.csv"] = pd.concat([BASE, BASE.iloc[[0]]], ignore_index=True)
    result = reproduce_paper(paper)
    assert result.loc[0, "status"] == "differs"
    assert pd.isna(result.loc[0, "max_abs_diff"])
    assert result.loc[0, "note"] == "shape (4, 3) vs recorded (3, 3)"


def test_missing_output_raises_clear_error(tmp_path, runner):
    paper = _recorded_paper(tmp_path)
    runner.frames = {"other.csv": BASE}
    with pytest.raises(ReproductionError, match=r"^figure fig1: the notebook wrote no fig1\.csv$"):
        reproduce_paper(paper)


def test_nothing_recorded_and_missing_notebook_are_refused(tmp_path, runner):
    paper = _paper(tmp_path)
    with pytest.raises(ReproductionError, match=r"figure fig1: nothing recorded; run with --record first"):
        reproduce_paper(paper)
    # refused before any notebook runs
    assert runner.calls == []
    paper = _paper(tmp_path, [{"id": "fig1", "notebook": "notebooks/no_such.ipynb", "output": "fig1.csv"}])
    with pytest.raises(ReproductionError, match=r"figure fig1: notebook notebooks/no_such\.ipynb not found"):
        reproduce_paper(paper, record=True)
    assert runner.calls == []


def test_parameter_errors_name_the_paper(tmp_path, runner):
    paper = _recorded_paper(tmp_path)
    runner.error = ParameterError("language must be 'sv' or 'en', got 'de'")
    with pytest.raises(ReproductionError, match=r"^fake-paper: language must be 'sv' or 'en', got 'de'$"):
        reproduce_paper(paper)


def test_each_notebook_and_parameter_set_runs_once(tmp_path, runner):
    nb = str(tmp_path / "fake.ipynb")
    runner.frames["fig2.csv"] = BASE
    figures = [
        {"id": "fig1", "notebook": nb, "parameters": {"language": "en"}, "output": "fig1.csv"},
        {"id": "fig2", "notebook": nb, "parameters": {"language": "en"}, "output": "fig2.csv"},
        {"id": "fig3", "notebook": nb, "parameters": {"language": "sv"}, "output": "fig1.csv"},
    ]
    result = reproduce_paper(_paper(tmp_path, figures), record=True, work_dir=tmp_path / "work")
    assert result["status"].tolist() == ["recorded"] * 3
    assert [c["language"] for c in runner.calls] == ["en", "sv"]
    assert sorted(p.name for p in (tmp_path / "work" / "outputs").iterdir()) == ["run0", "run1"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, r"figures\.yaml: missing; a paper folder needs figures\.yaml"),
        ("paper: fake\n", r"figures\.yaml: lists no figures"),
        ("figures: []\n", r"figures\.yaml: lists no figures"),
        # the layout of papers/excess-deaths-2020 (figure id -> spec, no `figures:` list)
        ("fig1:\n  notebook: x.ipynb\n  outputs: [fig1.csv]\n", r"figures\.yaml: lists no figures"),
        ("figures:\n  - {id: fig1, notebook: x.ipynb}\n", r"figures\.yaml: figure 0 has no 'output'"),
        ("figures:\n  - {notebook: x.ipynb, output: a.csv}\n", r"figures\.yaml: figure 0 has no 'id'"),
        ("figures:\n  - {id: f, notebook: x.ipynb, output: a.csv}\n  - {id: f, notebook: x.ipynb, output: b.csv}\n",
         r"figures\.yaml: figure id 'f' listed twice"),
    ],
)
def test_malformed_figures_yaml_is_refused(tmp_path, text, message):
    paper = tmp_path / "bad"
    paper.mkdir()
    if text is not None:
        (paper / "figures.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ReproductionError, match=message):
        load_figures(paper)
    with pytest.raises(ReproductionError, match=message):
        reproduce_paper(paper)


def test_unknown_world_is_refused(tmp_path, runner):
    nb = str(tmp_path / "fake.ipynb")
    paper = _paper(tmp_path, [{"id": "fig1", "notebook": nb, "parameters": {"data_dir": "{world:nope}"},
                               "output": "fig1.csv"}])
    with pytest.raises(ReproductionError, match=r"unknown world 'nope' in figures\.yaml"):
        reproduce_paper(paper, record=True)


@pytest.mark.parametrize("text", ["figures: [id: a\n", "- id: a\n  notebook: x.ipynb\n  output: a.csv\n"])
def test_unparsable_figures_yaml_raises_reproduction_error(tmp_path, text):
    paper = tmp_path / "bad"
    paper.mkdir()
    (paper / "figures.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ReproductionError, match=r"figures\.yaml: (not valid YAML|must be a mapping)"):
        load_figures(paper)


def test_reused_work_dir_does_not_pass_off_stale_outputs(tmp_path, runner):
    paper = _recorded_paper(tmp_path)
    work = tmp_path / "work"
    assert reproduce_paper(paper, work_dir=work).loc[0, "status"] == "identical"
    runner.frames = {}  # the notebook no longer writes fig1.csv; the old file is still in work/
    with pytest.raises(ReproductionError, match="wrote no fig1.csv"):
        reproduce_paper(paper, work_dir=work)


def test_cli_reports_a_changed_shape(tmp_path, runner, capsys):
    paper = _recorded_paper(tmp_path)
    runner.frames["fig1.csv"] = pd.concat([BASE, BASE.iloc[[0]]], ignore_index=True)
    assert main(["reproduce", str(paper)]) == 1
    assert "fig1: differs (shape (4, 3) vs recorded (3, 3))" in capsys.readouterr().out
