"""Turn an executed notebook into publishable outputs: an HTML report without code, and a manifest.

The manifest (``manifest.json``) records the package version, the parameters, the sha256 of the
input data's manifest and the sha256 of every output file, so a reader can tell exactly what a
published figure was made from and whether a file was changed afterwards.

Examples
--------
>>> from naravard_analysis.report.publish import export_html, write_manifest  # doctest: +SKIP
>>> export_html("outputs/14/regional_report.ipynb", "outputs/14/report.html")  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from naravard_analysis import __version__
from naravard_analysis.data.bundle import MANIFEST_NAME, sha256_file

__all__ = ["export_html", "write_manifest", "OUTPUT_MANIFEST"]

OUTPUT_MANIFEST = "manifest.json"


def export_html(notebook: str | Path, html: str | Path, *, title: str | None = None) -> Path:
    """Write the executed ``notebook`` as HTML with code cells and prompts removed (nbconvert).

    Figures stay embedded as images, so the HTML file is self-contained.
    """
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(notebook), as_version=4)
    # The parameters cells are for the runner, not for readers of the report.
    nb.cells = [
        c
        for c in nb.cells
        if not {"parameters", "injected-parameters"} & set(c.get("metadata", {}).get("tags", []))
    ]
    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title or Path(html).stem}})
    out = Path(html)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(body, encoding="utf-8")
    return out


def write_manifest(
    output_dir: str | Path,
    *,
    parameters: Mapping[str, Any],
    data_dir: str | Path | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``manifest.json`` in ``output_dir`` listing every output file with its sha256.

    Parameters
    ----------
    output_dir
        Folder of one report's outputs.
    parameters
        The parameters the report was run with (paths are recorded relative to nothing: as given).
    data_dir
        The input RegisterData bundle; the sha256 of its manifest identifies the input data.
    extra
        More fields to record (e.g. run time).
    """
    root = Path(output_dir)
    files = {
        str(p.relative_to(root)): sha256_file(p)
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != OUTPUT_MANIFEST
    }
    manifest: dict[str, Any] = {
        "package": "naravard_analysis",
        "version": __version__,
        "parameters": {k: (str(v) if isinstance(v, Path) else v) for k, v in parameters.items()},
        "input_manifest_sha256": (
            sha256_file(Path(data_dir) / MANIFEST_NAME)
            if data_dir is not None and (Path(data_dir) / MANIFEST_NAME).is_file()
            else None
        ),
        "outputs": files,
    }
    if extra:
        manifest.update(extra)
    path = root / OUTPUT_MANIFEST
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str), encoding="utf-8")
    return path
