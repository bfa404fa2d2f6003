"""Benchmark of synth_did (synthetic control / synthetic DiD).

Three measurements:

1. Proposition 99 (39 states × 31 years, the R synthdid example): one fit of each estimator.
2. The placebo standard error (200 replications): the replications solved as one numpy stack (the
   package) against one Frank-Wolfe run per replication (what a direct port of R's loop does); the
   loop is timed on ``--loop-reps`` replications and scaled to 200.
3. A national municipality panel, 290 units × 10 years with staggered starts (cohort averaging) and
   the jackknife standard error.

Run: ``.venv/bin/python benchmarks/bench_synth.py`` (``--quick`` for fewer replications). Timings on a
shared 2-core machine are noisy: wall and CPU time are both printed, with the load average.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
import pandas as pd
from _table import record  # benchmarks/_table.py (the make bench table)

from naravard_analysis.data import official
from naravard_analysis.methods import synth
from naravard_analysis.methods.synth import synth_did

KW = {"unit": "State", "time": "Year", "outcome": "PacksPerCapita", "treated": "treated"}


def timed(label: str, fn):
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    timed.wall, timed.cpu = time.perf_counter() - w0, time.process_time() - c0
    print(f"{label:<58} wall {timed.wall:7.2f} s   cpu {timed.cpu:7.2f} s")
    return out


def municipality_panel(n_units: int = 290, n_years: int = 10, seed: int = 0) -> pd.DataFrame:
    """Staggered starts from year 4 on, a quarter never treated, effect -2 after the start."""
    rng = np.random.default_rng(seed)
    years = np.arange(2014, 2014 + n_years)
    start = np.where(rng.random(n_units) < 0.25, 9999, rng.choice(years[3:], size=n_units))
    g = rng.uniform(0, 2, n_units)
    y = (rng.normal(0, 1, (n_units, 1)) + g[:, None] * np.arange(n_years)[None, :] / 5
         + rng.normal(0, 0.3, (n_units, n_years)))
    w = (years[None, :] >= start[:, None]).astype(int)
    y = y - 2 * w
    return pd.DataFrame({"unit": np.repeat(np.arange(n_units), n_years), "year": np.tile(years, n_units),
                         "y": y.ravel(), "w": w.ravel()})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="50 placebo replications, 3 in the loop")
    ap.add_argument("--loop-reps", type=int, default=10)
    args = ap.parse_args()
    reps = 50 if args.quick else 200
    loop_reps = 3 if args.quick else args.loop_reps
    print(f"load average {os.getloadavg()}")
    warnings.simplefilter("ignore")  # the jackknife is undefined with one treated unit (announced)
    d = pd.read_csv(official.reference_dir() / "synthdid" / "california_prop99.csv", sep=";")
    for m in synth.METHODS:
        timed(f"Prop 99 {m}: point estimate (jackknife: undefined, no draws)",
              lambda m=m: synth_did(d, **KW, method=m, se="jackknife"))

    p = synth._prepare(d, "State", "Year", "PacksPerCapita", "treated", True)
    base = synth._cohorts(p.Y, p.adopt, "sdid")
    se = timed(f"Prop 99 sdid placebo se, {reps} replications as one stack",
               lambda: synth._placebo_se(p, base, "sdid", reps, np.random.default_rng(0))[0])
    stack_wall, stack_cpu = timed.wall, timed.cpu

    def loop() -> float:
        rng = np.random.default_rng(0)
        controls = np.flatnonzero(p.adopt >= p.Y.shape[1])
        adopt = np.r_[np.full(len(controls) - 1, p.Y.shape[1]), p.adopt[-1]]
        est = []
        for _ in range(loop_reps):
            rows = rng.permutation(controls)[None]
            est.append(synth._fit(p.Y[rows], adopt, "sdid", source=rows, base=base)[0][0])
        return float(np.std(est))

    w0 = time.perf_counter()
    timed(f"Prop 99 sdid placebo se, {loop_reps} replications one by one", loop)
    per = (time.perf_counter() - w0) / loop_reps
    print(f"{'  -> one by one, scaled to ' + str(reps):<58} wall {per * reps:7.2f} s   (se {se:.4f})")
    record(f"synth: Prop 99 sdid placebo se ({reps} draws, one stack)", wall_s=stack_wall,
           cpu_s=stack_cpu, reference=f"one draw at a time (scaled from {loop_reps})",
           ratio=stack_wall / (per * reps))

    panel = municipality_panel()
    res = timed("290 municipalities x 10 years, 7 cohorts, sdid + jackknife",
                lambda: synth_did(panel, unit="unit", time="year", outcome="y", treated="w",
                                  se="jackknife"))
    print(f"  estimate {res.estimate:.3f} (truth -2), se {res.se:.3f}")
    record("synth: 290 municipalities x 10 years, 7 cohorts, jackknife", wall_s=timed.wall,
           cpu_s=timed.cpu, note=f"estimate {res.estimate:.3f} (truth -2)")


if __name__ == "__main__":
    main()
