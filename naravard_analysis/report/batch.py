"""Run the regional report for one region, several, or all 21, in parallel processes.

For each region: find (or generate) its data, run ``notebooks/regional_report.ipynb`` through the
Papermill runner, export the HTML report without code, scan the outputs with
:func:`~naravard_analysis.report.scan.check_outputs` (the region fails if a small count or a
personnummer would be published), write ``manifest.json`` and the output checker's record
(``results.json`` and ``checksums/``, ACRO layout: :mod:`naravard_analysis.report.acro`). Every
parameter is validated before the first kernel starts; a failure in one region does not stop the
others (one process per notebook, workers <= cores, one retry on a kernel-start collision).

Outputs appear all at once or not at all: a region is written to a hidden work folder
``OUT/.<region>.partial`` and moved to ``OUT/<region>`` only when everything, manifest and record
included, is written. A region that fails -- an error, a disclosure finding, or the run being
stopped (SIGTERM, Ctrl-C) -- leaves ``OUT/<region>/`` holding only a ``FAILED`` file (the error and
its traceback) and, when the notebook ran, ``FAILED-notebook.ipynb`` for debugging; earlier
outputs of that region are removed, so no stale report can be taken for the new one. Identical
runs give identical files (timings, random ids and the output folder's path are removed), so
their manifests are equal.

Examples
--------
>>> from naravard_analysis.report.batch import parse_regions
>>> parse_regions("01,03,14")
['01', '03', '14']
"""

from __future__ import annotations

import multiprocessing
import shutil
import signal
import threading
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

__all__ = ["FAILED_MARKER", "REPORT_NOTEBOOK", "RunStopped", "parse_regions", "run_region", "run_reports"]

FAILED_MARKER = "FAILED"


class RunStopped(BaseException):
    """The run was stopped by a signal (SIGTERM); raised in the main thread to unwind cleanly."""

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


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _swap_in(src: Path, final: Path) -> None:
    """Replace ``final`` by ``src`` (two renames on one file system; the old folder is removed
    only after the new one is in place)."""
    old = final.with_name(f".{final.name}.old")
    _remove(old)
    if final.exists() or final.is_symlink():
        final.rename(old)
    src.rename(final)
    _remove(old)


def _fail(work: Path, final: Path, exc: BaseException) -> None:
    """Leave ``final`` holding only the FAILED marker (and the partly executed notebook)."""
    failed = final.with_name(f".{final.name}.failed")
    _remove(failed)
    failed.mkdir(parents=True)
    text = (
        f"Region {final.name} FAILED: nothing in this folder may be published.\n\n"
        f"{type(exc).__name__}: {exc}\n\n"
        + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    )
    (failed / FAILED_MARKER).write_text(text, encoding="utf-8")
    notebooks = sorted(work.glob("*.ipynb")) if work.is_dir() else []
    if notebooks:  # the partly executed notebook shows where it failed
        notebooks[0].rename(failed / "FAILED-notebook.ipynb")
    _swap_in(failed, final)
    _remove(work)


def _command(region: str, parameters: Mapping[str, Any], min_count: int) -> str:
    """The ``naravard report`` command that makes these outputs (for the checker's record)."""
    extra = " ".join(
        f"-p {k} {','.join(map(str, v)) if isinstance(v, list | tuple) else v}"
        for k, v in sorted(parameters.items())
        if k not in ("region_code", "data_dir", "output_dir", "min_count", "language")
    )
    lang = parameters.get("language", "sv")
    cmd = f"naravard report --regions {region} --data DATA --out OUT --min-count {min_count}"
    return f"{cmd} --language {lang}" + (f" {extra}" if extra else "")


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
    """Run the report for one region; return a summary row (never raises for a region failure).

    The outputs are written to ``out/.<region>.partial`` and moved to ``out/<region>`` when
    complete; on failure ``out/<region>`` holds only ``FAILED`` (see the module docstring).
    """
    from naravard_analysis.report.acro import write_acro_record
    from naravard_analysis.report.pipeline import make_reproducible, run_notebook
    from naravard_analysis.report.publish import export_html, write_manifest
    from naravard_analysis.report.scan import check_outputs

    start = time.perf_counter()
    row: dict[str, Any] = {"region": region, "status": "ok", "seconds": 0.0, "warnings": 0, "html": "", "error": ""}
    final = Path(out).resolve() / region
    work = final.with_name(f".{region}.partial")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _remove(work)
            work.mkdir(parents=True)
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
                "output_dir": str(work),
                "min_count": min_count,
            }
            executed = run_notebook(notebook, work / f"{Path(notebook).stem}.ipynb", params, timeout=timeout)
            # the published files must not depend on where or when they were made
            make_reproducible(executed, paths={str(work): "."})
            export_html(executed, work / "report.html", title=f"Region {region}")
            check_outputs(work, min_count=min_count)  # raises: nothing is published
            recorded = {k: v for k, v in params.items() if k != "output_dir"}
            write_manifest(work, parameters=recorded, data_dir=data_dir)
            write_acro_record(
                work,
                command=_command(region, params, min_count),
                min_count=min_count,
                context={"region": region, "min_count": min_count},
            )
            _swap_in(work, final)
            row["html"] = str(final / "report.html")
            row["warnings"] = len(caught)
    except (Exception, RunStopped, KeyboardInterrupt) as exc:  # one region's failure must not stop the others
        row["status"] = "failed"
        row["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        try:
            _fail(work, final, exc)
        except OSError as err:  # e.g. OUT is not writable: say so in the summary row
            row["error"] += f" (and the FAILED marker could not be written: {err})"
        if not isinstance(exc, Exception):
            raise
    row["seconds"] = round(time.perf_counter() - start, 1)
    return row


def _check_out(out: Path) -> None:
    """OUT must be (or become) a writable folder: one clear error before any kernel starts."""
    for parent in [out, *out.parents]:
        if parent.exists():
            if not parent.is_dir():
                raise ParameterError(
                    f"--out {str(out)!r}: {str(parent)!r} is a file, not a folder; give a folder "
                    "for the reports"
                )
            break
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ParameterError(f"--out {str(out)!r} cannot be created: {err.strerror}") from None


def _raise_stopped(signum: int, frame: object) -> None:
    raise RunStopped(f"stopped by signal {signal.Signals(signum).name}")


def _worker_init() -> None:
    signal.signal(signal.SIGTERM, _raise_stopped)


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
    _check_out(Path(out))
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
    # SIGTERM unwinds like Ctrl-C: the running region is marked FAILED, its kernel shut down.
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_stopped) if in_main else None
    try:
        if jobs == 1:
            for code in codes:
                rows.append(run_region(code, **kwargs))
                bar.update()
        else:
            # "spawn": a forked child would inherit the parent's ZMQ threads from earlier kernel runs.
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_worker_init) as pool:
                futures = {pool.submit(run_region, code, **kwargs): code for code in codes}
                try:
                    for fut in as_completed(futures):
                        rows.append(fut.result())
                        bar.update()
                except (RunStopped, KeyboardInterrupt):
                    for fut in futures:
                        fut.cancel()
                    for proc in list(getattr(pool, "_processes", {}).values()):
                        proc.terminate()  # each worker marks its region FAILED
                    raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    bar.close()
    summary = pd.DataFrame(rows).sort_values("region").reset_index(drop=True)
    return summary
