"""Benchmark of staggered_did (Callaway & Sant'Anna) against a naive per-cell pandas implementation.

Sizes: 290 municipalities × 10 years (a national municipality roll-out) and 5 000 units × 10 years.
Both run the doubly robust estimator with one covariate and the not-yet-treated comparison group; the
naive version filters the long table, pivots and fits statsmodels GLM/OLS in every (g, t) cell, and
computes point estimates only (no influence functions), so the ratio understates the saving.

Run: ``.venv/bin/python benchmarks/bench_did.py`` (``--quick`` for small sizes). Timings on a shared
2-core machine are noisy; the best of ``--repeat`` runs is reported.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
import warnings

import numpy as np
import pandas as pd
import statsmodels.api as sm

from naravard_analysis.methods.did import staggered_did


def make_panel(n_units: int, n_years: int = 10, seed: int = 0) -> pd.DataFrame:
    """Municipality-year panel: staggered starts from year 3, a quarter never treated, effect 0.1/yr."""
    rng = np.random.default_rng(seed)
    years = np.arange(2015, 2015 + n_years)
    starts = np.r_[0, years[2:]]
    g = rng.choice(starts, size=n_units, p=np.r_[0.25, np.full(len(starts) - 1, 0.75 / (len(starts) - 1))])
    x = rng.normal(size=n_units)
    alpha = rng.normal(size=n_units) + 0.5 * x
    yy = np.tile(years, n_units)
    gg = np.repeat(g, n_years)
    exposure = np.where((gg > 0) & (yy >= gg), yy - gg + 1, 0)
    y = (np.repeat(alpha, n_years) + 0.05 * (yy - years[0]) + 0.02 * np.repeat(x, n_years) * (yy - years[0])
         - 0.1 * exposure + rng.normal(scale=0.3, size=yy.size))
    return pd.DataFrame({"municipality": np.repeat(np.arange(n_units), n_years), "year": yy,
                         "start": gg, "x": np.repeat(x, n_years), "rate": y})


def naive_did(panel: pd.DataFrame) -> pd.DataFrame:
    """Per-cell pandas DR DiD (not-yet-treated, varying base), point estimates only."""
    years = sorted(panel["year"].unique())
    groups = sorted(g for g in panel["start"].unique() if g > years[0])
    out = []
    for g in groups:
        for i in range(1, len(years)):
            t = years[i]
            base = years[i - 1] if t < g else max(y for y in years if y < g)
            sub = panel[panel["year"].isin([base, t])]
            sub = sub[(sub["start"] == g) | (sub["start"] == 0) | (sub["start"] > t)]
            wide = sub.pivot(index="municipality", columns="year", values="rate")
            unit = sub.groupby("municipality")[["start", "x"]].first()
            dy = (wide[t] - wide[base]).rename("dy")
            cell = unit.join(dy)
            d = (cell["start"] == g).astype(float)
            xmat = sm.add_constant(cell[["x"]])
            ps = sm.GLM(d, xmat, family=sm.families.Binomial()).fit().predict(xmat)
            ols = sm.OLS(cell.loc[d == 0, "dy"], xmat[d == 0]).fit()
            resid = cell["dy"] - ols.predict(xmat)
            w_t = d
            w_c = ps * (1 - d) / (1 - ps)
            att = (w_t * resid).sum() / w_t.sum() - (w_c * resid).sum() / w_c.sum()
            out.append((g, t, att))
    return pd.DataFrame(out, columns=["group", "time", "att"])


def measure(fn, repeat: int):
    """Best wall time of ``repeat`` runs, then one traced run for peak memory (tracemalloc slows it)."""
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, best, peak / 2**20


def run(n_units: int, repeat: int) -> None:
    panel = make_panel(n_units)

    def ours():
        res = staggered_did(panel, outcome="rate", unit="municipality", time="year",
                            first_treated="start", control_group="notyet", estimator="dr",
                            covariates=["x"])
        aggs = {k: res.aggregate(k) for k in ("simple", "dynamic", "group", "calendar")}
        return res, aggs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (res, aggs), t_ours, m_ours = measure(ours, repeat)
        naive, t_naive, m_naive = measure(lambda: naive_did(panel), repeat)
    merged = res.att_gt.merge(naive, on=["group", "time"], suffixes=("", "_naive"))
    diff = float(np.nanmax(np.abs(merged["att"] - merged["att_naive"])))
    print(f"{n_units:>6} units × 10 years ({len(panel):,} rows, {len(res.att_gt)} ATT(g,t) cells)")
    print(f"  staggered_did + 4 aggregations : {t_ours:8.3f} s   peak {m_ours:7.1f} MiB")
    print(f"  naive per-cell pandas (ATT only): {t_naive:8.3f} s   peak {m_naive:7.1f} MiB")
    print(f"  ratio naive / ours             : {t_naive / t_ours:8.1f}×   max |ΔATT| = {diff:.1e}")
    dyn = aggs["dynamic"]
    print(f"  dynamic overall ATT {dyn.att:.4f} (SE {dyn.se:.4f}); true mean over e = 0..7: "
          f"{-0.1 * np.mean(np.arange(1, 9)):.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = [60, 500] if args.quick else [290, 5000]
    for n in sizes:
        run(n, 1 if args.quick else args.repeat)


if __name__ == "__main__":
    main()
