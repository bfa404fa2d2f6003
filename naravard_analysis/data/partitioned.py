"""Hive-partitioned Parquet bundles: every person's rows in one file per table, read lazily by Dask.

Layout written by ``RegisterData.to_dir(path, partitions=N)`` (and ``naravard synth --partitions
N``)::

    path/manifest.json
    path/<table>/region=RR/bucket=BBBB/part-PPPP.parquet   persons, admissions, contacts,
                                                           listings, enrolments
    path/population/region=RR/part-PPPP.parquet            population (no person rows)

``PPPP`` numbers the writes (``append``): a large region written in chunks has several files per
bucket.

The partition key of a row is the person's home region (``persons.region_code``) and
``bucket = person_bucket(person_id, N)`` (:func:`naravard_analysis.engine.person_bucket`, a stable
hash of the id), so all rows of a person -- in every table -- sit in the same
``region=RR/bucket=BBB`` partition. That is what lets the Dask engine run the per-person pandas
functions partition by partition. The manifest lists every file with its row count and sha256, as
for the single-file layout; a world can be written region by region (``append=True``), which is how
the ``national`` synthetic preset stays within bounded memory.

``RegisterData.from_dir(path, engine="dask")`` returns a bundle whose person tables are lazy Dask
DataFrames with one partition per ``(region, bucket)`` -- the same list for every table, so
partition ``i`` of ``admissions`` and of ``persons`` hold the same persons -- and ``population`` as
pandas. ``engine="pandas"`` reads everything into memory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from naravard_analysis.data.schema import SCHEMA_VERSION, STRING_DTYPE, TABLES, validate_table
from naravard_analysis.engine import canonical_strings, person_bucket
from naravard_analysis.errors import IntegrityError, ParameterError, ReadError

__all__ = ["LAYOUT", "PERSON_TABLES", "write_partitioned", "read_partitioned", "read_bundle",
           "partition_keys"]

#: Value of ``manifest["layout"]`` for this layout.
LAYOUT = "hive-person-buckets"
#: Tables with one row per person event, partitioned by the person.
PERSON_TABLES = ("persons", "admissions", "contacts", "listings", "enrolments")
_MANIFEST = "manifest.json"
#: Buckets used when a single-file bundle is read with ``engine="dask"``.
DEFAULT_PARTITIONS = 8


def _sha256(path: Path) -> str:
    from naravard_analysis.data.bundle import sha256_file

    return sha256_file(path)


def canonical_dtypes(df: pd.DataFrame, name: str) -> pd.DataFrame:
    """Re-apply the canonical text and date dtypes that Parquet round-trips as plain ones."""
    for col in TABLES[name].columns:
        if col.name not in df.columns:
            continue
        if col.kind == "str" and df[col.name].dtype != STRING_DTYPE:
            df[col.name] = df[col.name].astype(STRING_DTYPE)
        elif col.kind == "date" and df[col.name].dtype != "datetime64[ns]":
            df[col.name] = df[col.name].astype("datetime64[ns]")
    return df


def _read(path: Path, name: str) -> pd.DataFrame:
    mapping = {pa.string(): STRING_DTYPE, pa.large_string(): STRING_DTYPE}
    return canonical_dtypes(pq.read_table(path).to_pandas(types_mapper=mapping.get), name)


def _region_of(data: Any) -> pd.Series:
    if data.persons is None:
        raise ParameterError("a partitioned bundle needs the persons table (it gives each "
                             "person's region, part of the partition key)")
    p = data.persons
    return pd.Series(p["region_code"].astype(str).to_numpy(), index=pd.Index(p["person_id"]))


def _write_table(df: pd.DataFrame, name: str, root: Path, region_of: pd.Series, n: int,
                 compression: str, part: int) -> dict[str, dict[str, Any]]:
    """Write one table's partitions; return ``{relative file: {rows, sha256}}``."""
    region = region_of.reindex(pd.Index(df["person_id"])).to_numpy(dtype=object)
    unknown = pd.isna(region)
    if unknown.any():
        from naravard_analysis.errors import SchemaError

        raise SchemaError(name, "person_id", "must refer to a person in persons",
                          int(unknown.sum()), np.flatnonzero(unknown)[:5])
    reg_codes, regions = pd.factorize(region, sort=True)
    key = reg_codes.astype(np.int64) * n + person_bucket(df["person_id"], n)
    order = np.argsort(key, kind="stable")
    bounds = np.flatnonzero(np.diff(key[order])) + 1
    files: dict[str, dict[str, Any]] = {}
    for rows in np.split(order, bounds) if len(order) else []:
        k = int(key[rows[0]])
        rel = f"{name}/region={regions[k // n]}/bucket={k % n:04d}/part-{part:04d}.parquet"
        file = root / rel
        if file.exists():
            raise ParameterError(f"{file} exists although the manifest does not list it")
        file.parent.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(df.iloc[rows], preserve_index=False)
        pq.write_table(table, file, compression=compression)
        files[rel] = {"rows": int(len(rows)), "sha256": _sha256(file)}
    return files


def write_partitioned(data: Any, path: str | Path, partitions: int, *, compression: str = "zstd",
                      append: bool = False) -> Path:
    """Write ``data`` as a hive-partitioned bundle (see the module docstring).

    Parameters
    ----------
    data
        A :class:`~naravard_analysis.data.RegisterData` with pandas tables, ``persons`` included.
    path
        Output directory.
    partitions
        Number of person buckets ``N`` (per region).
    append
        Add these persons (e.g. one more region) to an existing partitioned bundle written with
        the same ``N``; the manifest's row counts and file list are extended and ``meta`` is kept
        per part under ``meta["parts"]``.

    Returns
    -------
    Path
        The directory written.
    """
    n = int(partitions)
    if n < 1:
        raise ParameterError(f"partitions must be at least 1, got {partitions}")
    root = Path(path)
    mfile = root / _MANIFEST
    if append and mfile.is_file():
        manifest = json.loads(mfile.read_text())
        if manifest.get("layout") != LAYOUT or manifest.get("partitions") != n:
            raise ParameterError(f"{root}: not a partitioned bundle with partitions={n}")
    else:
        if mfile.is_file():
            raise ParameterError(f"{root} already holds a bundle; pass append=True to add to it")
        manifest = {"schema_version": SCHEMA_VERSION, "package": "naravard_analysis",
                    "layout": LAYOUT, "partitions": n,
                    "partition_key": {"region": "persons.region_code of the person",
                                      "bucket": "naravard_analysis.engine.person_bucket(person_id, N)"},
                    "tables": {}, "meta": {"parts": []}}
    root.mkdir(parents=True, exist_ok=True)
    region_of = _region_of(data)
    part = len(manifest["meta"]["parts"])  # one file per append in each partition directory
    for name, df in data.tables.items():
        entry = manifest["tables"].setdefault(name, {"dir": name, "rows": 0, "files": {}})
        if name == "population":
            files = {}
            for reg, rows in df.groupby(df["region_code"].astype(str), sort=True):
                rel = f"population/region={reg}/part-{part:04d}.parquet"
                file = root / rel
                file.parent.mkdir(parents=True, exist_ok=True)
                pq.write_table(pa.Table.from_pandas(rows, preserve_index=False), file,
                               compression=compression)
                files[rel] = {"rows": int(len(rows)), "sha256": _sha256(file)}
        else:
            files = _write_table(df, name, root, region_of, n, compression, part)
        entry["files"].update(files)
        entry["rows"] += int(len(df))
    meta = dict(data.meta)
    truth = meta.pop("truth", None)
    part_meta = {**meta, "truth_file": None}
    if truth is not None:
        tfile = root / "truth" / f"{part:04d}.json"
        tfile.parent.mkdir(exist_ok=True)
        tfile.write_text(json.dumps(truth, indent=2, sort_keys=True, default=str))
        part_meta["truth_file"] = str(tfile.relative_to(root))
    manifest["meta"]["parts"].append(part_meta)
    regions = sorted({str(r) for r in region_of.unique()} | set(manifest["meta"].get("regions", [])))
    manifest["meta"]["regions"] = regions
    manifest["meta"]["source"] = meta.get("source")
    periods = [p["period"] for p in manifest["meta"]["parts"] if p.get("period")]
    if periods:
        manifest["meta"]["period"] = [min(p[0] for p in periods), max(p[1] for p in periods)]
    mfile.write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str))
    return root


def partition_keys(manifest: dict[str, Any]) -> list[str]:
    """The sorted ``region=RR/bucket=BBB`` keys of every person table (the Dask partitions)."""
    keys: set[str] = set()
    for name in PERSON_TABLES:
        for rel in manifest["tables"].get(name, {}).get("files", {}):
            keys.add(rel.split("/", 1)[1].rsplit("/", 1)[0])
    return sorted(keys)


def _check_files(root: Path, manifest: dict[str, Any], verify: bool) -> None:
    for name, entry in manifest["tables"].items():
        if name not in TABLES:
            raise ReadError(f"{root / _MANIFEST}: unknown table {name!r} in manifest")
        for rel, info in entry["files"].items():
            file = root / rel
            if not file.is_file():
                raise ReadError(f"{file}: listed in the manifest but missing")
            if verify:
                if _sha256(file) != info["sha256"]:
                    raise IntegrityError(f"{file}: sha256 differs from the manifest (file changed)")
                rows = pq.ParquetFile(file).metadata.num_rows
                if rows != info["rows"]:
                    raise IntegrityError(f"{file}: {rows} rows, manifest says {info['rows']}")


def _read_or_empty(spec: tuple[str, str, list[str]], meta: pd.DataFrame) -> pd.DataFrame:
    """One partition: the table's files of one region and bucket (none: an empty table)."""
    root, name, rels = spec
    if not rels:
        return meta.copy()
    parts = [_read(Path(root) / rel, name) for rel in rels]
    df = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
    # Every partition is validated as it is read (identifiers, allowed values, ...): matching
    # hashes only say the files are the ones written. The partition itself is returned as read,
    # so that it keeps the Dask meta; the duplicate-row rule is left out (per partition only).
    validate_table(df, name, extra="keep", check_duplicates=False)
    return df


def read_partitioned(path: str | Path, manifest: dict[str, Any], *, engine: str = "dask",
                     verify: bool = True) -> dict[str, Any]:
    """Tables of a partitioned bundle: lazy Dask DataFrames (``engine="dask"``) or pandas.

    Returns
    -------
    dict
        Table name -> DataFrame; with Dask, the person tables share one partition list
        (:func:`partition_keys`) and ``population`` is pandas.
    """
    root = Path(path)
    _check_files(root, manifest, verify)
    tables: dict[str, Any] = {}
    if "population" in manifest["tables"]:
        files = sorted(manifest["tables"]["population"]["files"])
        tables["population"] = pd.concat([_read(root / f, "population") for f in files],
                                         ignore_index=True)
    keys = partition_keys(manifest)
    for name in PERSON_TABLES:
        entry = manifest["tables"].get(name)
        if entry is None:
            continue
        by_key: dict[str, list[str]] = {}
        for rel in sorted(entry["files"]):
            by_key.setdefault(rel.split("/", 1)[1].rsplit("/", 1)[0], []).append(rel)
        if engine == "pandas":
            parts = [_read(root / rel, name) for k in keys for rel in by_key.get(k, [])]
            tables[name] = pd.concat(parts, ignore_index=True)
            continue
        import dask.dataframe as dd

        first = next(iter(sorted(entry["files"])))
        schema = pq.read_schema(root / first)
        meta = canonical_dtypes(schema.empty_table().to_pandas(
            types_mapper={pa.string(): STRING_DTYPE, pa.large_string(): STRING_DTYPE}.get), name)
        specs = [(str(root), name, by_key.get(k, [])) for k in keys]
        with canonical_strings():
            tables[name] = dd.from_map(_read_or_empty, specs, args=[meta], meta=meta,
                                       divisions=None, label=f"read-{name}",
                                       enforce_metadata=False)
    return tables


def read_bundle(cls: type, root: Path, manifest: dict[str, Any], *, engine: str,
                verify: bool) -> Any:
    """``RegisterData.from_dir`` for a partitioned bundle, or any bundle with ``engine="dask"``.

    A single-file bundle asked for with ``engine="dask"`` is read into memory and split by person
    into :data:`DEFAULT_PARTITIONS` buckets (convenient for small data; write
    ``to_dir(partitions=N)`` for data that do not fit).
    """
    if manifest.get("layout") is None:
        from naravard_analysis.engine import partition_by_person

        data = cls.from_dir(root, verify=verify, engine="pandas")
        split = partition_by_person({n: df for n, df in data.tables.items() if n != "population"},
                                    DEFAULT_PARTITIONS)
        return cls(**split, population=data.population, meta=data.meta, validate=False)
    if manifest["layout"] != LAYOUT:
        raise ReadError(f"{root / _MANIFEST}: unknown layout {manifest['layout']!r}")
    if manifest.get("schema_version") != SCHEMA_VERSION:
        raise ReadError(f"{root / _MANIFEST}: schema version {manifest.get('schema_version')!r}, "
                        f"expected {SCHEMA_VERSION!r}")
    tables = read_partitioned(root, manifest, engine=engine, verify=verify)
    meta = dict(manifest.get("meta", {}))
    if len(meta.get("parts", [])) == 1:  # one world written at once: its own meta, as to_dir
        part = meta["parts"][0]
        meta = {k: v for k, v in part.items() if k != "truth_file"}
        if part.get("truth_file"):
            meta["truth"] = json.loads((root / part["truth_file"]).read_text())
    meta["partitions"] = manifest["partitions"]
    data = cls(**tables, meta=meta, validate=False)
    # in memory: validated always, as a single-file bundle (a Dask table per partition on read)
    return data.validate(check_duplicates=not verify) if engine == "pandas" else data
