"""The ``national`` preset: every region of Sweden at its real size, larger than memory.

:func:`make_national` generates the 21 regions one after the other -- a large region in chunks of at
most ``chunk_persons`` residents -- and appends each to one hive-partitioned Parquet bundle
(:mod:`naravard_analysis.data.partitioned`), so the memory needed is that of one chunk whatever the
size of the country. Region sizes are SCB's population on 31 December 2019 by municipality
(:func:`naravard_analysis.data.official.population`, level ``"municipality"``), 10.3 million in all.

Every region and chunk is an independent :func:`~naravard_analysis.data.synthetic.make_world` with
its own seed, derived from ``seed``, the region code and the chunk number
(:class:`numpy.random.SeedSequence`), so one region can be regenerated alone and the others do not
change. Person ids are made unique across the country as ``region · 10^9 + chunk · 10^8 + local id``.
Clinician and unit ids are those of each chunk's own world (they are only compared within a person).

Read the result lazily with ``RegisterData.from_dir(path, engine="dask")``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from naravard_analysis.data.synthetic.presets import resolve_preset
from naravard_analysis.errors import ParameterError

__all__ = ["make_national", "region_sizes", "region_seed"]

#: Person tables whose ``person_id`` is offset to be unique across regions and chunks.
_ID_TABLES = ("persons", "admissions", "contacts", "listings", "enrolments")


def region_sizes(scale: float = 1.0) -> dict[str, int]:
    """Residents per region (SCB, 31 December 2019) times ``scale``, rounded.

    Examples
    --------
    >>> sizes = region_sizes()
    >>> len(sizes), sizes["01"], sum(sizes.values())
    (21, 2377081, 10327589)
    """
    from naravard_analysis.data import official

    pop = official.population("municipality", 2019)
    by_region = pop.groupby(pop["municipality_code"].astype(str).str[:2])["population"].sum()
    return {str(r): int(round(v * scale)) for r, v in by_region.sort_index().items()}


def region_seed(seed: int, region: str, chunk: int) -> int:
    """Seed of one region's chunk: independent streams from (seed, region, chunk)."""
    return int(np.random.SeedSequence([int(seed), int(region), int(chunk)]).generate_state(1)[0])


def _offset_ids(data: Any, region: str, chunk: int) -> None:
    offset = np.int64(int(region)) * 10**9 + np.int64(chunk) * 10**8
    for name in _ID_TABLES:
        df = getattr(data, name)
        if df is not None:
            df["person_id"] = df["person_id"].to_numpy(np.int64) + offset


def make_national(
    out: str | Path,
    *,
    partitions: int = 16,
    seed: int = 0,
    regions: Sequence[str] | None = None,
    scale: float = 1.0,
    chunk_persons: int = 500_000,
    start: str | None = None,
    end: str | None = None,
    effects: str | Mapping[str, float] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Generate the ``national`` synthetic world into a partitioned bundle, region by region.

    Parameters
    ----------
    out
        Output directory (must not hold a bundle yet).
    partitions
        Person buckets per region (``RegisterData.to_dir(partitions=...)``).
    seed
        Master seed; each region and chunk gets :func:`region_seed` ``(seed, region, chunk)``.
    regions
        Region codes to build (default all 21).
    scale
        Fraction of each region's real population (1.0 = real size; smaller for tests).
    chunk_persons
        Largest number of residents generated at once (bounds the memory: one chunk of 500 000
        residents over nine years peaks at a few GiB).
    start, end
        Period (default the preset's, 2015-2023).
    effects
        As for :func:`~naravard_analysis.data.synthetic.make_world`.
    progress
        Called with one line per finished chunk (e.g. ``print``).

    Returns
    -------
    Path
        ``out``; its ``manifest.json`` lists every file and, under ``meta["parts"]``, each chunk's
        settings (truth in ``truth/NNN.json``).

    Examples
    --------
    >>> make_national("/tmp/national", partitions=16)  # doctest: +SKIP
    """
    from naravard_analysis.data.synthetic.world import make_world

    cfg = resolve_preset("national")
    sizes = region_sizes(scale)
    wanted = sorted(sizes) if regions is None else [str(r).zfill(2) for r in regions]
    unknown = [r for r in wanted if r not in sizes]
    if unknown:
        raise ParameterError(f"unknown region codes {unknown}; known: {sorted(sizes)}")
    if int(chunk_persons) < 200:
        raise ParameterError(f"chunk_persons must be at least 200, got {chunk_persons}")
    root = Path(out)
    for region in wanted:
        n_chunks = max(1, math.ceil(sizes[region] / int(chunk_persons)))
        base, extra = divmod(sizes[region], n_chunks)
        for chunk in range(n_chunks):
            t0 = time.perf_counter()
            n = max(200, base + (chunk < extra))
            world = make_world("national", region=region, n_persons=n,
                               seed=region_seed(seed, region, chunk), start=start or cfg["start"],
                               end=end or cfg["end"], effects=effects)
            _offset_ids(world, region, chunk)
            world.meta.update({"preset": "national", "chunk": chunk, "master_seed": int(seed)})
            world.to_dir(root, partitions=partitions, append=True)
            if progress is not None:
                progress(f"region {region} chunk {chunk + 1}/{n_chunks}: {n:,} residents, "
                         f"{len(world.contacts):,} contacts, {len(world.admissions):,} admissions, "
                         f"{time.perf_counter() - t0:.0f} s")
            del world
    return root
