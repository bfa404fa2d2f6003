"""Benchmark: 30-day readmission flags at scale, against a naive per-person Python loop.

Run: ``.venv/bin/python benchmarks/bench_readmission.py`` (5 million admissions) or ``--quick``
(200 000). Prints wall time of ``flag_readmissions`` (Swedish and CMS variants) and
``readmission_rates`` by year x hospital, the process's peak resident memory, and the speed ratio
against a naive implementation (per-person loop over sorted stays, the rules of methods reference §2.4/§4 written directly) measured in the same run on a labelled subsample of persons and compared
per admission; the naive and vectorised results are checked to agree on that subsample.
Target (issue 6): flags for all persons <= 10 s and <= 3 GB peak on a 2-core machine. Timings are
noisy when other jobs share the cores.
"""

from __future__ import annotations

import argparse
import resource
import threading
import time

import numpy as np
import pandas as pd
import psutil
from _table import record  # benchmarks/_table.py (the make bench table)

from naravard_analysis.indicators.readmission import flag_readmissions, readmission_rates

CODES = np.array(["I500", "J189", "J441", "I639", "S7200", "N390", "R074", "I48", "K802", "C189"])


def make_data(n: int, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """n stays of n/5 persons over ten years; short stays, 20 % planned, some transfers/deaths."""
    rng = np.random.default_rng(seed)
    n_persons = max(n // 5, 10)
    persons = pd.DataFrame(
        {
            "person_id": np.arange(n_persons, dtype=np.int64),
            "sex": pd.Categorical.from_codes(rng.integers(0, 2, n_persons), ["F", "M"]).astype("str"),
            "birth_date": (
                np.datetime64("1920-01-01") + rng.integers(0, 365 * 60, n_persons).astype("timedelta64[D]")
            ).astype("datetime64[ns]"),
            "municipality_code": pd.Categorical.from_codes(rng.integers(0, 3, n_persons), ["1480", "1401", "1402"]).astype("str"),
            "death_date": pd.NaT,
        }
    )
    pid = rng.integers(0, n_persons, n)
    # Clustered admissions: a person's stays fall in a few bursts, so 30-day returns are common.
    burst = rng.integers(0, 3650, n_persons)
    start = burst[pid] + rng.integers(0, 400, n)
    los = rng.geometric(0.3, n) - 1
    t0 = np.datetime64("2014-01-01")
    adm = pd.DataFrame(
        {
            "person_id": pid,
            "admission_date": (t0 + start.astype("timedelta64[D]")).astype("datetime64[ns]"),
            "discharge_date": (t0 + (start + los).astype("timedelta64[D]")).astype("datetime64[ns]"),
            "main_diagnosis": pd.Categorical.from_codes(rng.integers(0, CODES.size, n), CODES).astype("str"),
            "planned": rng.random(n) < 0.2,
            "hospital_id": pd.Categorical.from_codes(rng.integers(0, 3, n), ["SJH1", "SJH2", "SJH3"]).astype("str"),
            "discharge_to": pd.Categorical.from_codes(
                rng.choice(3, n, p=[0.88, 0.08, 0.04]), ["home", "hospital", "died"]).astype("str"),  # fmt: skip
        }
    )
    return adm, persons


def naive_flags(adm: pd.DataFrame, persons: pd.DataFrame, variant: str, end: pd.Timestamp) -> pd.DataFrame:
    """Per-person Python loop over sorted stays (the obvious implementation)."""
    lo, hi = (0, 30) if variant == "cms" else (1, 30)
    births = dict(zip(persons.person_id, persons.birth_date, strict=True))
    out = []
    died_last = adm.assign(_died=adm.discharge_to == "died")
    keys = ["admission_date", "discharge_date", "planned", "_died", "discharge_to", "main_diagnosis", "hospital_id"]
    for pid, g in died_last.groupby("person_id", sort=True):
        g = g.sort_values(keys, kind="stable")
        eps: list[dict] = []
        for r in g.itertuples():
            transfer = r.discharge_to == "hospital"
            reach = r.discharge_date + pd.Timedelta(days=1 if transfer else (-1 if variant == "cms" else 0))
            if eps and r.admission_date <= eps[-1]["reach"]:
                e = eps[-1]
                e["reach"] = max(e["reach"], reach)
                if r.discharge_date >= e["dis"]:
                    e["dis"], e["to"] = r.discharge_date, r.discharge_to
            else:
                eps.append({"adm": r.admission_date, "dis": r.discharge_date, "reach": reach,
                            "planned": r.planned, "to": r.discharge_to})  # fmt: skip
        b = births[pid]
        for k, e in enumerate(eps):
            later = [m for m in eps[k + 1 :] if (m["adm"] - e["dis"]).days >= lo]
            cand = later[:1] if variant == "cms" else [m for m in later if not m["planned"]][:1]
            days = (cand[0]["adm"] - e["dis"]).days if cand else None
            readm = bool(cand) and days <= hi and not cand[0]["planned"]
            age = e["adm"].year - b.year - ((e["adm"].month, e["adm"].day) < (b.month, b.day))
            excl = "age" if age < 65 else "died" if e["to"] == "died" else (
                "incomplete_followup" if (end - e["dis"]).days < hi else None)
            out.append((pid, e["adm"], excl is None, readm and excl is None))
    return pd.DataFrame(out, columns=["person_id", "admission_date", "eligible", "readmitted"])


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # Linux: KiB


class PeakRSS:
    """Sample this process's resident memory every 10 ms while a block runs (its own peak)."""

    def __enter__(self):
        self.proc = psutil.Process()
        self.start = self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def _run(self):
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self.proc.memory_info().rss)

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)

    def text(self) -> str:
        return f"peak RSS during the call {self.peak / 1024**3:.2f} GB (+{(self.peak - self.start) / 1024**3:.2f} GB over the input data)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="200 000 admissions instead of 5 million")
    ap.add_argument("--n", type=int, default=None)
    ap.add_argument("--naive-admissions", type=int, default=20_000, help="subsample size for the naive loop")
    args = ap.parse_args()
    n = args.n or (200_000 if args.quick else 5_000_000)

    t = time.perf_counter()
    adm, persons = make_data(n)
    print(f"data: {n:,} admissions, {len(persons):,} persons ({time.perf_counter() - t:.1f} s), "
          f"peak so far {peak_gb():.2f} GB")  # fmt: skip
    end = pd.Timestamp(adm["discharge_date"].max())
    flag_readmissions(adm.head(1000), persons, end_date=end)  # warm imports

    results = {}
    for variant in ("socialstyrelsen", "cms"):
        flags = None  # free the previous variant's result before measuring
        with PeakRSS() as mem:
            t, c = time.perf_counter(), time.process_time()
            flags = flag_readmissions(adm, persons, variant=variant, end_date=end)
            dt, dc = time.perf_counter() - t, time.process_time() - c
        results[variant] = (dt, dc, mem.peak / 2**30)
        # CPU time beside wall time: on a loaded shared machine wall time overstates the cost.
        print(f"flag_readmissions[{variant}]: {dt:.2f} s wall ({dc:.2f} s CPU) for {n:,} admissions -> {len(flags):,} index "
              f"episodes, rate {flags.readmitted.sum() / flags.eligible.sum():.3f}; {mem.text()}")  # fmt: skip
    t = time.perf_counter()
    rates = readmission_rates(flags, by=["year", "hospital_id"])
    print(f"readmission_rates by year x hospital: {time.perf_counter() - t:.2f} s ({len(rates)} rows)")

    # Naive loop on a subsample of persons (labelled), compared per admission.
    sub_persons = persons.person_id.iloc[: max(args.naive_admissions // 5, 1)]
    sub = adm[adm.person_id.isin(sub_persons)]
    for variant in ("socialstyrelsen", "cms"):
        t = time.perf_counter()
        ref = naive_flags(sub, persons, variant, end)
        t_naive = time.perf_counter() - t
        t = time.perf_counter()
        fast = flag_readmissions(sub, persons, variant=variant, end_date=end)
        t_fast_sub = time.perf_counter() - t
        same = (ref.eligible.to_numpy() == fast.eligible.to_numpy()).all() and (
            ref.readmitted.to_numpy() == fast.readmitted.to_numpy()).all()  # fmt: skip
        per_naive = t_naive / len(sub)
        per_fast = results[variant][0] / n
        record(f"readmission: flag_readmissions[{variant}]", wall_s=results[variant][0],
               cpu_s=results[variant][1], peak_gib=results[variant][2],
               reference="naive per-person loop (per admission)", ratio=per_fast / per_naive,
               note=f"{n:,} admissions; results agree: {same}")
        print(f"naive per-person loop [{variant}] on a SUBSAMPLE of {len(sub):,} admissions: "
              f"{t_naive:.2f} s (vectorised on the same subsample {t_fast_sub:.2f} s; results agree: {same}); "
              f"per admission naive/vectorised-at-full-size = {per_naive / per_fast:.0f}x; "
              f"naive extrapolated to {n:,}: {per_naive * n / 60:.1f} min")  # fmt: skip
    print(f"peak resident memory of the whole run (incl. data generation and the naive loop): {peak_gb():.2f} GB "
          "(2 shared cores; timings vary with other jobs)")


if __name__ == "__main__":
    main()
