"""Run parameterised notebooks through Papermill, safely.

Wraps :func:`papermill.execute_notebook` with the rules of the methods reference section 9:

* parameters are validated *before* a kernel starts (:func:`~.parameters.validate_parameters`):
  unknown names are errors (papermill only warns), region codes must be zero-padded text;
* values given on the command line are converted by the type of the notebook's default
  (``-p min_count 3`` becomes ``3``; ``-p region_code 01`` stays ``"01"``), never by guessing;
* relative paths are resolved against the caller's directory and the notebook runs with its own
  folder as working directory (papermill issue #316);
* the kernel is always ``python3`` (9.4), there is a per-cell timeout (9.6) and one retry when the
  kernel fails to start because of a port collision (9.7);
* the kernel's own log lines that say nothing to the user (the plain-TCP transport warning, the
  ``KeyboardInterrupt caught in kernel`` logged at every shutdown) are filtered from the console;
  every other line of the kernel's stderr, errors included, is passed on;
* :func:`make_reproducible` strips timings, random cell ids and the output folder's absolute path
  from an executed notebook, so identical runs give identical files.

Examples
--------
>>> from naravard_analysis.report.pipeline import notebook_parameters
>>> sorted(notebook_parameters("notebooks/00_overview.ipynb"))[:3]  # doctest: +SKIP
['data_dir', 'language', 'min_count']
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

from naravard_analysis.errors import NaravardError, ParameterError
from naravard_analysis.report.parameters import validate_parameters

__all__ = [
    "notebook_parameters",
    "coerce_cli_parameters",
    "run_notebook",
    "NotebookFailed",
    "PATH_PARAMETERS",
    "make_reproducible",
]

#: Parameters holding paths: resolved to absolute paths before injection.
PATH_PARAMETERS = ("data_dir", "output_dir", "reference_dir")


class NotebookFailed(NaravardError):
    """A notebook raised while executing; the partially executed notebook is still written."""


def notebook_parameters(notebook: str | Path) -> dict[str, dict[str, Any]]:
    """Parameters the notebook declares (name -> papermill's description with ``default``)."""
    import papermill as pm

    path = Path(notebook)
    if not path.is_file():
        raise ParameterError(f"notebook {str(path)!r} does not exist")
    return dict(pm.inspect_notebook(str(path)))


def _default_value(spec: Mapping[str, Any]) -> Any:
    import ast

    try:
        return ast.literal_eval(spec.get("default", "None"))
    except (ValueError, SyntaxError):
        return None


def coerce_cli_parameters(
    notebook: str | Path, raw: Mapping[str, str]
) -> dict[str, Any]:
    """Convert command-line strings to the type of each parameter's default in the notebook.

    Unknown names raise ParameterError. Text defaults keep the value as given, so region and
    municipality codes keep their leading zeros (unlike ``papermill -p``, methods reference §9.2).
    """
    declared = notebook_parameters(notebook)
    unknown = [k for k in raw if k not in declared]
    if unknown:
        raise ParameterError(
            f"unknown parameter(s) {', '.join(map(repr, unknown))} for {Path(notebook).name}; it "
            f"declares {', '.join(declared)}"
        )
    out: dict[str, Any] = {}
    for name, value in raw.items():
        default = _default_value(declared[name])
        if isinstance(default, bool):
            low = value.strip().lower()
            if low not in ("true", "false", "1", "0"):
                raise ParameterError(f"{name} must be true or false, got {value!r}")
            out[name] = low in ("true", "1")
        elif isinstance(default, int):
            try:
                out[name] = int(value)
            except ValueError:
                raise ParameterError(f"{name} must be an integer, got {value!r}") from None
        elif isinstance(default, float):
            try:
                out[name] = float(value)
            except ValueError:
                raise ParameterError(f"{name} must be a number, got {value!r}") from None
        elif isinstance(default, list | tuple):
            out[name] = [v.strip() for v in value.split(",") if v.strip()]
        else:
            out[name] = value
    return out


#: Kernel log lines that are not for the user: ipykernel warns about plain TCP on every start
#: (the kernel listens on localhost only) and logs an ERROR for the interrupt jupyter_client
#: sends at every shutdown.
KERNEL_NOISE = (
    re.compile(r"\[IPKernelApp\] WARNING \| Kernel is running over TCP without encryption"),
    re.compile(r"\[IPKernelApp\] ERROR \| KeyboardInterrupt caught in kernel"),
)


def _relay_stderr(fd: int, sink: TextIO | None = None) -> None:
    """Copy the kernel's stderr line by line to ours, without the lines in KERNEL_NOISE."""
    with os.fdopen(fd, "r", encoding="utf-8", errors="replace") as stream:
        for line in stream:
            if not any(rx.search(line) for rx in KERNEL_NOISE):
                out = sink or sys.stderr
                out.write(line)
                out.flush()


def _quiet_kernel_manager() -> type:
    """An AsyncKernelManager whose kernel writes its stderr through :func:`_relay_stderr`."""
    from jupyter_client import AsyncKernelManager

    class QuietKernelManager(AsyncKernelManager):  # type: ignore[misc, valid-type]
        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
            read_fd, write_fd = os.pipe()
            kw["stderr"] = write_fd
            try:
                await super()._async_launch_kernel(kernel_cmd, **kw)
            except BaseException:
                os.close(read_fd)
                raise
            finally:
                os.close(write_fd)  # the kernel holds its own copy
            threading.Thread(target=_relay_stderr, args=(read_fd,), daemon=True).start()

    return QuietKernelManager


def make_reproducible(
    notebook: str | Path, *, paths: Mapping[str, str] | None = None
) -> Path:
    """Rewrite an executed notebook so that two identical runs give identical bytes.

    Removes execution timings (nbclient's ``execution`` and papermill's start/end/duration),
    gives the injected-parameters cell a fixed id, keeps only the file names of papermill's
    input and output paths, and replaces each key of ``paths`` (e.g. the absolute output folder)
    by its value everywhere in the notebook, so the server's folder layout is not published.
    """
    path = Path(notebook)
    text = path.read_text(encoding="utf-8")
    for old, new in sorted((paths or {}).items(), key=lambda kv: -len(kv[0])):
        text = text.replace(json.dumps(old)[1:-1], json.dumps(new)[1:-1])
    nb = json.loads(text)
    timing = ("start_time", "end_time", "duration")
    pm_meta = nb.get("metadata", {}).get("papermill", {})
    for key in timing:
        pm_meta.pop(key, None)
    for key in ("input_path", "output_path"):
        if isinstance(pm_meta.get(key), str):
            pm_meta[key] = Path(pm_meta[key]).name
    for cell in nb.get("cells", []):
        meta = cell.get("metadata", {})
        meta.pop("execution", None)
        for key in timing:
            meta.get("papermill", {}).pop(key, None)
        if "injected-parameters" in meta.get("tags", []):
            cell["id"] = "injected-parameters"
    path.write_text(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def _is_start_collision(exc: BaseException) -> bool:
    text = f"{type(exc).__name__}: {exc}"
    return any(
        s in text
        for s in ("Address already in use", "ZMQError", "Kernel didn't respond", "Kernel died before")
    )


def run_notebook(
    notebook: str | Path,
    output: str | Path | None = None,
    parameters: Mapping[str, Any] | None = None,
    *,
    timeout: int = 900,
    progress_bar: bool = False,
    retries: int = 1,
    log_output: bool = False,
    quiet_kernel: bool = True,
) -> Path:
    """Validate parameters, then execute ``notebook`` with Papermill.

    Parameters
    ----------
    notebook
        The parameterised notebook (its first code cell tagged ``parameters``).
    output
        Where to write the executed notebook; default ``<output_dir>/<stem>.ipynb`` when the
        notebook has an ``output_dir`` parameter, else next to the input with ``.out.ipynb``.
    parameters
        Values by name (Python types kept as given, as when called from Python).
    timeout
        Seconds allowed per cell.
    retries
        Retries when the kernel fails to *start* (port collision); execution errors never retry.
    quiet_kernel
        Filter the kernel's start/shutdown log noise (:data:`KERNEL_NOISE`) from stderr.

    Returns
    -------
    Path
        The executed notebook.

    Raises
    ------
    ParameterError
        Before any kernel starts, for unknown names or invalid values.
    NotebookFailed
        When a cell raises; the message carries the notebook's error.
    """
    import papermill as pm

    nb_path = Path(notebook).resolve()
    declared = notebook_parameters(nb_path)
    params = dict(parameters or {})
    for name in PATH_PARAMETERS:
        if name in params and params[name] is not None:
            params[name] = str(Path(str(params[name])).expanduser().resolve())
    merged = {k: _default_value(v) for k, v in declared.items()}
    # Defaults hold paths relative to the notebook; resolve them as the kernel will see them.
    for name in PATH_PARAMETERS:
        if name in merged and name not in params and isinstance(merged[name], str):
            merged[name] = str((nb_path.parent / merged[name]).resolve())
    merged.update(params)
    validate_parameters(merged, declared=declared)
    if output is None:
        if "output_dir" in merged and merged["output_dir"]:
            output = Path(merged["output_dir"]) / f"{nb_path.stem}.ipynb"
        else:
            output = nb_path.with_suffix(".out.ipynb")
    output = Path(output).resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    engine_kwargs: dict[str, Any] = {}
    if quiet_kernel:
        engine_kwargs["kernel_manager_class"] = _quiet_kernel_manager()
    attempt = 0
    while True:
        try:
            with _figures_inline(os.environ.get(FIGURES_INLINE_ENV, "0")):
                _execute(nb_path, output, params, timeout, progress_bar, log_output, engine_kwargs)
            return output
        except pm.PapermillExecutionError as exc:
            raise NotebookFailed(
                f"{nb_path.name} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue} "
                f"(executed notebook written to {output})"
            ) from exc
        except Exception as exc:  # kernel start collisions surface as several exception types
            if attempt < retries and _is_start_collision(exc):
                attempt += 1
                time.sleep(1.0 + attempt)
                continue
            raise


#: Environment variable read by :mod:`naravard_analysis.report.figures` in a kernel: "1" shows
#: figures inline, "0" draws them off-screen only. Batch runs default to "0": an executed notebook
#: is an output, and a figure embedded as pixels cannot be checked for small counts (the
#: documentation build sets "1" for the tutorials, which run on synthetic data).
FIGURES_INLINE_ENV = "NARAVARD_FIGURES_INLINE"


@contextlib.contextmanager
def _figures_inline(value: str) -> Iterator[None]:
    """Set :data:`FIGURES_INLINE_ENV` for the kernels started inside the block."""
    before = os.environ.get(FIGURES_INLINE_ENV)
    os.environ[FIGURES_INLINE_ENV] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(FIGURES_INLINE_ENV, None)
        else:
            os.environ[FIGURES_INLINE_ENV] = before


def _execute(nb_path: Path, output: Path, params: dict, timeout: int, progress_bar: bool,
             log_output: bool, engine_kwargs: dict[str, Any]) -> None:
    import papermill as pm

    pm.execute_notebook(
        str(nb_path),
        str(output),
        parameters=params,
        kernel_name="python3",
        cwd=str(nb_path.parent),
        execution_timeout=timeout,
        progress_bar=progress_bar,
        log_output=log_output,
        request_save_on_cell_execute=False,
        **engine_kwargs,
    )
