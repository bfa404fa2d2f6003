"""Benchmark of the regional report (issue: regional reports and papers).

Measures, in one run:

1. the regional report for region 14 on the ``demo`` world (target <= 90 s);
2. ``naravard report --regions all`` on demo-size synthetic worlds with ``--jobs 2`` (target <= 10 min),
   and the same regions with ``--jobs 1`` for the ratio (``--quick``: three regions only);
3. with ``--region-preset``: the report on the ``region`` preset (about 300 000 persons; target <= 5 min).

Wall and CPU time (this process and its children) are printed; the synthetic worlds are generated
before timing the reports, so the figures are report time only.

Run: ``.venv/bin/python benchmarks/bench_report.py [--quick] [--region-preset]``
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from naravard_analysis.data.official import regions
from naravard_analysis.data.synthetic import make_world
from naravard_analysis.report.batch import run_reports


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed(label: str, fn):
    t0, c0 = time.perf_counter(), cpu_seconds()
    result = fn()
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    print(f"{label:<48} wall {wall:8.1f} s   cpu {cpu:8.1f} s", flush=True)
    return result, wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="three regions instead of 21")
    parser.add_argument("--region-preset", action="store_true", help="also time the region preset")
    parser.add_argument("--work", default=None, help="keep worlds and reports in this folder")
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="naravard-bench-report-"))
    codes = ["01", "14", "25"] if args.quick else list(regions()["region_code"])
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; work folder {work}")

    data = work / "worlds"
    _, synth_wall = timed(
        f"generate {len(codes)} demo worlds",
        lambda: [make_world("demo", region=c, seed=0).to_dir(data / c) for c in codes if not (data / c / "manifest.json").exists()],
    )
    summary, one = timed("report, region 14, demo world", lambda: run_reports("14", data=data, out=work / "one", progress=False))
    assert summary["status"].eq("ok").all(), summary
    s2, wall2 = timed(f"report, {len(codes)} regions, --jobs 2", lambda: run_reports(codes, data=data, out=work / "jobs2", jobs=2, progress=False))
    s1, wall1 = timed(f"report, {len(codes)} regions, --jobs 1", lambda: run_reports(codes, data=data, out=work / "jobs1", jobs=1, progress=False))
    print(f"\nregion 14 demo report: {one:.1f} s (target <= 90 s)")
    print(f"{len(codes)} regions with --jobs 2: {wall2:.1f} s (target for 21: <= 600 s); "
          f"--jobs 1 / --jobs 2 = {wall1 / wall2:.2f}x")
    print(f"failed regions: {int((s2['status'] != 'ok').sum())} with jobs 2, {int((s1['status'] != 'ok').sum())} with jobs 1")
    if args.region_preset:
        big = work / "region14"
        timed("generate region preset (14)", lambda: make_world("region", region="14", seed=0).to_dir(big))
        s, wall = timed("report, region preset", lambda: run_reports("14", data=big, out=work / "big", progress=False))
        print(f"region-preset report: {wall:.1f} s (target <= 300 s), status {s.loc[0, 'status']}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
    print(f"peak memory of a child process: {peak:.2f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
