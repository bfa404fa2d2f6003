"""Benchmark of naravard_analysis.methods.its.

Targets (issue 7): one 10-year monthly series <= 50 ms; 290 municipalities x 5 indicators <= 60 s.

Measures
- single: median wall time of ``fit_its`` (quasi-Poisson, population offset, 2 Fourier pairs, effects
  table built) on a 120-month series, against the peer a researcher would write by hand: a statsmodels
  formula GLM (``smf.glm`` with patsy terms and ``offset``) on the same series, with ``conf_int``;
- batch: ``fit_its_many`` over 290 municipalities x 5 indicators (1450 series), wall time and peak
  memory (process peak RSS), against the formula-GLM loop on a sample of the same series (extrapolated).

Run: ``.venv/bin/python benchmarks/bench_its.py`` (``--quick`` for 30 municipalities). The machine is
shared, so timings are noisy; CPU time is printed beside wall time.
"""

from __future__ import annotations

import argparse
import resource
import time
import warnings

import numpy as np
import pandas as pd
import statsmodels.api as sm
import statsmodels.formula.api as smf

from naravard_analysis.methods.its import fit_its, fit_its_many

INDICATORS = ["avoidable", "ed_visits", "readmissions", "primary_care", "admissions"]


def make_panel(n_muni: int, n_months: int = 120, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    months = pd.date_range("2015-01-01", periods=n_months, freq="MS")
    t = np.arange(n_months)
    rows = []
    for m in range(n_muni):
        pop = rng.integers(2_500, 900_000) * (1 + 0.001 * t)
        base = {}
        for j, ind in enumerate(INDICATORS):
            mu = pop * np.exp(-8 + 0.5 * j + 0.001 * t - 0.1 * (t >= 60) + 0.1 * np.sin(2 * np.pi * t / 12))
            base[ind] = rng.poisson(mu)
        rows.append(pd.DataFrame({"municipality_code": f"{m:04d}", "month": months, "population": pop, **base}))
    return pd.concat(rows, ignore_index=True)


OPTS = dict(time="month", interruption="2020-01-01", family="quasipoisson", exposure="population", harmonics=2)


def peer_fit(d: pd.DataFrame, outcome: str) -> pd.DataFrame:
    """Hand-written statsmodels formula version of the same model."""
    d = d.assign(t=np.arange(len(d)), x=(d["month"] >= "2020-01-01").astype(int))
    d["xt"] = d["x"] * (d["t"] - 60)
    a = 2 * np.pi * d["month"].dt.month / 12
    d = d.assign(s1=np.sin(a), c1=np.cos(a), s2=np.sin(2 * a), c2=np.cos(2 * a))
    res = smf.glm(f"{outcome} ~ t + x + xt + s1 + c1 + s2 + c2", d, offset=np.log(d["population"]),
                  family=sm.families.Poisson()).fit(scale="X2")
    return np.exp(res.conf_int())


def timed(fn, reps: int) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(reps):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return float(np.median(walls)), float(np.median(cpus))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n_muni = 30 if args.quick else 290

    one = make_panel(1)
    w, c = timed(lambda: fit_its(one, outcome="avoidable", **OPTS).effects, 50)
    pw, pc = timed(lambda: peer_fit(one, "avoidable"), 50)
    print(f"single 120-month series: fit_its {w * 1e3:.1f} ms wall ({c * 1e3:.1f} ms CPU); "
          f"formula GLM peer {pw * 1e3:.1f} ms wall ({pc * 1e3:.1f} ms CPU); ratio {pw / w:.2f}x; "
          f"target <= 50 ms: {'OK' if w <= 0.05 else 'MISSED'}")

    panel = make_panel(n_muni)
    w0, c0 = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tidy = fit_its_many(panel, by="municipality_code", outcome=INDICATORS, progress=False, **OPTS)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    n_series = n_muni * len(INDICATORS)
    n_fail = int((tidy["error"] != "").sum())
    sample = panel[panel["municipality_code"].isin(panel["municipality_code"].unique()[:10])]
    p0 = time.perf_counter()
    for _, sub in sample.groupby("municipality_code"):
        for ind in INDICATORS:
            peer_fit(sub.reset_index(drop=True), ind)
    peer_total = (time.perf_counter() - p0) / (10 * len(INDICATORS)) * n_series
    print(f"batch {n_muni} municipalities x {len(INDICATORS)} indicators = {n_series} series: "
          f"{wall:.1f} s wall ({cpu:.1f} s CPU), peak RSS {peak:.0f} MiB, failures {n_fail}; "
          f"formula-GLM loop (extrapolated from 50 series) {peer_total:.1f} s; ratio {peer_total / wall:.2f}x; "
          f"target <= 60 s: {'OK' if wall <= 60 or args.quick else 'MISSED'}")


if __name__ == "__main__":
    main()
