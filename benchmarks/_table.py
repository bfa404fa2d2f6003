"""One row per measured figure, collected by ``benchmarks/run_all.py`` into the ``make bench`` table.

A benchmark script calls :func:`record` for each figure it wants in the table (wall and CPU time,
peak memory, the reference it is compared with and the ratio). Outside ``run_all.py`` the call only
prints the row. Rows are appended as JSON lines to the file named by ``NARAVARD_BENCH_RESULTS``.
"""

from __future__ import annotations

import json
import os

COLUMNS = ("benchmark", "wall_s", "cpu_s", "peak_gib", "reference", "ratio", "note")


def record(benchmark: str, *, wall_s: float, cpu_s: float | None = None,
           peak_gib: float | str | None = None, reference: str = "", ratio: float | None = None,
           note: str = "") -> None:
    """Add one row to the table (``ratio`` = this figure's wall time / the reference's)."""
    row = dict(zip(COLUMNS, (benchmark, wall_s, cpu_s, peak_gib, reference, ratio, note),
                   strict=True))
    path = os.environ.get("NARAVARD_BENCH_RESULTS")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
    print("[table] " + json.dumps(row))


def render(rows: list[dict]) -> str:
    """The rows as one aligned text table."""
    def fmt(v: object) -> str:
        if v is None or v == "":
            return "-"
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 100 else f"{v:,.0f}"
        return str(v)

    cells = [list(COLUMNS)] + [[fmt(r.get(c)) for c in COLUMNS] for r in rows]
    width = [max(len(row[i]) for row in cells) for i in range(len(COLUMNS))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(row, width, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in width))
    return "\n".join(lines)
