"""Benchmark: read a Patientregistret-style CSV into the canonical admissions table.

Target (issue 2): 5 million rows in <= 30 s and <= 4 GB peak memory on one core.

The file has LopNr, INDATUM/UTDATUM as YYYYMMDD integers, HDIA, DIA1..DIA8, OP, PVARD, INSATT,
UTSATT, MVO, SJUKHUS, KON, LAN, KOMMUN, ALDER with ``;`` as separator, and is written to the
git-ignored ``benchmarks/results/`` folder (reused when it already has the right size).

The comparison is a naive reader: ``pd.read_csv`` with default type inference followed by
per-column ``apply`` conversions (``datetime.strptime`` per date, a Python join per row for the
diagnoses). It is measured in the same run on a subsample and extrapolated linearly (labelled).

Run::

    .venv/bin/python benchmarks/bench_readers.py            # 5 000 000 rows
    .venv/bin/python benchmarks/bench_readers.py --quick    # 200 000 rows

Peak memory is the resident-set high-water mark of a fresh child process that only runs the read
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``), so generating the file does not count.
The machine is shared: wall times are noisy, repeat runs vary by 10-30 %.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

RESULTS = Path(__file__).resolve().parent / "results"
ICD = np.array(
    ["I500", "J441", "E119", "I10", "S720", "N390", "J189", "I489", "F03", "R074", "K922", "E86"]
)
KVA = np.array(["", "", "", "AB123", "DT016", "TJA33 ZXA10", "NFB49"])
MVO = np.array(["046", "101", "107", "301", "511", "741"])
KOMMUN = np.array(["1480", "1401", "1490", "1499", "0180", "0114", "1280"])


def generate(path: Path, n: int, seed: int = 2024) -> None:
    """Write an ``n``-row Patientregistret-style CSV with ``;`` separator."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2015-01-01") + rng.integers(0, 9 * 365, n).astype("timedelta64[D]")
    stay = rng.geometric(0.25, n).astype("timedelta64[D]") - np.timedelta64(1, "D")
    end = start + stay

    def yyyymmdd(d: np.ndarray) -> np.ndarray:
        y = d.astype("datetime64[Y]").astype(int) + 1970
        m = d.astype("datetime64[M]").astype(int) % 12 + 1
        day = (d - d.astype("datetime64[M]")).astype(int) + 1
        return y * 10000 + m * 100 + day

    cols: dict[str, pa.Array] = {
        "LopNr": pa.array(rng.integers(1, 1_000_000, n)),
        "INDATUM": pa.array(yyyymmdd(start)),
        "UTDATUM": pa.array(yyyymmdd(end)),
        "HDIA": pa.array(ICD[rng.integers(0, len(ICD), n)]),
    }
    for k in range(1, 9):
        filled = rng.random(n) < 0.6 / k
        codes = ICD[rng.integers(0, len(ICD), n)]
        cols[f"DIA{k}"] = pa.array(np.where(filled, codes, ""))
    cols["OP"] = pa.array(KVA[rng.integers(0, len(KVA), n)])
    cols["PVARD"] = pa.array(rng.integers(1, 3, n))
    cols["INSATT"] = pa.array(rng.integers(1, 4, n))
    cols["UTSATT"] = pa.array(rng.choice([1, 2, 3, 4], n, p=[0.1, 0.1, 0.77, 0.03]))
    cols["MVO"] = pa.array(MVO[rng.integers(0, len(MVO), n)])
    cols["SJUKHUS"] = pa.array(rng.choice([11001, 11003, 12001, 51001], n))
    cols["KON"] = pa.array(rng.integers(1, 3, n))
    kommun = KOMMUN[rng.integers(0, len(KOMMUN), n)]
    cols["LAN"] = pa.array(np.char.ljust(kommun, 2).astype("U2"))
    cols["KOMMUN"] = pa.array(kommun)
    cols["ALDER"] = pa.array(rng.integers(0, 101, n))
    table = pa.table(cols)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    pacsv.write_csv(
        table,
        tmp,
        write_options=pacsv.WriteOptions(delimiter=";", quoting_style="none", batch_size=1 << 16),
    )
    tmp.replace(path)


def naive_read(path: Path, nrows: int):
    """The obvious pandas code: default inference, then per-value Python conversions."""
    import pandas as pd

    raw = pd.read_csv(path, sep=";", nrows=nrows)
    out = pd.DataFrame()
    out["person_id"] = raw["LopNr"].apply(int)
    for src, dst in (("INDATUM", "admission_date"), ("UTDATUM", "discharge_date")):
        out[dst] = raw[src].apply(lambda v: datetime.strptime(str(v), "%Y%m%d"))
    out["main_diagnosis"] = raw["HDIA"].apply(lambda v: str(v).upper().replace(".", ""))
    dia = [c for c in raw.columns if c.startswith("DIA")]
    out["other_diagnoses"] = raw[dia].apply(
        lambda r: " ".join(str(v).upper().replace(".", "") for v in r if isinstance(v, str)), axis=1
    )
    out["procedures"] = raw["OP"].apply(lambda v: v if isinstance(v, str) else "")
    out["planned"] = raw["PVARD"].apply(lambda v: v == 1)
    out["hospital_id"] = raw["SJUKHUS"].apply(str)
    out["department"] = raw["MVO"].apply(lambda v: str(v).zfill(3))
    insatt = {1: "hospital", 2: "special_housing", 3: "home"}
    utsatt = {1: "hospital", 2: "special_housing", 3: "home", 4: "died"}
    out["admitted_from"] = raw["INSATT"].apply(lambda v: insatt.get(v, "other"))
    out["discharge_to"] = raw["UTSATT"].apply(lambda v: utsatt.get(v, "other"))
    out["sex"] = raw["KON"].apply(lambda v: {1: "M", 2: "F"}[v])
    out["region_code"] = raw["LAN"].apply(lambda v: str(v).zfill(2))
    out["municipality_code"] = raw["KOMMUN"].apply(lambda v: str(v).zfill(4))
    out["age"] = raw["ALDER"]
    return out


def child(path: str, threads: int, mode: str, nrows: int) -> None:
    """Run one measurement in this (fresh) process and print JSON."""
    import resource

    if threads:
        pa.set_cpu_count(threads)
        pa.set_io_thread_count(threads)
    import pandas  # noqa: F401  (imports are not part of the measured read)

    from naravard_analysis.data.readers import read_table

    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = usage0.ru_utime + usage0.ru_stime
    t0 = time.perf_counter()
    if mode.startswith("read_table"):
        validate = mode == "read_table"
        df = read_table(path, "admissions", source="patientregistret", validate=validate)
        rows = len(df)
        assert str(df["admission_date"].dtype) == "datetime64[ns]"
    else:
        rows = len(naive_read(Path(path), nrows))
    seconds = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu0
    peak = usage.ru_maxrss * 1024  # Linux: KiB
    print(json.dumps({"seconds": seconds, "cpu": cpu, "peak_bytes": peak, "rows": rows}))


def measure(path: Path, threads: int, mode: str, nrows: int = 0) -> dict:
    cmd = [sys.executable, __file__, "--child", str(path), "--threads", str(threads)]
    cmd += ["--mode", mode, "--nrows", str(nrows)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode:
        sys.stderr.write(res.stderr)
        raise SystemExit(f"{mode} failed")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="200 000 rows instead of 5 000 000")
    ap.add_argument("--rows", type=int, default=None)
    ap.add_argument("--threads", type=int, default=1, help="arrow CPU threads (default 1 core)")
    ap.add_argument("--naive-rows", type=int, default=None, help="subsample for the naive reader")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--mode", default="read_table", help=argparse.SUPPRESS)
    ap.add_argument("--nrows", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.threads, args.mode, args.nrows)
        return

    n = args.rows or (200_000 if args.quick else 5_000_000)
    path = RESULTS / f"patientregistret_{n}.csv"
    if not path.exists():
        t0 = time.perf_counter()
        generate(path, n)
        print(
            f"generated {path} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f} s"
        )
    print(f"file: {path} ({path.stat().st_size / 1e6:.0f} MB, {n:,} rows, ';' separator)")
    print(
        f"cores available: {os.cpu_count()} (shared; timings are noisy); arrow threads: {args.threads}"
    )

    print(f"load average before the run: {os.getloadavg()[0]:.1f}")
    fast = measure(path, args.threads, "read_table")
    print(
        f"read_table -> canonical admissions: {fast['seconds']:.1f} s wall, "
        f"{fast['cpu']:.1f} s CPU, peak RSS {fast['peak_bytes'] / 2**30:.2f} GiB, "
        f"{fast['rows']:,} rows ({fast['rows'] / fast['cpu'] / 1e6:.2f} M rows per CPU-second)"
    )
    raw = measure(path, args.threads, "read_table_novalidate")
    print(
        f"  of which reading + mapping (validate=False): {raw['seconds']:.1f} s wall, "
        f"{raw['cpu']:.1f} s CPU, peak RSS {raw['peak_bytes'] / 2**30:.2f} GiB; "
        f"validate_table: {fast['cpu'] - raw['cpu']:.1f} s CPU"
    )
    # With one arrow thread the process uses one core, so CPU time is the wall time it would
    # take on an idle core; wall time on a shared machine also counts time spent waiting.
    ok = fast["cpu"] <= 30 * n / 5_000_000 and fast["peak_bytes"] <= 4 * 2**30
    print(f"target (<= 30 s CPU per 5 M rows on one core, <= 4 GB): {'met' if ok else 'NOT met'}")

    naive_n = min(n, args.naive_rows or (200_000 if n > 200_000 else n))
    naive = measure(path, args.threads, "naive", naive_n)
    scale = n / naive_n
    naive_cpu = naive["cpu"] * scale
    label = "" if naive_n == n else f" (measured on {naive_n:,} rows, extrapolated x{scale:.0f})"
    print(
        f"naive pd.read_csv + per-column apply: {naive['seconds'] * scale:.1f} s wall, "
        f"{naive_cpu:.1f} s CPU{label}"
    )
    print(f"speed-up of read_table over naive (CPU time): {naive_cpu / fast['cpu']:.1f}x")


if __name__ == "__main__":
    main()
