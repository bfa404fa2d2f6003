"""Benchmark: care episodes, avoidable-hospitalisation flags and standardised rates at scale.

Run: ``.venv/bin/python benchmarks/bench_avoidable.py`` (5 million admissions) or ``--quick``
(200 000). Prints wall time per step, peak resident memory, and the speed ratio against a naive
per-person Python loop (episodes) and a per-row Python matcher (flags), both measured in the same run
on a subsample and compared per row. Targets (issue 5): episodes <= 5 s, flags for all definitions
<= 5 s, standardised rates by year x municipality <= 2 s, peak <= 3 GB on a 2-core machine.
Timings are noisy when other jobs share the cores.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import pandas as pd

from naravard_analysis.indicators.avoidable import avoidable_rates, flag_avoidable
from naravard_analysis.indicators.episodes import build_episodes

CODES = np.array(
    ["I500", "I509", "J441", "J449", "J459", "E105", "E119", "I10", "I119", "J20", "J181", "J159",
     "N10", "D509", "I209", "K259", "A099", "S7200", "I639", "C189", "R074", "Z038", "M169", "K802",
     "F329", "T873", "N390", "J40", "J46", "E101"]
)  # fmt: skip
OTHER = np.array(["", "", "", "", "J441", "E119", "I10 E119", "D570", "J449 I500", "N183", "E116 I10"])
PROCS = np.array(["", "", "", "", "", "FNG05", "AB123", "NGQ19", "DF001 AB123", "TJA33"])


def make_data(n: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    n_persons = max(n // 5, 10)
    munis = np.array([f"{r:02d}{m:02d}" for r in range(1, 26) for m in range(1, 13)])[:290]
    persons = pd.DataFrame(
        {
            "person_id": np.arange(n_persons, dtype=np.int64),
            "sex": rng.choice(np.array(["F", "M"]), n_persons),
            "birth_date": pd.to_datetime("1920-01-01")
            + pd.to_timedelta(rng.integers(0, 365 * 85, n_persons), unit="D"),
            "municipality_code": rng.choice(munis, n_persons),
        }
    )
    persons["region_code"] = persons["municipality_code"].str[:2]
    pid = rng.integers(0, n_persons, n)
    start = pd.to_datetime("2015-01-01").to_datetime64() + rng.integers(0, 3650, n).astype(
        "timedelta64[D]"
    )
    los = rng.geometric(0.25, n) - 1
    adm = pd.DataFrame(
        {
            "person_id": pid,
            "admission_date": start.astype("datetime64[ns]"),
            "discharge_date": (start + los.astype("timedelta64[D]")).astype("datetime64[ns]"),
            "main_diagnosis": pd.array(rng.choice(CODES, n), dtype="str"),
            "other_diagnoses": pd.array(rng.choice(OTHER, n), dtype="str"),
            "procedures": pd.array(rng.choice(PROCS, n), dtype="str"),
            "planned": rng.random(n) < 0.3,
            "admitted_from": rng.choice(np.array(["home", "home", "home", "hospital"]), n),
            "discharge_to": rng.choice(np.array(["home", "home", "home", "hospital", "died"]), n),
        }
    )
    years = np.arange(2015, 2026)
    ages = np.arange(0, 101)
    grid = pd.MultiIndex.from_product(
        [years, munis, ["F", "M"], ages], names=["year", "municipality_code", "sex", "age"]
    ).to_frame(index=False)
    grid["region_code"] = grid["municipality_code"].str[:2]
    grid["population"] = rng.integers(20, 400, len(grid))
    return persons, adm, grid


def naive_episode_counts(adm: pd.DataFrame) -> int:
    """Per-person Python loop (the reference an analyst might write)."""
    n_ep = 0
    df = adm.sort_values(["person_id", "admission_date"])
    for _, g in df.groupby("person_id"):
        reach = None
        for a, d, to in zip(g["admission_date"], g["discharge_date"], g["discharge_to"], strict=True):
            r = d + pd.Timedelta(days=1 if to == "hospital" else 0)
            if reach is None or a > reach:
                n_ep += 1
                reach = r
            else:
                reach = max(reach, r)
    return n_ep


def naive_flags(adm: pd.DataFrame) -> int:
    """Per-row Python matcher for one list (OECD COPD + J40 rule)."""
    hits = 0
    for main, other in zip(adm["main_diagnosis"], adm["other_diagnoses"], strict=True):
        if main.startswith(("J41", "J42", "J43", "J44", "J47")) or (
            main.startswith("J40") and any(o.startswith(("J41", "J43", "J44", "J47")) for o in other.split())
        ):
            hits += 1
    return hits


def timed(label, fn, results):
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    results.append((label, dt))
    print(f"{label:<58s} {dt:8.2f} s")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="200 000 admissions instead of 5 million")
    ap.add_argument("-n", type=int, default=None)
    args = ap.parse_args()
    n = args.n or (200_000 if args.quick else 5_000_000)
    res: list[tuple[str, float]] = []
    persons, adm, pop = timed(f"generate {n:,} admissions", lambda: make_data(n), res)
    ep = timed("build_episodes (merge_gap_days=0)", lambda: build_episodes(adm), res)
    print(f"  -> {len(ep):,} episodes")
    t_flags = 0.0
    flags = {}
    for d in ("socialstyrelsen_chronic", "socialstyrelsen", "pqi", "oecd"):
        flags[d] = timed(f"flag_avoidable({d!r})", lambda d=d: flag_avoidable(adm, persons, definition=d), res)
        t_flags += res[-1][1]
    # Flags on precomputed episodes (what a pipeline that already built episodes pays).
    t_ep_flags = 0.0
    for d in ("socialstyrelsen_chronic", "socialstyrelsen"):
        timed(f"flag_avoidable({d!r}, episodes given, unit='admission')",
              lambda d=d: flag_avoidable(ep, persons, definition=d, unit="admission"), res)  # fmt: skip
        t_ep_flags += res[-1][1]
    f = flags["socialstyrelsen_chronic"]
    print(f"  -> {int(f['avoidable'].sum()):,} avoidable chronic episodes of {len(f):,}")
    rates = timed(
        "avoidable_rates by year x municipality (ESP2013, 20+)",
        lambda: avoidable_rates(f, pop, by=("year", "municipality_code")),
        res,
    )
    print(f"  -> {len(rates):,} rates")

    # Naive references on a subsample, compared per row.
    m = min(n, 50_000)
    sub = adm.iloc[:m]
    t0 = time.perf_counter()
    naive_episode_counts(sub)
    t_naive_ep = (time.perf_counter() - t0) / m
    t0 = time.perf_counter()
    build_episodes(sub)
    t_vec_ep_small = (time.perf_counter() - t0) / m
    t_vec_ep = dict(res)["build_episodes (merge_gap_days=0)"] / n
    t0 = time.perf_counter()
    naive_flags(sub)
    t_naive_fl = (time.perf_counter() - t0) / m
    t_vec_fl = dict(res)["flag_avoidable('oecd')"] / n
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print("-" * 72)
    print(f"episodes:   {dict(res)['build_episodes (merge_gap_days=0)']:.2f} s (target <= 5 s)")
    print(f"flags, 4 definitions (incl. episode building for the Swedish ones): {t_flags:.2f} s (target <= 5 s)")
    print(f"flags, Swedish definitions on prebuilt episodes: {t_ep_flags:.2f} s")
    print(f"rates by year x municipality: {dict(res)['avoidable_rates by year x municipality (ESP2013, 20+)']:.2f} s (target <= 2 s)")
    print(f"peak resident memory: {peak_gb:.2f} GB (target <= 3 GB)")
    print(f"naive per-person episode loop: {t_naive_ep * 1e6:.1f} us/row vs vectorised {t_vec_ep * 1e6:.2f} us/row "
          f"(ratio {t_naive_ep / t_vec_ep:.0f}x; on the same {m:,}-row subsample {t_naive_ep / t_vec_ep_small:.0f}x)")  # fmt: skip
    print(f"naive per-row OECD COPD matcher (one group only): {t_naive_fl * 1e6:.2f} us/row vs full OECD flags "
          f"{t_vec_fl * 1e6:.2f} us/row (ratio {t_naive_fl / t_vec_fl:.1f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
