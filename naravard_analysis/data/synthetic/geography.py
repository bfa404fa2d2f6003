"""Geography of the synthetic world: real municipalities of a region and their age structure.

Municipality codes, names and the population by municipality × sex × single year of age come from
SCB's figures shipped with the package (:func:`naravard_analysis.data.official.population` with
``level="municipality"``, 31 December 2019; "Källa: SCB"). The synthetic residents are drawn from
these cells, so rural municipalities are older than urban ones exactly as in SCB's table.

Municipality type (design choice, a coarse stand-in for SKR's kommungruppsindelning): ``urban``
(≥ 50 000 residents), ``town`` (15 000-49 999) and ``rural`` (< 15 000).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from naravard_analysis.data import official
from naravard_analysis.errors import ParameterError

__all__ = ["region_geography", "municipality_type"]


def municipality_type(population: np.ndarray) -> np.ndarray:
    """Classify municipalities by total population: 'urban', 'town' or 'rural'."""
    pop = np.asarray(population)
    return np.where(pop >= 50_000, "urban", np.where(pop >= 15_000, "town", "rural"))


def _pick(codes: np.ndarray, pops: np.ndarray, k: int) -> np.ndarray:
    """Choose ``k`` municipalities spread over the size distribution (deterministic).

    Sorted by population (largest first), positions at evenly spaced quantiles are kept, so a small
    world holds the regional centre, towns and rural municipalities.
    """
    order = np.argsort(-pops, kind="stable")
    pos = np.unique(np.round(np.linspace(0, len(order) - 1, k)).astype(int))
    return np.sort(codes[order[pos]])


def region_geography(
    region: str, n_municipalities: int | None = None, *, year: int = 2019
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Municipalities of ``region`` and their population cells.

    Parameters
    ----------
    region
        Two-digit region code (validated against :func:`official.regions`).
    n_municipalities
        Keep this many municipalities (spread over the size distribution); ``None`` keeps all.

    Returns
    -------
    municipalities : DataFrame
        ``municipality_code``, ``municipality_name``, ``population`` (SCB total), ``mtype``.
    cells : DataFrame
        ``municipality_code``, ``sex``, ``age`` (0-100, 100 = 100+), ``population``.
    """
    region = str(region).zfill(2) if str(region).isdigit() else str(region)
    known = official.regions()["region_code"].astype(str).tolist()
    if region not in known:
        raise ParameterError(f"region {region!r} is not a Swedish region code; choose one of {known}")
    mun = official.municipalities()
    mun = mun[mun["region_code"].astype(str) == region]
    pop = official.population("municipality", years=year)
    pop = pop[pop["region_code"].astype(str) == region]
    totals = pop.groupby("municipality_code")["population"].sum()
    codes = np.array(sorted(totals.index.astype(str)))
    tot = totals.reindex(codes).to_numpy()
    if n_municipalities is not None and n_municipalities < len(codes):
        codes = _pick(codes, tot, n_municipalities)
    muni = pd.DataFrame({"municipality_code": codes})
    muni = muni.merge(
        mun[["municipality_code", "municipality_name"]].astype(str), on="municipality_code", how="left"
    )
    muni["population"] = totals.reindex(codes).to_numpy().astype(np.int64)
    muni["mtype"] = municipality_type(muni["population"].to_numpy())
    cells = pop[pop["municipality_code"].astype(str).isin(codes)][
        ["municipality_code", "sex", "age", "population"]
    ].astype({"municipality_code": str, "sex": str})
    cells = cells.sort_values(["municipality_code", "sex", "age"], ignore_index=True)
    return muni.reset_index(drop=True), cells
