"""`RegisterData`: the bundle of canonical tables that every analysis starts from.

A bundle holds up to six canonical tables (see :mod:`naravard_analysis.data.schema`) plus metadata
(region, period, source, the parameters that made it and, for synthetic worlds, the truth). It
validates on creation, and it round-trips through a directory of Parquet files with a JSON manifest
(schema version, row counts, sha256 of every file, the metadata) so that a reader can tell whether
the files are the ones that were written.

Examples
--------
>>> import pandas as pd
>>> from naravard_analysis.data import RegisterData
>>> persons = pd.DataFrame({"person_id": [1], "sex": ["F"], "birth_date": ["1950-03-01"],
...     "region_code": ["14"], "municipality_code": ["1480"], "death_date": [None]})
>>> data = RegisterData(persons=persons, meta={"region": "14"})
>>> data.persons.shape, list(data.tables)
((1, 6), ['persons'])
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from naravard_analysis.data.schema import SCHEMA_VERSION, TABLES, validate_table
from naravard_analysis.errors import IntegrityError, ReadError

__all__ = ["RegisterData", "TABLE_NAMES", "MANIFEST_NAME", "sha256_file"]

#: The canonical tables a bundle may hold, in the order they are written.
TABLE_NAMES: tuple[str, ...] = (
    "persons",
    "population",
    "admissions",
    "contacts",
    "listings",
    "enrolments",
)
MANIFEST_NAME = "manifest.json"


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _read_parquet(path: Path) -> pd.DataFrame:
    """Read Parquet with text columns straight into the canonical arrow-backed string dtype
    (no round trip through Python objects, which dominated load time)."""
    from naravard_analysis.data.schema import STRING_DTYPE

    mapping = {pa.string(): STRING_DTYPE, pa.large_string(): STRING_DTYPE}
    return pq.read_table(path).to_pandas(types_mapper=mapping.get)


class RegisterData:
    """A bundle of canonical register tables plus metadata.

    Parameters
    ----------
    persons, population, admissions, contacts, listings, enrolments
        Canonical tables (any may be ``None``).
    meta
        JSON-serialisable metadata: ``region``, ``period``, ``source``, ``params``, ``truth`` ...
    validate
        Validate (and coerce to canonical dtypes) on creation; ``False`` only for tables that were
        validated before (e.g. :meth:`restrict`; :meth:`from_dir` validates after reading).
    duplicates
        Passed to :func:`~naravard_analysis.data.schema.validate_table`.

    Attributes
    ----------
    tables : dict
        The tables that are present, by name.
    """

    def __init__(
        self,
        persons: pd.DataFrame | None = None,
        population: pd.DataFrame | None = None,
        admissions: pd.DataFrame | None = None,
        contacts: pd.DataFrame | None = None,
        listings: pd.DataFrame | None = None,
        enrolments: pd.DataFrame | None = None,
        *,
        meta: dict[str, Any] | None = None,
        validate: bool = True,
        duplicates: str = "error",
    ) -> None:
        self.persons = persons
        self.population = population
        self.admissions = admissions
        self.contacts = contacts
        self.listings = listings
        self.enrolments = enrolments
        self.meta: dict[str, Any] = dict(meta or {})
        self._duplicates = duplicates
        if validate:
            self.validate()

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables that are present, by name, in canonical order."""
        return {n: getattr(self, n) for n in TABLE_NAMES if getattr(self, n) is not None}

    def validate(self, *, check_duplicates: bool = True) -> RegisterData:
        """Coerce every table to its canonical dtypes and check every rule (in place).

        Also checks that every ``person_id`` in the event tables exists in ``persons`` when both
        are present. ``check_duplicates=False`` skips only the duplicate-row rule (see
        :func:`~naravard_analysis.data.schema.validate_table`).

        Returns
        -------
        RegisterData
            ``self``, for chaining.

        Raises
        ------
        SchemaError
            The first rule broken, naming table, column, rule and row count.
        """
        for name, df in self.tables.items():
            setattr(
                self,
                name,
                validate_table(
                    df, name, duplicates=self._duplicates, check_duplicates=check_duplicates
                ),
            )
        if self.persons is not None:
            known = self.persons["person_id"]
            for name in ("admissions", "contacts", "listings", "enrolments"):
                df = getattr(self, name)
                if df is None:
                    continue
                unknown = ~df["person_id"].isin(known).to_numpy()
                if unknown.any():
                    from naravard_analysis.errors import SchemaError

                    pos = unknown.nonzero()[0]
                    raise SchemaError(
                        name, "person_id", "must refer to a person in persons", len(pos), pos[:5]
                    )
        return self

    def restrict(
        self,
        *,
        municipality_codes: list[str] | tuple[str, ...] | None = None,
        start: str | pd.Timestamp | None = None,
        end: str | pd.Timestamp | None = None,
    ) -> RegisterData:
        """A new bundle limited to residents of some municipalities and/or a period.

        Persons are kept by their municipality of residence; event tables keep the events of
        those persons whose date (admission, contact or start date) lies in ``[start, end]``;
        the population table keeps the same municipalities and the years of the period. An empty
        or ``None`` filter keeps everything.

        Examples
        --------
        >>> data.restrict(municipality_codes=["1480"], start="2019-01-01")  # doctest: +SKIP
        """
        start_ts = pd.Timestamp(start) if start is not None else None
        end_ts = pd.Timestamp(end) if end is not None else None
        tables: dict[str, pd.DataFrame] = {}
        persons = self.persons
        if persons is not None and municipality_codes:
            persons = persons[persons["municipality_code"].isin(list(municipality_codes))]
        keep_ids = None if persons is None or not municipality_codes else persons["person_id"]
        date_col = {
            "admissions": "admission_date",
            "contacts": "contact_date",
            "listings": "start_date",
            "enrolments": "start_date",
        }
        for name, df in self.tables.items():
            if name == "persons":
                tables[name] = persons.reset_index(drop=True)
                continue
            mask = pd.Series(True, index=df.index)
            if name == "population":
                if municipality_codes:
                    mask &= df["municipality_code"].isin(list(municipality_codes))
                if start_ts is not None:
                    mask &= df["year"] >= start_ts.year
                if end_ts is not None:
                    mask &= df["year"] <= end_ts.year
            else:
                if keep_ids is not None:
                    mask &= df["person_id"].isin(keep_ids)
                col = date_col[name]
                if start_ts is not None and name in ("admissions", "contacts"):
                    mask &= df[col] >= start_ts
                if end_ts is not None:
                    mask &= df[col] <= end_ts
            tables[name] = df[mask.to_numpy()].reset_index(drop=True)
        meta = dict(self.meta)
        meta["restricted"] = {
            "municipality_codes": list(municipality_codes or []),
            "start": None if start_ts is None else str(start_ts.date()),
            "end": None if end_ts is None else str(end_ts.date()),
        }
        return RegisterData(**tables, meta=meta, validate=False)

    # ------------------------------------------------------------------ I/O
    def to_dir(self, path: str | Path, *, compression: str = "zstd", partitions: int | None = None,
               append: bool = False) -> Path:
        """Write every table as Parquet plus ``manifest.json`` (and ``truth.json`` when known).

        Files are written deterministically (no timestamps), so the same bundle gives
        byte-identical files.

        Parameters
        ----------
        partitions
            Write hive-partitioned Parquet by the person's region and ``partitions`` buckets of a
            stable hash of ``person_id`` (read lazily with ``from_dir(path, engine="dask")``;
            layout in :mod:`naravard_analysis.data.partitioned`). ``None``: one file per table.
        append
            With ``partitions``: add these persons (e.g. another region) to an existing
            partitioned bundle.

        Returns
        -------
        Path
            The directory written.
        """
        if partitions is not None:
            from naravard_analysis.data.partitioned import write_partitioned

            return write_partitioned(self, path, partitions, compression=compression, append=append)
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        files: dict[str, dict[str, Any]] = {}
        for name, df in self.tables.items():
            file = out / f"{name}.parquet"
            table = pa.Table.from_pandas(df, preserve_index=False)
            pq.write_table(table, file, compression=compression)
            files[name] = {"file": file.name, "rows": int(len(df)), "sha256": sha256_file(file)}
        if "truth" in self.meta:
            truth_file = out / "truth.json"
            truth_file.write_text(json.dumps(self.meta["truth"], indent=2, sort_keys=True, default=str))
        manifest = {
            "schema_version": SCHEMA_VERSION,
            "package": "naravard_analysis",
            "tables": files,
            "meta": self.meta,
        }
        (out / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str))
        return out

    @classmethod
    def from_dir(
        cls, path: str | Path, *, verify: bool = True, engine: str = "pandas"
    ) -> RegisterData:
        """Read a bundle written by :meth:`to_dir`.

        Parameters
        ----------
        path
            Directory holding ``manifest.json`` and the Parquet files.
        verify
            Check every file's sha256 and row count against the manifest. Every table is
            validated either way (identifiers, dtypes, missing and allowed values, ranges, codes,
            person references); only the duplicate-row rule is left out when the hashes match.
        engine
            ``"pandas"`` (in memory) or ``"dask"``: the person tables of a partitioned bundle
            (``to_dir(partitions=N)``) become lazy Dask DataFrames partitioned by person, one
            partition per region and bucket, aligned across tables (``population`` stays
            pandas). Each partition is validated as it is read.

        Raises
        ------
        ReadError
            When the directory or manifest is missing or unreadable.
        IntegrityError
            When a file's hash or row count differs from the manifest.
        SchemaError, IdentifierError
            When a table breaks a rule of its schema or holds clear-text personnummer.
        """
        root = Path(path)
        mfile = root / MANIFEST_NAME
        if not mfile.is_file():
            raise ReadError(
                f"{root}: no {MANIFEST_NAME}; not a RegisterData directory (write one with "
                "RegisterData.to_dir or `naravard synth`)"
            )
        try:
            manifest = json.loads(mfile.read_text())
        except json.JSONDecodeError as exc:
            raise ReadError(f"{mfile}: manifest is not valid JSON ({exc.msg})") from exc
        if manifest.get("schema_version") != SCHEMA_VERSION:
            raise ReadError(
                f"{mfile}: schema version {manifest.get('schema_version')!r}, expected "
                f"{SCHEMA_VERSION!r}"
            )
        if engine not in ("pandas", "dask"):
            raise ReadError(f"engine must be 'pandas' or 'dask', got {engine!r}")
        if manifest.get("layout") is not None or engine == "dask":
            from naravard_analysis.data.partitioned import read_bundle

            return read_bundle(cls, root, manifest, engine=engine, verify=verify)
        tables: dict[str, pd.DataFrame] = {}
        for name, entry in manifest.get("tables", {}).items():
            if name not in TABLES:
                raise ReadError(f"{mfile}: unknown table {name!r} in manifest")
            file = root / entry["file"]
            if not file.is_file():
                raise ReadError(f"{file}: listed in the manifest but missing")
            if verify and sha256_file(file) != entry["sha256"]:
                raise IntegrityError(f"{file}: sha256 differs from the manifest (file changed)")
            df = _read_parquet(file)
            if verify and len(df) != entry["rows"]:
                raise IntegrityError(
                    f"{file}: {len(df)} rows, manifest says {entry['rows']}"
                )
            tables[name] = df
        # Always validated: a bundle written with validate=False (or by another tool) may hold
        # clear-text personnummer or values outside the code lists, and matching hashes only say
        # the files are the ones written. Fast path: with verified hashes the duplicate-row rule
        # (the costly one, and the writer may have kept duplicates on purpose) is not re-run.
        data = cls(**tables, meta=manifest.get("meta", {}), validate=False)
        return data.validate(check_duplicates=not verify)

    def manifest_hash(self, path: str | Path) -> str:
        """sha256 of the manifest in ``path`` (used by reports to cite their input data)."""
        return sha256_file(Path(path) / MANIFEST_NAME)

    def summary(self) -> pd.DataFrame:
        """One row per table: rows, columns, persons and the date range it covers (no person data)."""
        from naravard_analysis.data.schema import TABLES as _SPECS

        rows = []
        for name, df in self.tables.items():
            dates = [c.name for c in _SPECS[name].columns if c.kind == "date" and c.name in df]
            first = min((df[c].min() for c in dates), default=pd.NaT)
            last = max((df[c].max() for c in dates), default=pd.NaT)
            rows.append({
                "table": name,
                "rows": int(len(df)),
                "columns": int(df.shape[1]),
                "persons": int(df["person_id"].nunique()) if "person_id" in df else None,
                "first_date": first,
                "last_date": last,
            })
        return pd.DataFrame(rows)

    def _repr_html_(self) -> str:
        region = self.meta.get("region")
        head = f"<b>RegisterData</b>{f' — region {region}' if region else ''}"
        source = self.meta.get("source")
        if source:
            head += f" — source: {source}"
        return head + self.summary().to_html(index=False, na_rep="")

    def __repr__(self) -> str:
        # a Dask table is not counted (that would read it): its partitions are shown instead
        parts = ", ".join(f"{n}={len(df):,}" if not hasattr(df, "npartitions")
                          else f"{n}=<{df.npartitions} partitions>" for n, df in self.tables.items())
        region = self.meta.get("region")
        return f"RegisterData({parts}{', region=' + repr(region) if region else ''})"
