"""Run every ``benchmarks/bench_*.py`` and print one table (``make bench``).

Each script runs in its own process (``--quick`` unless ``--full``). The table has one row per
script -- wall time, CPU time (user + system of the script and its children, e.g. Dask workers) and
peak resident memory of the largest process, measured from outside -- followed by the rows a script
adds itself with :func:`benchmarks._table.record` for the figures it compares with a named
reference (naive per-person apply, DuckDB SQL, pandas vs Dask) and their ratio. A script that fails
is reported as failed and the others still run. The rows are also written as JSON lines
(``--out``) so that runs can be compared.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _table import render  # noqa: E402


def run(script: Path, extra: list[str], results: Path, log_dir: Path) -> dict:
    env = dict(os.environ, NARAVARD_BENCH_RESULTS=str(results))
    log = log_dir / f"{script.stem}.log"
    t0 = time.perf_counter()
    with open(log, "w", encoding="utf-8") as f:
        proc = subprocess.Popen([sys.executable, str(script), *extra], stdout=f,
                                stderr=subprocess.STDOUT, env=env)
        # wait4: this script's own resource use (its process and the children it waited for)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    cpu = usage.ru_utime + usage.ru_stime
    peak = usage.ru_maxrss / 2**20  # KiB on Linux: the largest process of the script
    status = "ok" if proc.returncode == 0 else f"FAILED (exit {proc.returncode}, see {log})"
    return {"benchmark": f"{script.name} (whole script)", "wall_s": wall, "cpu_s": cpu,
            "peak_gib": peak, "reference": "", "ratio": None, "note": status}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full", action="store_true", help="full sizes instead of --quick")
    ap.add_argument("--only", default="", help="comma-separated script stems, e.g. bench_dask")
    ap.add_argument("--out", type=Path, default=None, help="JSON lines of every row")
    args = ap.parse_args()

    scripts = sorted(HERE.glob("bench_*.py"))
    if args.only:
        keep = set(args.only.split(","))
        scripts = [s for s in scripts if s.stem in keep]
    log_dir = Path(tempfile.mkdtemp(prefix="naravard_bench_"))
    results = log_dir / "rows.jsonl"
    results.touch()
    rows: list[dict] = []
    failed = False
    for script in scripts:
        print(f"== {script.name}", flush=True)
        row = run(script, [] if args.full else ["--quick"], results, log_dir)
        failed |= row["note"] != "ok"
        rows.append(row)
        print(f"   {row['wall_s']:.1f} s, {row['note']}", flush=True)
    recorded = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    all_rows = rows + recorded
    print()
    print(f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}; logs in {log_dir}")
    print(render(all_rows))
    if args.out:
        args.out.write_text("".join(json.dumps(r) + "\n" for r in all_rows))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
