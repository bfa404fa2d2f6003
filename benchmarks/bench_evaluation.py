"""Benchmark and coverage study of evaluate_enrolments.

Usage::

    .venv/bin/python benchmarks/bench_evaluation.py            # region preset (~300 000 persons)
    .venv/bin/python benchmarks/bench_evaluation.py --quick    # demo preset
    .venv/bin/python benchmarks/bench_evaluation.py --data-dir DIR   # a saved world (RegisterData.to_dir)
    .venv/bin/python benchmarks/bench_evaluation.py --coverage [--seeds 100] [--persons 3000]
        [--effects none|default]

Timing mode prints wall time and peak memory of a full evaluation with the default design
(sequential target-trial emulation, all three outcomes, with its placebo, negative-control and
pre-trend checks), of the previous matched DiD, of ``listing_effect`` (target trial and the
person-time Poisson association), and compares the vectorised risk-set matching with a naive per-case loop (covariates of the
whole risk set recomputed for each case with pandas, then the nearest control), timed on a few
cases and extrapolated to all of them. Coverage mode builds ``--seeds`` small synthetic worlds and
reports how often the matched design's 95 % interval covers the truth (1 in the no-effect world;
the oracle's sample rate ratio in the effect world). The machine is shared (2 cores): timings are
noisy.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import pandas as pd


def coverage_study(n_seeds: int = 100, n_persons: int = 3000, effects: str = "none",
                   start_seed: int = 1000, verbose: bool = False, design: str = "trial") -> pd.DataFrame:
    """One row per seed and outcome: estimate, interval, truth, ``covers``, naive change."""
    from naravard_analysis.data.synthetic import make_world
    from naravard_analysis.methods.evaluation import evaluate_enrolments

    rows = []
    for s in range(start_seed, start_seed + n_seeds):
        w = make_world("demo", n_persons=n_persons, seed=s, effects=None if effects == "default" else effects)
        res = evaluate_enrolments(w, design=design)
        oracle = w.meta["truth"]["mobile_team"]["oracle"]
        for o, r in res.estimates.iterrows():
            truth = 1.0 if effects == "none" else oracle[o]["oracle_rate_ratio"]
            ok = np.isfinite(r["lower"]) and truth is not None
            rows.append({"seed": s, "outcome": o, "estimate": r["estimate"], "lower": r["lower"],
                         "upper": r["upper"], "truth": truth, "n_cases": r["n_cases"],
                         "naive_change": r["naive_change"],
                         "covers": bool(ok and r["lower"] <= truth <= r["upper"]) if ok else np.nan})
        if verbose:
            print(f"seed {s}: " + ", ".join(f"{r['outcome']} {r['estimate']:.2f} [{r['lower']:.2f}, "
                                            f"{r['upper']:.2f}]" for r in rows[-3:]), flush=True)
    return pd.DataFrame(rows)


def _naive_match(data, n_cases: int) -> float:
    """Seconds per case of a per-case pandas matcher (the shape the issue forbids)."""
    adm = data.admissions[~data.admissions["planned"]]
    persons = data.persons.set_index("person_id")
    enr = data.enrolments.sort_values("start_date").head(n_cases)
    t0 = time.perf_counter()
    for _, case in enr.iterrows():
        d = case["start_date"]
        window = adm[(adm["admission_date"] < d) & (adm["admission_date"] >= d - pd.Timedelta(days=182))]
        counts = window.groupby("person_id").size().reindex(persons.index, fill_value=0)
        age = (d - persons["birth_date"]).dt.days / 365.25
        pool = counts[(age >= 65) & (persons.index != case["person_id"])]
        target = counts.get(case["person_id"], 0)
        (pool - target).abs().nsmallest(5)
    return (time.perf_counter() - t0) / len(enr)


def timing(preset: str, data_dir: str | None = None) -> None:
    import warnings

    from naravard_analysis.data import RegisterData
    from naravard_analysis.data.synthetic import make_world
    from naravard_analysis.methods.evaluation import evaluate_enrolments, listing_effect

    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    world = RegisterData.from_dir(data_dir) if data_dir else make_world(preset, seed=0)
    print(f"world {data_dir or preset}: {len(world.persons):,} persons, {len(world.admissions):,} admissions, "
          f"{len(world.contacts):,} contacts, {len(world.enrolments):,} enrolments "
          f"(built in {time.perf_counter() - t0:.0f} s)")
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    trial = evaluate_enrolments(world)
    wall_trial = time.perf_counter() - t0
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"evaluate_enrolments (default trial design with its checks, 3 outcomes): {wall_trial:.1f} s; "
          f"process peak RSS {rss1:.0f} MiB ({rss0:.0f} MiB after building the world)")
    print(trial.estimates[["naive_change", "estimate", "lower", "upper", "estimate_itt", "n_cases",
                           "n_controls"]].round(3))
    print(trial.sensitivity.round(3).T)
    print(trial.matching[["n_cases", "share"]])
    t0 = time.perf_counter()
    res = evaluate_enrolments(world, design="matched_did")
    wall = time.perf_counter() - t0
    print(f"evaluate_enrolments (matched_did, 3 outcomes): {wall:.1f} s")
    t0 = time.perf_counter()
    evaluate_enrolments(world, design="pre_post")
    print(f"evaluate_enrolments (pre_post): {time.perf_counter() - t0:.1f} s")
    per_case = _naive_match(world, 20)
    n = res.settings["n_enrolled"]
    print(f"naive per-case pandas matcher (admissions only, one covariate): {per_case:.3f} s/case "
          f"-> {per_case * n:.0f} s for {n:,} cases (extrapolated), "
          f"ratio {per_case * n / wall:.1f}x the whole vectorised evaluation")
    print(res.estimates[["naive_change", "estimate", "lower", "upper", "n_cases", "n_controls"]].round(3))
    print(res.matching[["n_cases", "share"]])
    t0 = time.perf_counter()
    le = listing_effect(world)
    print(f"listing_effect (trial design with its checks): {time.perf_counter() - t0:.1f} s; "
          f"{le.estimate:.3f} ({le.lower:.3f}-{le.upper:.3f}), ITT {le.estimate_itt:.3f}")
    t0 = time.perf_counter()
    lp = listing_effect(world, design="poisson")
    print(f"listing_effect (poisson association): {time.perf_counter() - t0:.1f} s; "
          f"{lp.estimate:.3f} ({lp.lower:.3f}-{lp.upper:.3f})")
    rss2 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process peak RSS {rss2:.0f} MiB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="demo preset instead of region")
    ap.add_argument("--coverage", action="store_true", help="run the coverage study")
    ap.add_argument("--seeds", type=int, default=100)
    ap.add_argument("--persons", type=int, default=3000)
    ap.add_argument("--effects", default="none", choices=["none", "default"])
    ap.add_argument("--design", default="trial", choices=["trial", "matched_did", "pre_post"])
    ap.add_argument("--data-dir", default=None, help="time on a saved world instead of building one")
    ap.add_argument("--out", default=None, help="CSV for the per-seed coverage table")
    a = ap.parse_args()
    if a.coverage:
        t0 = time.perf_counter()
        tab = coverage_study(a.seeds, a.persons, a.effects, verbose=True, design=a.design)
        if a.out:
            tab.to_csv(a.out, index=False)
        summ = tab.groupby("outcome").agg(coverage=("covers", "mean"), n_seeds=("covers", "count"),
                                          median_estimate=("estimate", "median"),
                                          median_naive_change=("naive_change", "median"),
                                          median_cases=("n_cases", "median"))
        print(f"coverage over {a.seeds} seeds ({a.persons} persons, effects={a.effects}), "
              f"{time.perf_counter() - t0:.0f} s:")
        print(summ.round(3))
    else:
        timing("demo" if a.quick else "region", a.data_dir)


if __name__ == "__main__":
    main()
