"""Benchmark: the per-person indicators on Dask, partitioned by person, against pandas and DuckDB.

Two datasets of hive-partitioned Parquet (``RegisterData.to_dir(partitions=N)``) are built from a
*base* synthetic world by repeating it with person ids offset by ``k * 10**11`` per copy (the
"scale preset repeated" of issue 17; each copy re-bucketed by the stable person hash):

``pair``  the base itself (``--pair-copies`` > 1: repeated): a size pandas holds in memory. Continuity
          indices (all six, primary care) with pandas (read + compute), Dask on a 2-worker
          ``LocalCluster`` (results collected and checked equal) and DuckDB SQL on the same Parquet
          files (the SQL of ``bench_continuity.py``); readmission flags with pandas and Dask.
``big``   contacts in ``--contact-copies`` copies and admissions in ``--admission-copies`` copies
          (>= 200 M contacts and >= 20 M admissions at the defaults on the national base): continuity
          indices and readmission flags with Dask on the 2-worker cluster, each worker limited to
          ``--memory-limit``; the per-worker peak resident memory is sampled twice a second.

Full run (base: the national preset at 5 % of every region's size, 16.6 M contacts)::

    naravard synth --preset national ...   # or make_national(..., scale=0.05, partitions=4)
    python benchmarks/bench_dask.py --base /tmp/national05 --work /tmp/bench_dask

``--quick`` (``make bench``) builds a small base (demo world, 20 000 residents) and runs the pair
comparison and a 10-copy big run in about a minute. Targets (issue 17): big run finishing with
<= 6 GiB per worker; Dask 2 workers within 2x the pandas wall time on the pair size.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

from naravard_analysis.data import RegisterData
from naravard_analysis.indicators.continuity import continuity_indices
from naravard_analysis.indicators.readmission import flag_readmissions

HERE = Path(__file__).resolve().parent
GIB = 2**30


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


table = _load("_table")
PeakRSS = _load("bench_continuity").PeakRSS  # resident-set sampler shared with that benchmark


def load_line() -> str:
    return "load average " + ", ".join(f"{x:.1f}" for x in os.getloadavg())


# ------------------------------------------------------------------------------------------ build


def repeat_bundle(base: Path, out: Path, *, copies: int, contact_copies: int, partitions: int) -> None:
    """Write ``copies`` copies of the base persons and admissions (contacts in the first
    ``contact_copies``) with person ids offset by ``k * 10**11`` into one partitioned bundle."""
    if (out / "manifest.json").is_file():
        print(f"  {out} exists: reused")
        return
    shutil.rmtree(out, ignore_errors=True)
    src = RegisterData.from_dir(base, verify=False)
    t0 = time.perf_counter()
    for k in range(copies):
        off = np.int64(k) * 10**11
        tables = {
            "persons": src.persons.assign(person_id=src.persons["person_id"] + off),
            "admissions": src.admissions.assign(person_id=src.admissions["person_id"] + off),
        }
        if k < contact_copies:
            tables["contacts"] = src.contacts.assign(person_id=src.contacts["person_id"] + off)
        RegisterData(**tables, meta={"source": "synthetic", "copy": k, "base": str(base)},
                     validate=False).to_dir(out, partitions=partitions, append=True)
        print(f"  copy {k + 1}/{copies} written ({time.perf_counter() - t0:.0f} s)", flush=True)


def quick_base(work: Path) -> Path:
    from naravard_analysis.data.synthetic import make_world

    base = work / "base"
    if not (base / "manifest.json").is_file():
        make_world("demo", n_persons=20_000, seed=0).to_dir(base, partitions=2)
    return base


# ----------------------------------------------------------------------------------- measurement


def _worker_stats() -> tuple[int, float]:
    p = psutil.Process()
    t = p.cpu_times()
    return p.memory_info().rss, t.user + t.system


class WorkerMonitor:
    """Per-worker peak RSS (sampled every 0.5 s) and CPU seconds of a ``distributed`` client."""

    def __init__(self, client) -> None:
        self.client = client
        self.peak: dict[str, int] = {}
        self._stop = threading.Event()

    def __enter__(self) -> WorkerMonitor:
        self.cpu0 = {w: c for w, (_, c) in self.client.run(_worker_stats).items()}
        self.cpu_client0 = time.process_time()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for w, (rss, _) in self.client.run(_worker_stats).items():
                    self.peak[w] = max(self.peak.get(w, 0), rss)
            except Exception:  # a worker restarting: keep sampling the others
                pass
            time.sleep(0.5)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._t.join()
        stats = self.client.run(_worker_stats)
        for w, (rss, _) in stats.items():
            self.peak[w] = max(self.peak.get(w, 0), rss)
        self.cpu = sum(c - self.cpu0.get(w, 0.0) for w, (_, c) in stats.items())
        self.cpu += time.process_time() - self.cpu_client0

    def peaks_gib(self) -> str:
        return "/".join(f"{v / GIB:.2f}" for v in self.peak.values())


def timed(fn):
    c0, t0 = time.process_time(), time.perf_counter()
    with PeakRSS(interval=0.01) as mem:
        out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0, mem.peak / GIB


def start_cluster(memory_limit: str):
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           memory_limit=memory_limit, dashboard_address=None)
    return cluster, Client(cluster)


# ----------------------------------------------------------------------------------------- steps


def run_duckdb(path: Path) -> pd.DataFrame:
    import duckdb

    sql = _load("bench_continuity").DUCKDB_SQL  # the same query as the in-memory benchmark
    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute(f"CREATE VIEW contacts AS SELECT * FROM read_parquet('{path}/contacts/*/*/*.parquet')")
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def step_pair(pair: Path, memory_limit: str) -> None:
    print(f"== pair: {pair} ({load_line()})")

    def pandas_continuity():
        return continuity_indices(RegisterData.from_dir(pair, verify=False).contacts)

    expected, wall_p, cpu_p, peak_p = timed(pandas_continuity)
    print(f"pandas continuity (read + compute): {wall_p:.1f} s wall, {cpu_p:.1f} s CPU, "
          f"peak {peak_p:.2f} GiB; {len(expected):,} persons")

    cluster, client = start_cluster(memory_limit)
    try:
        def dask_continuity():
            lazy = RegisterData.from_dir(pair, verify=False, engine="dask")
            return continuity_indices(lazy.contacts).compute()

        with WorkerMonitor(client) as mon:
            got, wall_d, _, _ = timed(dask_continuity)
        same = got.sort_values("person_id").reset_index(drop=True).equals(expected)
        print(f"Dask 2 workers continuity: {wall_d:.1f} s wall, {mon.cpu:.1f} s CPU (workers + "
              f"client), peak per worker {mon.peaks_gib()} GiB; equal to pandas: {same}")

        def pandas_flags():
            data = RegisterData.from_dir(pair, verify=False)
            return flag_readmissions(data.admissions, data.persons)

        flags_p, wall_rp, cpu_rp, peak_rp = timed(pandas_flags)

        def dask_flags():
            lazy = RegisterData.from_dir(pair, verify=False, engine="dask")
            return flag_readmissions(lazy.admissions, lazy.persons).compute()

        with WorkerMonitor(client) as mon_r:
            flags_d, wall_rd, _, _ = timed(dask_flags)
        same_r = (int(flags_d["readmitted"].sum()) == int(flags_p["readmitted"].sum())
                  and len(flags_d) == len(flags_p))
        print(f"readmission flags (read + compute): pandas {wall_rp:.1f} s, Dask {wall_rd:.1f} s, "
              f"{len(flags_p):,} episodes; counts equal: {same_r}")
    finally:
        client.close()
        cluster.close()

    duck, wall_k, cpu_k, peak_k = timed(lambda: run_duckdb(pair))
    agree = np.allclose(duck.sort_values("person_id")["coc"].to_numpy(float),
                        expected["coc"].to_numpy(float), equal_nan=True, atol=1e-12)
    print(f"DuckDB SQL on the same Parquet: {wall_k:.1f} s wall, {cpu_k:.1f} s CPU; agree: {agree}")

    rows = f"{len(expected):,} persons"
    table.record("dask: continuity pandas (pair)", wall_s=wall_p, cpu_s=cpu_p, peak_gib=peak_p,
                 reference="DuckDB SQL", ratio=wall_p / wall_k, note=rows)
    table.record("dask: continuity Dask 2 workers (pair)", wall_s=wall_d, cpu_s=mon.cpu,
                 peak_gib=mon.peaks_gib(), reference="pandas", ratio=wall_d / wall_p,
                 note=f"equal: {same}; goal <= 2x")
    table.record("dask: continuity DuckDB SQL (pair)", wall_s=wall_k, cpu_s=cpu_k, peak_gib=peak_k,
                 reference="-", note=f"agree: {agree}")
    table.record("dask: readmission Dask 2 workers (pair)", wall_s=wall_rd, cpu_s=mon_r.cpu,
                 peak_gib=mon_r.peaks_gib(), reference="pandas",
                 ratio=wall_rd / wall_rp, note=f"counts equal: {same_r}")


def _measure_big(client, name: str, n_rows: int, unit: str, build) -> None:
    """Run one lazy per-person result on the cluster down to a few sums; print and record it."""
    import dask

    with WorkerMonitor(client) as mon:
        t0 = time.perf_counter()
        result = build()
        n_out, n_eligible = dask.compute(result["eligible"].count(), result["eligible"].sum())
        wall = time.perf_counter() - t0
    print(f"{name} on Dask: {wall:.0f} s wall, {mon.cpu:.0f} s CPU, peak per worker "
          f"{mon.peaks_gib()} GiB; {n_out:,} output rows, {n_eligible:,} eligible; "
          f"{n_rows / wall:,.0f} {unit}/s wall, {n_rows / mon.cpu:,.0f} {unit}/CPU-s", flush=True)
    table.record(f"dask: {name} Dask 2 workers (big)", wall_s=wall, cpu_s=mon.cpu,
                 peak_gib=mon.peaks_gib(), reference="-",
                 note=f"{n_rows / 1e6:.1f} M {unit}, {n_rows / wall / 1e6:.2f} M rows/s, "
                      f"{n_rows / mon.cpu / 1e6:.2f} M rows/CPU-s")


def step_big(big: Path, memory_limit: str) -> None:
    import json

    print(f"== big: {big} ({load_line()})")
    lazy = RegisterData.from_dir(big, verify=False, engine="dask")
    rows = {k: v["rows"] for k, v in json.loads((big / "manifest.json").read_text())["tables"].items()}
    print(f"  {rows['contacts']:,} contacts, {rows['admissions']:,} admissions, "
          f"{rows['persons']:,} persons in {lazy.contacts.npartitions} partitions", flush=True)
    cluster, client = start_cluster(memory_limit)
    try:
        _measure_big(client, "continuity", rows["contacts"], "contacts",
                     lambda: continuity_indices(lazy.contacts))
        _measure_big(client, "readmission", rows["admissions"], "admissions",
                     lambda: flag_readmissions(lazy.admissions, lazy.persons))
    finally:
        client.close()
        cluster.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small base (demo world), about a minute")
    ap.add_argument("--base", type=Path, help="partitioned base bundle (e.g. national at 5 %%)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/naravard_bench_dask"))
    ap.add_argument("--partitions", type=int, default=4, help="person buckets per region")
    ap.add_argument("--pair-copies", type=int, default=1, help="copies of the base in 'pair'")
    ap.add_argument("--contact-copies", type=int, default=13)
    ap.add_argument("--admission-copies", type=int, default=36)
    ap.add_argument("--memory-limit", default="6GiB", help="per Dask worker")
    ap.add_argument("--steps", default="pair,big")
    args = ap.parse_args()
    warnings.simplefilter("ignore")

    work = args.work / ("quick" if args.quick else "full")
    work.mkdir(parents=True, exist_ok=True)
    if args.quick:
        base = quick_base(work)
        args.contact_copies, args.admission_copies = 10, 10
    elif args.base is None:
        ap.error("--base is required without --quick")
    else:
        base = args.base
    steps = args.steps.split(",")
    if "pair" in steps:
        pair = base
        if args.pair_copies > 1:
            pair = work / "pair"
            repeat_bundle(base, pair, copies=args.pair_copies, contact_copies=args.pair_copies,
                          partitions=args.partitions)
        step_pair(pair, args.memory_limit)
    if "big" in steps:
        big = work / "big"
        print(f"building {big} ({load_line()})", flush=True)
        repeat_bundle(base, big, copies=args.admission_copies, contact_copies=args.contact_copies,
                      partitions=args.partitions)
        step_big(big, args.memory_limit)


if __name__ == "__main__":
    main()
