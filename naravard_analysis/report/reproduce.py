"""Re-create every figure of a paper in ``papers/NAME`` and say whether its data match.

A paper folder holds its text (``paper.md``), ``figures.yaml`` and, under ``recorded/``, the CSV of the
numbers behind each figure as published. ``figures.yaml``::

    paper: validation
    worlds:                       # synthetic worlds the figures need (optional)
      null: {preset: demo, region: "14", seed: 0, effects: none}
      targeted: {preset: coverage, seed: 0, scenario: teams_targeted}   # scenario: optional
    figures:
      - id: fig1
        notebook: notebooks/40_interrupted_time_series.ipynb
        parameters: {data_dir: "{world:null}", language: en}   # relative paths: from the repo root
        output: sicily_rate_ratios.csv         # written by the notebook into its output_dir
        sha256: 3f2a...                        # of recorded/fig1.csv

Each distinct (notebook, parameters) pair runs once. A figure is ``identical`` when the new CSV has
the recorded sha256; otherwise the report gives the largest absolute difference over the numeric
cells (and says when the shapes differ).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from naravard_analysis.data.bundle import sha256_file
from naravard_analysis.errors import NaravardError, ParameterError

__all__ = ["load_figures", "reproduce_paper", "ReproductionError"]

REPO_ROOT = Path(__file__).resolve().parents[2]


class ReproductionError(NaravardError):
    """A paper's figure list is malformed or a figure could not be re-created."""


def load_figures(paper_dir: str | Path) -> dict[str, Any]:
    """Read and check ``figures.yaml`` of a paper folder."""
    import yaml

    path = Path(paper_dir) / "figures.yaml"
    if not path.is_file():
        raise ReproductionError(f"{path}: missing; a paper folder needs figures.yaml")
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ReproductionError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(spec, dict):
        raise ReproductionError(f"{path}: must be a mapping with a 'figures:' list, got a {type(spec).__name__}")
    figures = spec.get("figures") or []
    if not isinstance(figures, list) or not figures:
        raise ReproductionError(f"{path}: lists no figures (expected 'figures:' with a list of entries)")
    seen = set()
    for i, fig in enumerate(figures):
        if not isinstance(fig, dict):
            raise ReproductionError(f"{path}: figure {i} must be a mapping with id, notebook and output")
        for key in ("id", "notebook", "output"):
            if key not in fig:
                raise ReproductionError(f"{path}: figure {i} has no {key!r}")
        if not isinstance(fig.get("parameters") or {}, dict):
            raise ReproductionError(f"{path}: parameters of figure {fig['id']!r} must be a mapping")
        if fig["id"] in seen:
            raise ReproductionError(f"{path}: figure id {fig['id']!r} listed twice")
        seen.add(fig["id"])
    worlds = spec.get("worlds") or {}
    if not isinstance(worlds, dict):
        raise ReproductionError(f"{path}: 'worlds' must be a mapping of name -> world parameters")
    return spec


def _resolve(name: str, value: Any, worlds: dict[str, Path]) -> Any:
    """``{world:NAME}`` -> that world's folder; relative path parameters -> from the repository
    root, so a paper reproduces the same way from any working directory."""
    from naravard_analysis.report.pipeline import PATH_PARAMETERS

    if isinstance(value, str) and value.startswith("{world:") and value.endswith("}"):
        world = value[len("{world:") : -1]
        if world not in worlds:
            raise ReproductionError(f"unknown world {world!r} in figures.yaml")
        return str(worlds[world])
    if name in PATH_PARAMETERS and isinstance(value, str) and not Path(value).is_absolute():
        return str(REPO_ROOT / value)
    return value


def _max_abs_diff(new: Path, recorded: Path) -> tuple[float, str]:
    from naravard_analysis.report.figures import read_csv

    a, b = read_csv(new), read_csv(recorded)  # either CSV flavour (sv: ';' and decimal comma)
    if a.shape != b.shape or list(a.columns) != list(b.columns):
        return float("nan"), f"shape {a.shape} vs recorded {b.shape}"
    num = [c for c in a.columns if pd.api.types.is_numeric_dtype(a[c]) and pd.api.types.is_numeric_dtype(b[c])]
    other = [c for c in a.columns if c not in num]
    text_diff = int((a[other].astype(str) != b[other].astype(str)).to_numpy().sum()) if other else 0
    diffs = np.abs(a[num].to_numpy(float) - b[num].to_numpy(float)) if num else np.zeros(1)
    both_nan = np.isnan(a[num].to_numpy(float)) & np.isnan(b[num].to_numpy(float)) if num else False
    diffs = np.where(both_nan, 0.0, diffs)
    largest = float(np.nanmax(diffs)) if diffs.size else 0.0
    if np.isnan(diffs).any():
        largest = float("inf")
    return largest, (f"{text_diff} text cell(s) differ" if text_diff else "")


def reproduce_paper(
    paper_dir: str | Path, *, work_dir: str | Path | None = None, record: bool = False
) -> pd.DataFrame:
    """Re-run the notebooks behind a paper's figures and compare each figure's data.

    Parameters
    ----------
    paper_dir
        ``papers/NAME``.
    work_dir
        Where to write the worlds and outputs (a temporary folder by default, removed after).
    record
        Write the new CSVs to ``recorded/`` and their sha256 into ``figures.yaml`` (for authors).

    Returns
    -------
    DataFrame
        One row per figure: id, status (``identical`` / ``differs`` / ``recorded``),
        max_abs_diff, note.
    """
    import yaml

    from naravard_analysis.report.pipeline import run_notebook

    paper = Path(paper_dir).resolve()
    spec = load_figures(paper)
    cleanup = work_dir is None
    work = Path(tempfile.mkdtemp(prefix="naravard-reproduce-")) if work_dir is None else Path(work_dir)
    try:
        worlds: dict[str, Path] = {}
        for name, w in (spec.get("worlds") or {}).items():
            from naravard_analysis.data.synthetic import make_world

            effects = w.get("effects")
            worlds[name] = make_world(
                w.get("preset", "demo"), region=str(w.get("region", "14")), seed=int(w.get("seed", 0)),
                n_persons=w.get("n_persons"), effects=None if effects in (None, "known") else effects,
                scenario=w.get("scenario"),
            ).to_dir(work / "worlds" / name)
        if not record:
            for fig in spec["figures"]:
                if "sha256" not in fig or not (paper / "recorded" / f"{fig['id']}.csv").is_file():
                    raise ReproductionError(
                        f"figure {fig['id']}: nothing recorded; run with --record first"
                    )
        runs: dict[str, Path] = {}
        new_files: dict[str, Path] = {}
        for fig in spec["figures"]:
            params = {k: _resolve(k, v, worlds) for k, v in (fig.get("parameters") or {}).items()}
            key = json.dumps([fig["notebook"], params], sort_keys=True)
            if key not in runs:
                out_dir = work / "outputs" / f"run{len(runs)}"
                # A reused work folder must not pass off an earlier run's files as this run's.
                shutil.rmtree(out_dir, ignore_errors=True)
                nb = REPO_ROOT / fig["notebook"]
                if not nb.is_file():
                    raise ReproductionError(f"figure {fig['id']}: notebook {fig['notebook']} not found")
                run_notebook(nb, out_dir / nb.name, {**params, "output_dir": str(out_dir)})
                runs[key] = out_dir
            new = runs[key] / fig["output"]
            if not new.is_file():
                raise ReproductionError(f"figure {fig['id']}: the notebook wrote no {fig['output']}")
            new_files[fig["id"]] = new
        rows = []
        for fig in spec["figures"]:
            new = new_files[fig["id"]]
            recorded = paper / "recorded" / f"{fig['id']}.csv"
            if record:
                rows.append({"id": fig["id"], "status": "recorded", "max_abs_diff": 0.0, "note": ""})
            elif sha256_file(new) == fig["sha256"]:
                rows.append({"id": fig["id"], "status": "identical", "max_abs_diff": 0.0, "note": ""})
            else:
                diff, note = _max_abs_diff(new, recorded)
                rows.append({"id": fig["id"], "status": "differs", "max_abs_diff": diff, "note": note})
        if record:
            # Only after every figure was re-created: the paper never holds new CSVs beside old hashes.
            (paper / "recorded").mkdir(parents=True, exist_ok=True)
            for fig in spec["figures"]:
                shutil.copyfile(new_files[fig["id"]], paper / "recorded" / f"{fig['id']}.csv")
                fig["sha256"] = sha256_file(new_files[fig["id"]])
            (paper / "figures.yaml").write_text(
                yaml.safe_dump(spec, sort_keys=False, allow_unicode=True), encoding="utf-8"
            )
        return pd.DataFrame(rows, columns=["id", "status", "max_abs_diff", "note"])
    except ParameterError as exc:
        raise ReproductionError(f"{paper.name}: {exc}") from exc
    finally:
        if cleanup:
            shutil.rmtree(work, ignore_errors=True)
