"""Benchmark: care episodes, avoidable-hospitalisation flags and standardised rates at scale.

Run: ``.venv/bin/python benchmarks/bench_avoidable.py`` (5 million admissions) or ``--quick``
(200 000), ``-n N`` for another size. For every step it prints wall time, CPU time of this process
(``time.process_time``: user + system over all threads) and the highest resident memory during
the step (sampled with psutil) with its rise over the step's start, then the speed ratio against a naive per-person Python loop (episodes) and a
per-row Python matcher (one OECD group), both measured in the same run on a subsample and compared
per row. Targets (issue 5): episodes <= 5 s, flags for all definitions <= 5 s, standardised rates by
year x municipality <= 2 s, peak <= 3 GB on a 2-core machine.

The data are canonical: text columns carry ``STRING_DTYPE`` (arrow-backed), ``other_diagnoses`` and
``procedures`` are space-separated code lists of varying length drawn from a pool of a few thousand
codes (so most rows have a distinct string, as in the register), and about 10 % of stays are
followed by another stay of the same person within a day (so episodes really merge stays).
The machine's 2 cores are shared with other jobs: wall times are noisy, CPU times much less so.
"""

from __future__ import annotations

import argparse
import inspect
import resource
import threading
import time

import numpy as np
import pandas as pd
import psutil
import pyarrow as pa
import pyarrow.compute as pc

from naravard_analysis.data.schema import STRING_DTYPE
from naravard_analysis.indicators.avoidable import avoidable_rates, flag_avoidable
from naravard_analysis.indicators.episodes import build_episodes

DEFINITIONS = ("socialstyrelsen_chronic", "socialstyrelsen", "pqi", "oecd")
#: Codes the definitions look at (so that every rule has work to do).
CODES = np.array(
    ["I500", "I509", "J441", "J449", "J459", "E105", "E119", "I10", "I119", "J20", "J181", "J159",
     "N10", "D509", "I209", "K259", "A099", "S7200", "I639", "C189", "R074", "Z038", "M169", "K802",
     "F329", "T873", "N390", "J40", "J46", "E101", "E100", "E110", "J13", "N390", "H66", "J03",
     "K297", "G40", "E86", "D570", "E84", "I201", "E162", "N300"]
)  # fmt: skip
PROC_CODES = np.array(["FNG05", "FNG02", "NGQ19", "NFQ09", "NHQ13", "DF001", "AB123", "TJA33",
                       "FPE96", "QDB05", "AAF00"])  # fmt: skip
STR = STRING_DTYPE


def _pool(rng, n_codes: int) -> np.ndarray:
    """Random ICD-10-like codes: letter, two digits, up to two more characters."""
    letters = np.array(list("ABCDEFGHIJKLMNOPQRSTZ"))
    lead = rng.choice(letters, n_codes)
    digits = rng.integers(0, 100, n_codes)
    tail = rng.integers(-1, 100, n_codes)
    codes = [
        f"{a}{d:02d}" + ("" if t < 0 else str(t))
        for a, d, t in zip(lead, digits, tail, strict=True)
    ]
    return np.unique(np.array(codes))


def _code_lists(rng, n: int, pool: np.ndarray, mean_len: float, p_empty: float) -> pd.Series:
    """Space-joined code lists built column-wise with arrow (one list per row)."""
    k = rng.poisson(mean_len, n) + 1
    k[rng.random(n) < p_empty] = 0
    offsets = np.concatenate([[0], np.cumsum(k)]).astype(np.int32)
    flat = pc.take(pa.array(pool.tolist()), pa.array(rng.integers(0, len(pool), int(offsets[-1]))))
    joined = pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), flat), " ")
    return pd.Series(pd.array(joined, dtype=STR))


def make_data(n: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    n_persons = max(n // 5, 10)
    munis = np.array([f"{r:02d}{m:02d}" for r in range(1, 26) for m in range(1, 13)])[:290]
    birth = pd.to_datetime("1920-01-01").to_datetime64() + rng.integers(
        0, 365 * 95, n_persons
    ).astype("timedelta64[D]")
    muni = rng.choice(munis, n_persons)
    persons = pd.DataFrame(
        {
            "person_id": np.arange(n_persons, dtype=np.int64),
            "sex": pd.array(rng.choice(np.array(["F", "M"]), n_persons), dtype=STR),
            "birth_date": birth.astype("datetime64[ns]"),
            "region_code": pd.array(np.array([m[:2] for m in muni]), dtype=STR),
            "municipality_code": pd.array(muni, dtype=STR),
        }
    )
    pool = _pool(rng, 6000)
    pid = rng.integers(0, n_persons, n)
    start = pd.to_datetime("2015-01-01").to_datetime64() + rng.integers(0, 3650, n).astype(
        "timedelta64[D]"
    )
    los = rng.geometric(0.25, n) - 1
    end = start + los.astype("timedelta64[D]")
    # ~10 % of stays are re-entries or transfers: the next stay of the same person starts on the
    # discharge day or the day after, so that episodes merge stays.
    chain = np.flatnonzero(rng.random(n - 1) < 0.10) + 1
    pid[chain] = pid[chain - 1]
    start[chain] = end[chain - 1] + rng.integers(0, 2, chain.size).astype("timedelta64[D]")
    end[chain] = start[chain] + los[chain].astype("timedelta64[D]")
    main = np.where(rng.random(n) < 0.3, rng.choice(CODES, n), rng.choice(pool, n))
    diag_pool = np.concatenate([pool, CODES, CODES])
    adm = pd.DataFrame(
        {
            "person_id": pid,
            "admission_date": start.astype("datetime64[ns]"),
            "discharge_date": end.astype("datetime64[ns]"),
            "main_diagnosis": pd.array(main, dtype=STR),
            "other_diagnoses": _code_lists(rng, n, diag_pool, 1.5, 0.35),
            "procedures": _code_lists(
                rng, n, np.concatenate([PROC_CODES, _pool(rng, 800)]), 0.6, 0.5
            ),
            "planned": rng.random(n) < 0.3,
            "admitted_from": pd.array(
                rng.choice(np.array(["home", "home", "home", "hospital", "other"]), n), dtype=STR
            ),
            "discharge_to": pd.array(
                rng.choice(np.array(["home", "home", "home", "hospital", "died"]), n), dtype=STR
            ),
        }
    )
    years = np.arange(2015, 2026)
    ages = np.arange(0, 101)
    grid = pd.MultiIndex.from_product(
        [years, munis, ["F", "M"], ages], names=["year", "municipality_code", "sex", "age"]
    ).to_frame(index=False)
    grid["region_code"] = grid["municipality_code"].str[:2]
    for c in ("municipality_code", "sex", "region_code"):
        grid[c] = grid[c].astype(STR)
    grid["population"] = rng.integers(20, 400, len(grid))
    return persons, adm, grid


def naive_episode_counts(adm: pd.DataFrame) -> int:
    """Per-person Python loop (the reference an analyst might write)."""
    n_ep = 0
    df = adm.sort_values(["person_id", "admission_date"])
    for _, g in df.groupby("person_id"):
        reach = None
        for a, d, to in zip(
            g["admission_date"], g["discharge_date"], g["discharge_to"], strict=True
        ):
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
            main.startswith("J40")
            and any(o.startswith(("J41", "J43", "J44", "J47")) for o in other.split())
        ):
            hits += 1
    return hits


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # kB on Linux


class RssSampler:
    """Highest resident memory seen while a step runs (psutil, sampled every 5 ms)."""

    def __init__(self):
        self.proc = psutil.Process()
        self.peak = 0
        self.running = False

    def _run(self):
        while self.running:
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.005)

    def __enter__(self):
        self.start = self.proc.memory_info().rss
        self.peak = self.start
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)


def timed(label: str, fn, results: dict):
    with RssSampler() as mem:
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    results[label] = (wall, cpu)
    extra = (mem.peak - mem.start) / 1024**3
    print(
        f"{label:<62s} {wall:7.2f} s {cpu:7.2f} s  {mem.peak / 1024**3:5.2f} GB (+{extra:4.2f})",
        flush=True,
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="200 000 admissions instead of 5 million")
    ap.add_argument("-n", type=int, default=None)
    args = ap.parse_args()
    n = args.n or (200_000 if args.quick else 5_000_000)
    res: dict[str, tuple[float, float]] = {}
    print(f"{'step':<62s} {'wall':>9s} {'cpu':>9s}  {'peak RSS (+ over start)':>8s}")
    persons, adm, pop = timed(f"generate {n:,} admissions", lambda: make_data(n), res)
    ep = timed("build_episodes (merge_gap_days=0)", lambda: build_episodes(adm), res)
    print(f"  -> {len(ep):,} episodes")
    # A pipeline keeps one flag table at a time: only the chronic one (rated below) is held, so
    # that peak memory is that of the data, the episodes and one flag table.
    flags = {}
    for d in DEFINITIONS:
        out = timed(f"flag_avoidable({d!r})", lambda d=d: flag_avoidable(adm, persons, definition=d), res)  # fmt: skip
        if d == "socialstyrelsen_chronic":
            flags[d] = out
        del out
    reuse = "episodes" in inspect.signature(flag_avoidable).parameters
    if reuse:
        # A pipeline that already built the episodes passes them in (no second episode build).
        for d in DEFINITIONS[:2]:
            timed(f"flag_avoidable({d!r}, episodes=ep)",
                  lambda d=d: flag_avoidable(adm, persons, definition=d, episodes=ep), res)  # fmt: skip
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
    t0 = time.process_time()
    naive_episode_counts(sub)
    c_naive_ep = (time.process_time() - t0) / m
    t0 = time.process_time()
    naive_flags(sub)
    c_naive_fl = (time.process_time() - t0) / m
    ep_w, ep_c = res["build_episodes (merge_gap_days=0)"]
    fl = [res[f"flag_avoidable({d!r})"] for d in DEFINITIONS]
    fl_w, fl_c = sum(w for w, _ in fl), sum(c for _, c in fl)
    rt_w, rt_c = res["avoidable_rates by year x municipality (ESP2013, 20+)"]
    print("-" * 80)
    print(f"{'summary at ' + format(n, ',') + ' admissions':<62s} {'wall':>9s} {'cpu':>9s}")
    print(f"{'episodes (target <= 5 s)':<62s} {ep_w:7.2f} s {ep_c:7.2f} s")
    print(f"{'flags, 4 definitions, episodes built inside (target <= 5 s)':<62s} {fl_w:7.2f} s {fl_c:7.2f} s")  # fmt: skip
    if reuse:
        sw = [res[f"flag_avoidable({d!r}, episodes=ep)"] for d in DEFINITIONS[:2]]
        two = [res[f"flag_avoidable({d!r})"] for d in DEFINITIONS[2:]]
        w = sum(x for x, _ in sw + two)
        c = sum(x for _, x in sw + two)
        print(f"{'flags, 4 definitions, Swedish ones on episodes=ep':<62s} {w:7.2f} s {c:7.2f} s")
    print(f"{'rates by year x municipality (target <= 2 s)':<62s} {rt_w:7.2f} s {rt_c:7.2f} s")
    print(
        f"peak resident memory of the process: {peak_gb():.2f} GB (target <= 3 GB; includes "
        "generating the data, the episodes and one flag table held)"
    )
    print(f"naive per-person episode loop: {c_naive_ep * 1e6:.1f} us/row CPU vs vectorised "
          f"{ep_c / n * 1e6:.2f} us/row (ratio {c_naive_ep / (ep_c / n):.0f}x)")  # fmt: skip
    oecd_c = res["flag_avoidable('oecd')"][1]
    print(f"naive per-row matcher for OECD COPD only: {c_naive_fl * 1e6:.2f} us/row CPU vs all OECD "
          f"rules {oecd_c / n * 1e6:.2f} us/row (ratio {c_naive_fl / (oecd_c / n):.1f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
