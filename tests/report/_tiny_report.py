"""A small parameterised report notebook for the batch-runner tests (seconds, not minutes)."""

from __future__ import annotations

from pathlib import Path

import nbformat

PARAMETERS = '''region_code = "14"  # region
data_dir = "."  # data bundle
output_dir = "out"  # outputs
min_count = 5  # threshold
language = "sv"  # language
mode = "ok"  # ok, fail or sleep
'''

BODY = '''import os
import time
from pathlib import Path

import pandas as pd
from IPython.display import Markdown, display

from naravard_analysis.report.disclosure import check_outputs, suppress
from naravard_analysis.report.figures import plot_bars, save_figure, set_theme
from naravard_analysis.report.tables import write_tables

set_theme()
out = Path(output_dir)
t = suppress(pd.DataFrame({"kommun": ["A", "B", "Totalt"], "antal": [40, 50, 90]}), "antal")
save_figure(plot_bars(t.iloc[:2], x="kommun", y="antal"), t, "bars", out / "figures",
            count_cols=["antal"])
if mode == "sleep":
    (out / "started").write_text("")
    time.sleep(120)
if mode == "fail":
    raise RuntimeError("planned failure")
if mode == "stderr":
    os.write(2, b"real kernel problem\\n")
write_tables({"kommuner": t}, out / "tables.xlsx", count_cols=["antal"])
display(Markdown(f"Rapport för region {region_code}."))
check_outputs(output_dir, min_count=min_count)
'''


def tiny_report(folder: Path) -> Path:
    """Write the notebook into ``folder`` and return its path."""
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(PARAMETERS)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(BODY)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = Path(folder) / "tiny_report.ipynb"
    nbformat.write(nb, path)
    return path
