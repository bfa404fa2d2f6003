"""Engine choice: the same per-person computations on pandas (default) or on Dask.

Every per-person indicator of the package (continuity indices, care episodes, avoidable and
readmission flags, the evaluation's outcome counts) looks only at one person's rows at a time. When
the tables are split so that *all rows of a person are in the same partition* -- the person is the
partition unit -- the pandas function can run unchanged inside each partition and the partition
results, put together, are the result for everybody. This module holds that machinery, written once:

* :func:`use_dask` -- the dispatch test at the top of each public indicator function: ``engine=``
  (``None`` = follow the input, ``"pandas"``, ``"dask"``) and the type of the tables;
* :func:`person_bucket` -- a stable hash of ``person_id`` into ``n`` buckets (the partition key
  of the hive-partitioned Parquet layout written by ``RegisterData.to_dir(partitions=n)``);
* :func:`partition_by_person` -- pandas tables to aligned Dask DataFrames, partition ``i`` of every
  table holding the persons of bucket ``i``;
* :func:`map_persons` -- ``map_partitions`` over aligned person-partitioned tables with an explicit
  ``meta`` derived by running the pandas function on the empty schema.

Dask is imported lazily: the pandas path never imports it.

Examples
--------
>>> import pandas as pd
>>> person_bucket(pd.Series([1, 2, 3, 1]), 4).tolist() == person_bucket(pd.Series([1, 2, 3, 1]), 4).tolist()
True
>>> use_dask(None, pd.DataFrame())
False
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from naravard_analysis.errors import ParameterError

__all__ = [
    "ENGINES",
    "EPISODE_ID_SHIFT",
    "is_dask",
    "use_dask",
    "person_bucket",
    "partition_by_person",
    "aligned",
    "map_persons",
    "empty_meta",
    "connect",
]

#: Engines accepted by ``engine=``.
ENGINES: tuple[str, ...] = ("pandas", "dask")

#: Episode ids on the Dask engine are ``partition << EPISODE_ID_SHIFT | local id``: unique across
#: the result without a pass over the other partitions (2**40 episodes per partition is ample).
EPISODE_ID_SHIFT = 40


def is_dask(obj: object) -> bool:
    """True for a Dask DataFrame or Series (checked without importing Dask)."""
    if "dask" not in sys.modules:
        return False
    return type(obj).__module__.startswith("dask.") and hasattr(obj, "map_partitions")


def use_dask(engine: str | None, *frames: object) -> bool:
    """Decide the engine of one call: the dispatch test of every public per-person function.

    Parameters
    ----------
    engine
        ``None`` (Dask when any table is a Dask DataFrame, pandas otherwise), ``"pandas"`` or
        ``"dask"`` (pandas tables are then split by person into Dask partitions).
    *frames
        The tables passed to the function (``None`` entries are ignored).

    Raises
    ------
    ParameterError
        An unknown engine, or ``engine="pandas"`` with a Dask table (computing it silently could
        exhaust the memory the partitioning was chosen to avoid).
    """
    if engine is not None and engine not in ENGINES:
        raise ParameterError(f"engine must be None, 'pandas' or 'dask', got {engine!r}")
    any_dask = any(is_dask(f) for f in frames if f is not None)
    if engine == "pandas" and any_dask:
        raise ParameterError(
            "engine='pandas' was asked for but a table is a Dask DataFrame; pass engine='dask' "
            "(or None) or compute the table first"
        )
    return engine == "dask" or any_dask


def _require_dask() -> Any:
    try:
        import dask.dataframe as dd
    except ImportError as exc:  # pragma: no cover - dask is a declared dependency
        raise ParameterError(
            "the Dask engine needs dask[dataframe,distributed] (pip install 'dask[dataframe]')"
        ) from exc
    return dd


def person_bucket(person_id: pd.Series | np.ndarray, n: int) -> np.ndarray:
    """Stable bucket ``0 .. n-1`` of each person id.

    The hash is pandas' stable 64-bit hash of the value (:func:`pandas.util.hash_array`: a fixed
    bit mix for integers, SipHash with a fixed key for text), so the same id lands in the same
    bucket on every machine and run (recorded values are tested, so a change of pandas' hash would
    be noticed); integer and text ids are both supported. ``n`` buckets of about equal size.

    Examples
    --------
    >>> b = person_bucket(pd.Series(range(10_000)), 8)
    >>> int(b.min()), int(b.max()), bool(abs(np.bincount(b).std() / 1250) < 0.1)
    (0, 7, True)
    """
    if int(n) < 1:
        raise ParameterError(f"the number of buckets must be at least 1, got {n}")
    values = pd.Series(person_id).to_numpy()
    if values.dtype.kind in "iu":
        values = values.astype(np.int64, copy=False)
    elif values.dtype.kind != "O":
        values = values.astype(object)
    h = pd.util.hash_array(values)
    return (h % np.uint64(n)).astype(np.int32)


def partition_by_person(
    tables: Mapping[str, pd.DataFrame | None], npartitions: int
) -> dict[str, Any]:
    """Split pandas tables into aligned Dask DataFrames, one partition per person bucket.

    Partition ``i`` of every table holds exactly the rows of the persons whose
    :func:`person_bucket` is ``i`` (possibly none), so a per-person function can be applied
    partition by partition to several tables at once.

    Parameters
    ----------
    tables
        Name -> pandas DataFrame with a ``person_id`` column (``None`` values are passed through).
    npartitions
        Number of buckets = partitions.

    Returns
    -------
    dict
        Name -> Dask DataFrame with ``npartitions`` partitions (or ``None``).
    """
    dd = _require_dask()
    n = int(npartitions)
    out: dict[str, Any] = {}
    with canonical_strings():
        for name, df in tables.items():
            if df is None:
                out[name] = None
                continue
            bucket = person_bucket(df["person_id"], n)
            order = np.argsort(bucket, kind="stable")
            bounds = np.searchsorted(bucket[order], np.arange(n + 1))
            parts = [df.iloc[order[bounds[i]: bounds[i + 1]]] for i in range(n)]
            out[name] = dd.from_map(_identity, parts, meta=df.iloc[:0], divisions=None,
                                    label=f"person-partitioned-{name}")
    return out


def canonical_strings() -> Any:
    """Context in which Dask keeps the tables' canonical text dtype.

    Dask converts text columns of new collections to ``string[pyarrow]`` (missing = ``pd.NA``) by
    default; the canonical tables use the arrow-backed string dtype with ``NaN`` as missing value,
    and the pandas functions rely on it, so the conversion is switched off while the Dask engine
    builds its collections (the setting is read when a collection is created).
    """
    import dask

    return dask.config.set({"dataframe.convert-string": False})


def _identity(df: pd.DataFrame) -> pd.DataFrame:
    return df


def aligned(frames: Sequence[Any], npartitions: int | None = None) -> list[Any]:
    """Person-partitioned Dask versions of ``frames`` (pandas ones split by :func:`person_bucket`).

    Dask frames must already share one partition count: their partitions are assumed to be aligned
    by person (as written by ``RegisterData.to_dir(partitions=n)`` and read by
    ``RegisterData.from_dir(engine="dask")``), which is the contract of the Dask engine.
    """
    ns = {f.npartitions for f in frames if is_dask(f)}
    if len(ns) > 1:
        raise ParameterError(
            f"Dask tables have different partition counts {sorted(ns)}: the Dask engine needs "
            "tables partitioned by person into the same buckets (RegisterData.from_dir(engine='dask'))"
        )
    n = ns.pop() if ns else int(npartitions or 4)
    pandas_ones = {str(i): f for i, f in enumerate(frames) if f is not None and not is_dask(f)}
    split = partition_by_person(pandas_ones, n) if pandas_ones else {}
    return [split.get(str(i), f) for i, f in enumerate(frames)]


def empty_meta(result: pd.DataFrame) -> pd.DataFrame:
    """Dask ``meta`` from a pandas result computed on empty input: no rows, categoricals with
    unknown categories (each partition has its own; Dask unions them when it concatenates)."""
    from dask.dataframe.utils import clear_known_categories

    meta = result.iloc[:0].copy()
    meta.attrs = {}
    return clear_known_categories(meta)


def map_persons(
    func: Callable[..., pd.DataFrame],
    frames: Sequence[Any],
    *,
    meta: pd.DataFrame | None = None,
    renumber: str | None = None,
    **kwargs: Any,
) -> Any:
    """Run a pandas per-person function on every partition of aligned person-partitioned tables.

    Parameters
    ----------
    func
        ``func(*partitions, **kwargs)`` -> pandas DataFrame; it must only combine rows of the same
        person (then the concatenated partition results equal ``func`` on the whole tables).
    frames
        Aligned Dask DataFrames (see :func:`aligned`); non-Dask entries are passed to every call.
    meta
        Output schema; default ``func`` applied to the empty schemas of the inputs.
    renumber
        Name of an integer id column local to each partition (``episode_id``) made unique across the
        result as ``partition << EPISODE_ID_SHIFT | id``.

    Returns
    -------
    dask.dataframe.DataFrame
        Lazy; one output partition per input partition.
    """
    dd = _require_dask()
    if meta is None:
        empties = [f._meta if is_dask(f) else f for f in frames]
        meta = empty_meta(func(*empties, **kwargs))
    return dd.map_partitions(
        _call_renumbered, *frames, apply=func, renumber=renumber, kwargs=kwargs, meta=meta,
        align_dataframes=False, enforce_metadata=False,
    )


def _call_renumbered(
    *parts: Any, apply: Callable[..., pd.DataFrame], renumber: str | None,
    kwargs: dict[str, Any], partition_info: dict | None = None,
) -> pd.DataFrame:
    out = apply(*parts, **kwargs)
    if renumber is not None and renumber in out.columns:
        number = 0 if partition_info is None else int(partition_info["number"])
        out[renumber] = out[renumber].to_numpy(np.int64) + (np.int64(number) << EPISODE_ID_SHIFT)
    out.attrs = {}
    return out


def connect(cluster: str | int | None, *, memory_limit: str = "auto") -> Any:
    """A ``dask.distributed`` client for ``cluster``, or ``None`` for the default (no cluster).

    Parameters
    ----------
    cluster
        ``None``, ``""`` or ``0``: no client (pandas, or Dask's local threads when a table is a Dask
        DataFrame); ``"tcp://HOST:PORT"``: an existing scheduler; an integer ``N`` or
        ``"local:N"``: start a :class:`distributed.LocalCluster` with ``N`` worker processes of one
        thread each on this machine (closed with the client).
    memory_limit
        Per-worker memory limit of a local cluster (``"6GiB"``; ``"auto"`` splits the machine).

    Returns
    -------
    distributed.Client or None
        Use it as a context manager (``with connect(...) as client:``), or call ``close()``.

    Examples
    --------
    >>> connect("") is None
    True
    """
    if cluster in (None, "", 0, "0"):
        return None
    from distributed import Client

    text = str(cluster)
    if text.startswith("local:") or text.isdigit():
        n = int(text.split(":", 1)[-1])
        if n < 1:
            raise ParameterError(f"a local cluster needs at least one worker, got {n}")
        # a client given worker settings starts its own LocalCluster and closes it with itself
        return Client(n_workers=n, threads_per_worker=1, memory_limit=memory_limit,
                      dashboard_address=None)
    if "://" not in text:
        raise ParameterError(f"cluster must be 'tcp://HOST:PORT', 'local:N' or N, got {cluster!r}")
    return Client(text)
