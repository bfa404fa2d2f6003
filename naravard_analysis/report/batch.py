"""Run the regional report for one region, several, or all 21, in parallel processes.

For each region: find (or generate) its data, run ``notebooks/regional_report.ipynb`` through the
Papermill runner, export the HTML report without code, scan the outputs with
:func:`~naravard_analysis.report.disclosure.check_outputs` (the region fails if a small count or a
personnummer would be published) and write ``manifest.json``. Every parameter is validated before the
first kernel starts; a failure in one region does not stop the others (DEFINITIONS.md 9.7: one
process per notebook, workers <= cores, one retry on a kernel-start collision).

Examples
--------
>>> from naravard_analysis.report.batch import parse_regions
>>> parse_regions("01,03,14")
['01', '03', '14']
"""

from __future__ import annotations

import multiprocessing
import time
import traceback
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import pandas as pd

from naravard_analysis.errors import ParameterError
from naravard_analysis.report.parameters import validate_parameters, validate_region_code

__all__ = ["REPORT_NOTEBOOK", "parse_regions", "run_region", "run_reports"]

REPORT_NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "regional_report.ipynb"


def parse_regions(regions: str | Sequence[str]) -> list[str]:
    """``"14"``, ``"01,03,14"``, ``"all"`` or a list -> validated two-digit region codes."""
    from naravard_analysis.data.official import regions as official_regions

    if isinstance(regions, str):
        if regions.strip().lower() == "all":
            return list(official_regions()["region_code"])
        items = [r.strip() for r in regions.split(",") if r.strip()]
    else:
        items = list(regions)
    if not items:
        raise ParameterError("no region given; use e.g. --regions 14, 01,03,14 or all")
    codes = [validate_region_code(r, name="regions") for r in items]
    if len(set(codes)) != len(codes):
        raise ParameterError(f"regions listed twice: {sorted({c for c in codes if codes.count(c) > 1})}")
    return codes


def _data_dir_for(region: str, data: Path) -> Path | None:
    """``data/<region>/`` if it holds a bundle, else ``data`` itself if its bundle is that region."""
    import json

    sub = data / region
    if (sub / "manifest.json").is_file():
        return sub
    if (data / "manifest.json").is_file():
        meta = json.loads((data / "manifest.json").read_text()).get("meta", {})
        if meta.get("region") in (region, None):
            return data
    return None


def run_region(
    region: str,
    *,
    data: str | Path,
    out: str | Path,
    parameters: Mapping[str, Any] | None = None,
    synth_preset: str | None = None,
    seed: int = 0,
    notebook: str | Path = REPORT_NOTEBOOK,
    min_count: int = 5,
    timeout: int = 1800,
) -> dict[str, Any]:
    """Run the report for one region; return a summary row (never raises for a region failure)."""
    from naravard_analysis.report.disclosure import check_outputs
    from naravard_analysis.report.pipeline import run_notebook
    from naravard_analysis.report.publish import export_html, write_manifest

    start = time.perf_counter()
    row: dict[str, Any] = {"region": region, "status": "ok", "seconds": 0.0, "warnings": 0, "html": "", "error": ""}
    region_out = Path(out) / region
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            data_dir = _data_dir_for(region, Path(data))
            if data_dir is None:
                if synth_preset is None:
                    raise ParameterError(f"no data for region {region} in {data} (expected {data}/{region}/manifest.json)")
                from naravard_analysis.data.synthetic import make_world

                data_dir = make_world(synth_preset, region=region, seed=seed).to_dir(Path(data) / region)
            params = {
                **dict(parameters or {}),
                "region_code": region,
                "data_dir": str(data_dir),
                "output_dir": str(region_out),
                "min_count": min_count,
            }
            executed = run_notebook(notebook, region_out / f"{Path(notebook).stem}.ipynb", params, timeout=timeout)
            html = export_html(executed, region_out / "report.html", title=f"Region {region}")
            check_outputs(region_out, min_count=min_count)
            write_manifest(region_out, parameters=params, data_dir=data_dir,
                           extra={"seconds": round(time.perf_counter() - start, 1)})
            row["html"] = str(html)
            row["warnings"] = len(caught)
    except Exception as exc:  # one region's failure must not stop the others
        row["status"] = "failed"
        row["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        (region_out).mkdir(parents=True, exist_ok=True)
        (region_out / "error.txt").write_text(traceback.format_exc(), encoding="utf-8")
    row["seconds"] = round(time.perf_counter() - start, 1)
    return row


def run_reports(
    regions: str | Sequence[str],
    *,
    data: str | Path,
    out: str | Path,
    jobs: int = 1,
    parameters: Mapping[str, Any] | None = None,
    synth_preset: str | None = None,
    seed: int = 0,
    notebook: str | Path = REPORT_NOTEBOOK,
    min_count: int = 5,
    progress: bool = True,
) -> pd.DataFrame:
    """Run the regional report for each region in ``regions``, ``jobs`` at a time.

    Parameters
    ----------
    regions
        ``"14"``, ``"01,03,14"``, ``"all"`` or a list of two-digit codes.
    data
        Folder with one RegisterData bundle per region (``data/<code>/``), or one bundle.
    out
        Output folder; each region writes into ``out/<code>/``.
    jobs
        Parallel processes (each runs its own kernel).
    parameters
        Further notebook parameters (language, period, interruption dates ...), the same for
        every region; validated against the notebook before anything runs.
    synth_preset
        Generate a synthetic world of this preset for regions without data.

    Returns
    -------
    DataFrame
        One row per region: region, status, seconds, warnings, html, error.
    """
    from tqdm.auto import tqdm

    from naravard_analysis.report.pipeline import notebook_parameters

    codes = parse_regions(regions)
    if jobs < 1:
        raise ParameterError(f"jobs must be >= 1, got {jobs}")
    declared = notebook_parameters(notebook)
    extra = dict(parameters or {})
    validate_parameters({**extra, "min_count": min_count}, declared=declared, require_data=False)
    data = Path(data)
    if synth_preset is None:
        missing = [c for c in codes if _data_dir_for(c, data) is None]
        if missing:
            raise ParameterError(
                f"no data for region(s) {', '.join(missing)} in {data}; give --synth PRESET to "
                "generate synthetic worlds for them"
            )
    kwargs = dict(data=data, out=out, parameters=extra, synth_preset=synth_preset, seed=seed,
                  notebook=notebook, min_count=min_count)
    rows = []
    bar = tqdm(total=len(codes), desc="regions", unit="region", disable=not progress)
    if jobs == 1:
        for code in codes:
            rows.append(run_region(code, **kwargs))
            bar.update()
    else:
        # "spawn": a forked child would inherit the parent's ZMQ threads from earlier kernel runs.
        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(run_region, code, **kwargs): code for code in codes}
            for fut in as_completed(futures):
                rows.append(fut.result())
                bar.update()
    bar.close()
    summary = pd.DataFrame(rows).sort_values("region").reset_index(drop=True)
    return summary
