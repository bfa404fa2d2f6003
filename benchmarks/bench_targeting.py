"""Coverage study: do the evaluation designs recover the truth when roll-outs are targeted?

Usage::

    .venv/bin/python benchmarks/bench_targeting.py --quick             # 3 seeds per cell, minutes
    .venv/bin/python benchmarks/bench_targeting.py --seeds 100 --out results.csv
    .venv/bin/python benchmarks/bench_targeting.py --summarise results.csv   # table of a run

Cells: the four scenarios of :mod:`naravard_analysis.data.synthetic.scenarios` (mobile teams and
named doctors, targeting on and off) × ``effects="none"`` and the known effect (0.70 for teams on
unplanned admissions, 0.85 for named doctors on avoidable admissions), ``--seeds`` worlds each,
``coverage`` preset. In every world each design is run through the package's public API:

mobile teams (:func:`~naravard_analysis.methods.evaluation.evaluate_enrolments`)
    ``default`` (whatever ``design`` defaults to), ``matched_did`` (the previous default,
    risk-set matching with pseudo-index dates) and ``pre_post`` (naive before/after);
named doctors (:func:`~naravard_analysis.methods.evaluation.listing_effect`)
    ``default``, the person-time Poisson association (``poisson``; the previous default, year,
    age, sex and conditions) and ``naive`` (the same model adjusted for calendar year only).

For each cell and design the summary gives the share of intervals that contain the true rate
ratio (``coverage``), the mean of ``log(estimate) - log(truth)`` (``mean_log_bias``) with its
Monte Carlo standard error, the median interval width on the log scale, and how many worlds
failed. Acceptance for the defaults (issue): coverage 90–98 % and |mean log bias| ≤ 0.03.

At most two worlds are processed at once (``--workers``, capped at 2: the machine is shared),
each worker single-threaded; per-world rows are appended to ``--out`` as they finish, so an
interrupted run keeps its results and ``--resume`` skips the worlds already there. ``--cache DIR``
keeps each world as Parquet (about 3 MB) so that a later run of other designs reads it instead of
building it again.
"""

from __future__ import annotations

import argparse
import inspect
import os
import shutil
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

CELLS: tuple[tuple[str, str], ...] = tuple(
    (s, e) for s in ("teams_targeted", "teams_random", "named_doctor_targeted", "named_doctor_random")
    for e in ("none", "known"))
TEAM_OUTCOME = "unplanned_admissions"
NAMED_OUTCOME = "avoidable_admissions"
ACCEPT_COVERAGE = (0.90, 0.98)
ACCEPT_BIAS = 0.03
MAX_WORKERS = 2


# ----------------------------------------------------------------------------- designs
def _row(estimate: float, lower: float, upper: float) -> dict[str, float]:
    return {"estimate": float(estimate), "lower": float(lower), "upper": float(upper)}


def team_designs() -> tuple[dict[str, tuple[str, Callable]], str]:
    """Mobile-team designs: name -> (resolved design, function(world) -> {estimate, lower,
    upper}), and the name of the default design."""
    from naravard_analysis.methods.evaluation import evaluate_enrolments

    default = inspect.signature(evaluate_enrolments).parameters["design"].default

    def design(name: str) -> Callable:
        def run(world) -> dict[str, float]:
            e = evaluate_enrolments(world, outcomes=(TEAM_OUTCOME,), design=name).estimates
            return _row(e.loc[TEAM_OUTCOME, "estimate"], e.loc[TEAM_OUTCOME, "lower"],
                        e.loc[TEAM_OUTCOME, "upper"])
        return run

    out = {"default": (default, design(default))}
    out.update({n: (n, design(n)) for n in ("matched_did", "pre_post") if n != default})
    return out, default


def named_designs() -> tuple[dict[str, tuple[str, Callable]], str]:
    """Named-doctor designs (as :func:`team_designs`): the default of ``listing_effect``, the
    person-time Poisson association (``poisson``) and ``naive`` (that model, year only)."""
    from naravard_analysis.methods.evaluation import listing_effect

    params = inspect.signature(listing_effect).parameters
    switch = "design" if "design" in params else None
    default = params["design"].default if switch else "poisson"

    def run_with(**kw) -> Callable:
        def run(world) -> dict[str, float]:
            r = listing_effect(world, outcome=NAMED_OUTCOME, **kw)
            return _row(r.estimate, r.lower, r.upper)
        return run

    assoc = {} if default == "poisson" else {"design": "poisson"}
    out = {"default": (default, run_with()), "poisson": ("poisson", run_with(**assoc)),
           "naive": ("naive", run_with(**assoc, adjust=()))}
    return out, default


# ----------------------------------------------------------------------------- one world
def _world(scenario: str, effect: str, seed: int, preset: str, n_persons: int | None,
           cache: str | None):
    """The scenario world: built, or read from ``cache`` (Parquet folders, written on first use;
    the same arguments give the same world, so a cache only saves time)."""
    from naravard_analysis.data import RegisterData
    from naravard_analysis.data.synthetic import make_world

    path = None
    if cache is not None:
        path = Path(cache) / f"{preset}-{n_persons or 'preset'}-{scenario}-{effect}-{seed}"
        if (path / "manifest.json").is_file():
            return RegisterData.from_dir(path)
    kw = {} if n_persons is None else {"n_persons": n_persons}
    world = make_world(preset, seed=seed, scenario=scenario,
                       effects="none" if effect == "none" else None, **kw)
    if path is not None:
        tmp = path.with_name(path.name + f".tmp{os.getpid()}")
        world.to_dir(tmp)
        if path.exists():  # another process wrote it meanwhile
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            os.replace(tmp, path)
    return world


def run_world(task: tuple) -> list[dict]:
    """Build one scenario world and run the designs on it (all, or the names given); one row per
    design. A design that is the default and also asked for by name runs once. ``task`` is
    (scenario, effect, seed, preset, n_persons, designs or None, cache folder or None)."""
    scenario, effect, seed, preset, n_persons, only, cache = task
    warnings.simplefilter("ignore")

    t0 = time.perf_counter()
    world = _world(scenario, effect, seed, preset, n_persons, cache)
    t_world = time.perf_counter() - t0
    teams = scenario.startswith("teams")
    outcome = TEAM_OUTCOME if teams else NAMED_OUTCOME
    truth = world.meta["truth"]["scenario"]["true_rate_ratio"][outcome]
    designs, default_is = team_designs() if teams else named_designs()
    rows, cache = [], {}
    for name, (resolved, fn) in designs.items():
        if only is not None and name not in only:
            continue
        t1 = time.perf_counter()
        if resolved not in cache:
            try:
                cache[resolved] = (fn(world), "")
            except Exception as exc:  # a failing design is a result of the study, not a crash
                cache[resolved] = (_row(np.nan, np.nan, np.nan), f"{type(exc).__name__}: {exc}"[:200])
        r, err = cache[resolved]
        rows.append({"scenario": scenario, "effect": effect, "seed": seed, "design": name,
                     "default_is": resolved,
                     "outcome": outcome, "truth": truth, **r, "error": err,
                     "seconds": round(time.perf_counter() - t1, 2), "world_seconds": round(t_world, 2)})
    return rows


def _init_worker() -> None:
    for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[v] = "1"


def coverage_study(n_seeds: int = 100, *, cells: Sequence[tuple[str, str]] = CELLS,
                   start_seed: int = 0, preset: str = "coverage", n_persons: int | None = None,
                   workers: int = MAX_WORKERS, out: Path | None = None, resume: bool = False,
                   designs: Sequence[str] | None = None, cache: str | Path | None = None,
                   verbose: bool = False) -> pd.DataFrame:
    """Per-world, per-design rows for ``n_seeds`` seeds of each cell (see module docstring);
    ``designs`` limits the designs run (names as in the rows: default, matched_did, pre_post,
    poisson, naive; a name that does not apply to an intervention is skipped)."""
    only = None if designs is None else tuple(designs)
    cache = None if cache is None else str(cache)
    tasks = [(s, e, seed, preset, n_persons, only, cache)
             for seed in range(start_seed, start_seed + n_seeds) for s, e in cells]
    done = pd.DataFrame()
    if out is not None and resume and Path(out).is_file():
        done = pd.read_csv(out).fillna({"error": ""})
        if only is not None:
            done = done[done["design"].isin(only)]
        have = set(zip(done["scenario"], done["effect"], done["seed"], strict=True))
        tasks = [t for t in tasks if (t[0], t[1], t[2]) not in have]
    rows: list[dict] = []

    def keep(batch: list[dict]) -> None:
        rows.extend(batch)
        if out is not None:
            df = pd.DataFrame(batch)
            df.to_csv(out, mode="a", header=not Path(out).is_file(), index=False)
        if verbose and batch:
            b = batch[0]
            print(f"{b['scenario']:>22} {b['effect']:>5} seed {b['seed']:>4}: " + ", ".join(
                f"{r['design']} {r['estimate']:.3f} [{r['lower']:.3f}, {r['upper']:.3f}]"
                for r in batch) + f"  ({b['world_seconds']:.1f}+{sum(r['seconds'] for r in batch):.1f} s)",
                flush=True)

    workers = max(1, min(int(workers), MAX_WORKERS))
    if workers == 1:
        for t in tasks:
            keep(run_world(t))
    else:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(workers, initializer=_init_worker, maxtasksperchild=20) as pool:
            for batch in pool.imap_unordered(run_world, tasks):
                keep(batch)
    return pd.concat([done, pd.DataFrame(rows)], ignore_index=True)


# ----------------------------------------------------------------------------- summary
def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """Coverage, mean log bias (with Monte Carlo SE), median log width and failures per cell."""
    r = rows.copy()
    # a design run by name that is also the default (older result files) is shown once, as default
    dup = r["design"].isin(set(r.loc[r["design"] == "default", "default_is"]))
    r = r[~dup | (r["design"] == "default")]
    r["ok"] = np.isfinite(r["estimate"]) & np.isfinite(r["lower"]) & np.isfinite(r["upper"])
    r["covers"] = (r["lower"] <= r["truth"]) & (r["truth"] <= r["upper"])
    r["log_bias"] = np.log(r["estimate"]) - np.log(r["truth"])
    r["log_width"] = np.log(r["upper"]) - np.log(r["lower"])

    def one(g: pd.DataFrame) -> pd.Series:
        ok = g[g["ok"]]
        n = len(ok)
        return pd.Series({
            "default_is": g["default_is"].iloc[0],
            "truth": g["truth"].iloc[0],
            "worlds": n,
            "failed": int((~g["ok"]).sum()),
            "coverage": ok["covers"].mean() if n else np.nan,
            "mean_log_bias": ok["log_bias"].mean() if n else np.nan,
            "mc_se": ok["log_bias"].std(ddof=1) / np.sqrt(n) if n > 1 else np.nan,
            "median_estimate": ok["estimate"].median() if n else np.nan,
            "median_log_width": ok["log_width"].median() if n else np.nan,
        })

    s = r.groupby(["scenario", "effect", "design"], sort=False).apply(one, include_groups=False)
    s["accepted"] = ((s["coverage"] >= ACCEPT_COVERAGE[0]) & (s["coverage"] <= ACCEPT_COVERAGE[1])
                     & (s["mean_log_bias"].abs() <= ACCEPT_BIAS))
    return s.reset_index()


def markdown(summary: pd.DataFrame) -> str:
    """The summary as a Markdown table (for benchmarks/README.md)."""
    head = ("| scenario | effect (truth) | design | worlds (failed) | coverage | mean log bias (MC SE) "
            "| median estimate | median log width | accepted |\n|---|---|---|---|---|---|---|---|---|")
    lines = [head]
    rank = {"default": 0, "matched_did": 1, "poisson": 1, "pre_post": 2, "naive": 2}
    summary = summary.assign(_r=summary["design"].map(rank).fillna(3)).sort_values(
        ["scenario", "effect", "_r"], kind="stable",
        key=lambda c: c.map({s: i for i, (s, _) in enumerate(CELLS)}) if c.name == "scenario"
        else c.map({"none": 0, "known": 1}) if c.name == "effect" else c)
    for _, r in summary.iterrows():
        design = r["design"] if r["design"] != "default" else f"default ({r['default_is']})"
        lines.append(
            f"| {r['scenario']} | {r['effect']} ({r['truth']:.2f}) | {design} | {int(r['worlds'])} "
            f"({int(r['failed'])}) | {100 * r['coverage']:.0f} % | {r['mean_log_bias']:+.3f} "
            f"({r['mc_se']:.3f}) | {r['median_estimate']:.3f} | {r['median_log_width']:.2f} | "
            f"{('yes' if r['accepted'] else 'no') if r['design'] == 'default' else '—'} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="3 seeds per cell")
    ap.add_argument("--seeds", type=int, default=100, help="worlds per cell (default 100)")
    ap.add_argument("--start-seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=MAX_WORKERS, help="processes (at most 2)")
    ap.add_argument("--persons", type=int, default=None, help="override the preset's residents")
    ap.add_argument("--preset", default="coverage")
    ap.add_argument("--cells", nargs="+", default=None,
                    help="scenario:effect pairs, e.g. teams_targeted:none (default: all eight)")
    ap.add_argument("--designs", nargs="+", default=None,
                    help="run only these designs (default matched_did pre_post poisson naive)")
    ap.add_argument("--out", type=Path, default=None, help="append per-world rows to this CSV")
    ap.add_argument("--cache", type=Path, default=None,
                    help="keep the worlds as Parquet folders here and reuse them (2-3 MB a world)")
    ap.add_argument("--resume", action="store_true", help="skip worlds already in --out")
    ap.add_argument("--summarise", type=Path, nargs="+", default=None,
                    help="only summarise these CSV files (later rows win)")
    a = ap.parse_args(argv)
    if a.summarise is not None:
        rows = pd.concat([pd.read_csv(p) for p in a.summarise], ignore_index=True)
        rows = rows.drop_duplicates(["scenario", "effect", "seed", "design"], keep="last")
        print(markdown(summarise(rows.fillna({"error": ""}))))
        return 0
    cells = CELLS if a.cells is None else tuple(tuple(c.split(":")) for c in a.cells)
    n = 3 if a.quick else a.seeds
    print(f"load average {os.getloadavg()[0]:.1f}; {n} seeds x {len(cells)} cells, "
          f"preset {a.preset}, {min(a.workers, MAX_WORKERS)} workers", flush=True)
    t0 = time.perf_counter()
    rows = coverage_study(n, cells=cells, start_seed=a.start_seed, preset=a.preset,
                          n_persons=a.persons, workers=a.workers, out=a.out, resume=a.resume,
                          designs=a.designs, cache=a.cache, verbose=True)
    print(f"\n{time.perf_counter() - t0:.0f} s wall\n")
    print(markdown(summarise(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
