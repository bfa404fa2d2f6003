"""Benchmark the synthetic world: wall time and peak memory of each preset.

Run: ``.venv/bin/python benchmarks/bench_synthetic.py [--quick] [--presets demo region scale]``

Each preset runs in a fresh subprocess so that its peak resident memory (ru_maxrss) is its own.
Prints, per preset, wall and CPU time of ``make_world`` (imports included), the part of it spent
in ``RegisterData`` validation, the time to write compressed Parquet (``to_dir``), peak memory,
row counts, and a naive comparison: the per-person Python loop for the frailty/admission step,
timed on one month of 20 000 persons, scaled to the preset's person-months and divided by the
preset's whole CPU time (a lower bound on the speed-up, since the loop does only one of about
ten steps). The machine's two cores are shared with other work, so wall times are noisy; CPU time
is the steadier figure.
Targets (issue 3): demo <= 15 s, region <= 3 min and <= 8 GB, scale <= 5 min.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np

CHILD = r"""
import json, resource, sys, time, tempfile
t0 = time.perf_counter(); c0 = time.process_time()
from naravard_analysis.data.bundle import RegisterData
from naravard_analysis.data.synthetic import make_world
# time spent in RegisterData validation (schema coercion, duplicate and identifier scans) inside
# make_world, reported apart from the generator itself
spent = {"wall": 0.0, "cpu": 0.0}
_validate = RegisterData.validate
def validate(self):
    w0, p0 = time.perf_counter(), time.process_time()
    try:
        return _validate(self)
    finally:
        spent["wall"] += time.perf_counter() - w0
        spent["cpu"] += time.process_time() - p0
RegisterData.validate = validate
kw = json.loads(sys.argv[1])
w = make_world(kw.pop("preset"), **kw)
t1 = time.perf_counter(); c1 = time.process_time()
with tempfile.TemporaryDirectory() as d:
    w.to_dir(d)
t2 = time.perf_counter(); c2 = time.process_time()
pop = w.population.groupby("year")["population"].sum()
print(json.dumps({"wall": t1 - t0, "cpu": c1 - c0, "valid_wall": spent["wall"],
                  "valid_cpu": spent["cpu"], "write": t2 - t1, "write_cpu": c2 - c1,
                  "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
                  "person_months": float(pop.mean()) * 12 * len(pop),
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
    # naive comparison: one month of the per-person loop, per person-month, measured here
    n = 20_000
    t_naive = naive_month(n)
    t_vec = vector_month(n)
    per_pm = t_naive / n
    print(f"one month, {n} persons: per-person loop {t_naive:.3f} s, vectorised {t_vec:.4f} s, "
          f"ratio {t_naive / max(t_vec, 1e-9):.0f}x  (frailty + admission step only)")
    print(f"{'preset':8} {'wall s':>7} {'cpu s':>7} {'valid s':>12} {'write s':>12} {'peak GB':>8}"
          f" {'naive s':>8} {'ratio':>6}  target")
    for preset in args.presets:
        kw = {"preset": preset, "seed": args.seed}
        if args.quick:
            kw["n_persons"] = {"demo": 5_000, "region": 30_000, "scale": 50_000}[preset]
        out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(kw)], capture_output=True,
                             text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        tw, tm = TARGETS[preset]
        ok = r["wall"] <= tw and (tm is None or r["peak_gb"] <= tm)
        # the per-person loop would need at least this for the frailty/admission step alone
        naive = per_pm * r["person_months"]
        print(f"{preset:8} {r['wall']:7.1f} {r['cpu']:7.1f} {r['valid_wall']:5.1f}/{r['valid_cpu']:<5.1f}cpu"
              f" {r['write']:5.1f}/{r['write_cpu']:<5.1f}cpu {r['peak_gb']:8.2f} {naive:8.0f}"
              f" {naive / r['cpu']:5.1f}x  {'ok' if ok else 'MISS'} ({tw} s"
              f"{'' if tm is None else f', {tm} GB'})")
        print(f"{'':8} rows {r['rows']}  enrolled={r['enrolled']}"
              f"  person-months={r['person_months']:.3g}")
    print("wall and cpu: make_world including validation; valid: RegisterData validation inside "
          "it (wall/cpu); write: to_dir (compressed Parquet). 2 shared cores: wall is noisy, CPU "
          "is the steadier figure. naive: per-person loop for the frailty/admission step alone, "
          "scaled to the preset's person-months; ratio = naive / make_world CPU.")


if __name__ == "__main__":
    main()
