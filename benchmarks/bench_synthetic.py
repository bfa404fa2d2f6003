"""Benchmark the synthetic world: wall time and peak memory of each preset.

Run: ``.venv/bin/python benchmarks/bench_synthetic.py [--quick] [--presets demo region scale]``

Each preset runs in a fresh subprocess so that its peak resident memory (ru_maxrss) is its own.
Prints wall time, CPU time, peak memory, row counts and the time to write compressed Parquet, plus
a naive comparison: the per-person Python loop for the frailty/admission step of one month, timed
on a sample and scaled, against the vectorised month of the real generator. The machine's two
cores are shared with other work, so wall times are noisy; CPU time is the steadier figure.
Targets (issue 3): demo <= 15 s, region <= 3 min and <= 8 GB, scale <= 5 min.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time

import numpy as np

CHILD = r"""
import json, resource, sys, time, tempfile
t0 = time.perf_counter(); c0 = time.process_time()
from naravard_analysis.data.synthetic import make_world
kw = json.loads(sys.argv[1])
w = make_world(kw.pop("preset"), **kw)
t1 = time.perf_counter(); c1 = time.process_time()
with tempfile.TemporaryDirectory() as d:
    w.to_dir(d)
t2 = time.perf_counter()
print(json.dumps({"wall": t1 - t0, "cpu": c1 - c0, "write": t2 - t1,
                  "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
                  "rows": {k: len(v) for k, v in w.tables.items()},
                  "enrolled": w.meta["truth"]["mobile_team"]["n_enrolled"]}))
"""

TARGETS = {"demo": (15, None), "region": (180, 8.0), "scale": (300, None)}


def naive_month(n: int, seed: int = 0) -> float:
    """Seconds for one month of a per-person Python loop (frailty + admissions) over n persons."""
    rng = np.random.default_rng(seed)
    s = np.zeros(n)
    a = rng.normal(0, 0.6, n)
    t = time.perf_counter()
    for i in range(n):  # the naive design this package avoids
        jump = rng.exponential(1.4) if rng.random() < 0.012 else 0.0
        s[i] = 0.75 * s[i] + jump + rng.normal(0, 0.15)
        k = rng.poisson(0.1 * np.exp(a[i] + s[i]) / 12)
        for _ in range(k):
            rng.integers(0, 30)
    return time.perf_counter() - t


def vector_month(n: int, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    s = np.zeros(n)
    a = rng.normal(0, 0.6, n)
    t = time.perf_counter()
    jump = (rng.random(n) < 0.012) * rng.exponential(1.4, n)
    s = 0.75 * s + jump + rng.normal(0, 0.15, n)
    k = rng.poisson(0.1 * np.exp(a + s) / 12)
    rng.integers(0, 30, size=int(k.sum()))
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (demo at 5 000, region at 30 000)")
    ap.add_argument("--presets", nargs="+", default=["demo", "region", "scale"])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print(f"{'preset':8} {'wall s':>8} {'cpu s':>8} {'write s':>8} {'peak GB':>8}  target  rows")
    for preset in args.presets:
        kw = {"preset": preset, "seed": args.seed}
        if args.quick:
            kw["n_persons"] = {"demo": 5_000, "region": 30_000, "scale": 50_000}[preset]
        out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(kw)], capture_output=True,
                             text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        tw, tm = TARGETS[preset]
        ok = r["wall"] <= tw and (tm is None or r["peak_gb"] <= tm)
        print(f"{preset:8} {r['wall']:8.1f} {r['cpu']:8.1f} {r['write']:8.1f} {r['peak_gb']:8.2f}"
              f"  {'ok' if ok else 'MISS'} ({tw} s{'' if tm is None else f', {tm} GB'})"
              f"  {r['rows']}  enrolled={r['enrolled']}")
    n = 20_000
    t_naive = naive_month(n)
    t_vec = vector_month(n)
    print(f"one month, {n} persons: per-person loop {t_naive:.3f} s, vectorised {t_vec:.4f} s, "
          f"ratio {t_naive / max(t_vec, 1e-9):.0f}x")
    _ = tempfile


if __name__ == "__main__":
    main()
