"""Residents of the synthetic world: who lives there at the start and who enters later.

Initial residents are drawn from SCB's municipality × sex × single-age cells (see
:mod:`.geography`). Entrants are births (crude birth rate 11 per 1 000 a year, close to Sweden's
2015-2023 level of about 10-12 per 1 000, SCB) and in-migrants (a share of the population a year
equal to the expected out-migration plus 0.4 % growth; ages concentrated at 19-34 as in SCB's
migration statistics). These rates are design choices of the right order, not calibrated values.

The population table is built from the simulated persons (alive and resident on 31 December), so
it equals the persons table by construction (tested).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from naravard_analysis.data.synthetic.calendar import MonthGrid
from naravard_analysis.data.synthetic.rng import stream

__all__ = ["draw_persons", "out_migration_rate", "population_table"]

YEAR = 365.25
BIRTH_RATE = 0.011
GROWTH = 0.004
_OUT_AGES = np.array([18.0, 31.0, 46.0, 65.0])
_OUT_RATE = np.array([0.025, 0.075, 0.030, 0.012, 0.006])


def out_migration_rate(age: np.ndarray) -> np.ndarray:
    """Annual probability of leaving the region (design choice, SCB-like age profile)."""
    a = np.asarray(age, dtype=float)
    # lookup by age band (a < 18, < 31, < 46, < 65, 65+); np.select is several times slower
    return _OUT_RATE[np.searchsorted(_OUT_AGES, a, side="right")]


def _migrant_ages(rng: np.random.Generator, n: int) -> np.ndarray:
    group = rng.choice(4, size=n, p=[0.25, 0.55, 0.15, 0.05])
    lo = np.array([0, 19, 35, 65])[group]
    hi = np.array([19, 35, 65, 90])[group]
    return lo + rng.random(n) * (hi - lo)


def draw_persons(
    seed: int,
    muni: pd.DataFrame,
    cells: pd.DataFrame,
    n_persons: int,
    weighting: str,
    grid: MonthGrid,
    *,
    min_age: int = 0,
) -> dict[str, np.ndarray]:
    """Draw initial residents and entrants.

    ``min_age`` > 0 draws the initial residents from the SCB cells of that age and older only
    (the municipality weights are unchanged); entrants are drawn as always.

    Returns
    -------
    dict of arrays (one entry per person): ``sex`` (0 = F, 1 = M), ``birth_day``, ``muni``
    (index into ``muni``), ``entry_day`` (start day for initial residents), ``entrant`` (0 initial,
    1 birth, 2 in-migrant).
    """
    rng = stream(seed, "persons")
    if min_age > 0:
        cells = cells[cells["age"].to_numpy() >= min_age].reset_index(drop=True)
    pop = muni["population"].to_numpy().astype(float)
    w = np.sqrt(pop) if weighting == "sqrt" else pop
    w = w / w.sum()
    code_index = {c: i for i, c in enumerate(muni["municipality_code"])}
    cm = cells["municipality_code"].map(code_index).to_numpy()
    cp = cells["population"].to_numpy().astype(float)
    mtot = np.bincount(cm, weights=cp, minlength=len(muni))
    p = cp / mtot[cm] * w[cm]
    pick = rng.choice(len(cells), size=n_persons, p=p / p.sum())
    age0 = cells["age"].to_numpy()[pick] + rng.random(n_persons)
    sex0 = (cells["sex"].to_numpy()[pick] == "M").astype(np.int8)
    muni0 = cm[pick]
    birth0 = np.floor(grid.start_day - age0 * YEAR).astype(np.int64)

    rng_e = stream(seed, "entrants")
    years = (grid.end_day - grid.start_day + 1) / YEAR
    exp_out = float(np.mean(out_migration_rate(age0)))
    n_birth = int(rng_e.poisson(BIRTH_RATE * n_persons * years))
    n_mig = int(rng_e.poisson((exp_out + GROWTH) * n_persons * years))
    n_ent = n_birth + n_mig
    span = grid.end_day - grid.start_day + 1
    entry = grid.start_day + np.floor(rng_e.random(n_ent) * span).astype(np.int64)
    entry.sort()  # entrants ordered by entry day: later person ids enter later
    kind = np.where(rng_e.random(n_ent) < n_birth / max(n_ent, 1), 1, 2).astype(np.int8)
    ages = np.where(kind == 1, 0.0, _migrant_ages(rng_e, n_ent))
    birth_e = entry - np.floor(ages * YEAR).astype(np.int64)
    sex_e = (rng_e.random(n_ent) < np.where(kind == 1, 0.513, 0.5)).astype(np.int8)
    muni_e = rng_e.choice(len(muni), size=n_ent, p=w)
    # Initial residents sorted by municipality, birth day and sex so that ids look like an extract.
    order = np.lexsort((sex0, birth0, muni0))
    return {
        "sex": np.concatenate([sex0[order], sex_e]),
        "birth_day": np.concatenate([birth0[order], birth_e]),
        "muni": np.concatenate([muni0[order], muni_e]).astype(np.int32),
        "entry_day": np.concatenate([np.full(n_persons, grid.start_day, np.int64), entry]),
        "entrant": np.concatenate([np.zeros(n_persons, np.int8), kind]),
    }


def population_table(
    persons: dict[str, np.ndarray],
    exit_day: np.ndarray,
    muni: pd.DataFrame,
    region: str,
    grid: MonthGrid,
) -> pd.DataFrame:
    """Residents on 31 December of each year by municipality × sex × single age (0-100+).

    A person counts in year y when ``entry_day <= 31 Dec y < exit_day`` (exit = death or moving
    out, the exit day itself not resident). Age is completed years on 31 December.
    """
    rows = []
    years = np.unique(grid.year)
    for y in years:
        dec31 = int(np.datetime64(f"{int(y)}-12-31", "D").astype(np.int64))
        if dec31 > grid.end_day:
            continue
        alive = (persons["entry_day"] <= dec31) & (exit_day > dec31)
        bd = persons["birth_day"][alive].astype("datetime64[D]")
        by = bd.astype("datetime64[Y]").astype(np.int64) + 1970
        age = np.minimum(int(y) - by, 100)
        key = (persons["muni"][alive].astype(np.int64) * 2 + persons["sex"][alive]) * 101 + age
        counts = np.bincount(key, minlength=len(muni) * 2 * 101)
        nz = np.flatnonzero(counts)
        rows.append(
            pd.DataFrame(
                {
                    "year": np.full(len(nz), int(y), np.int64),
                    "m": nz // 202,
                    "sex": np.where((nz // 101) % 2 == 1, "M", "F"),
                    "age": (nz % 101).astype(np.int64),
                    "population": counts[nz].astype(np.int64),
                }
            )
        )
    out = pd.concat(rows, ignore_index=True)
    codes = muni["municipality_code"].to_numpy()
    out.insert(1, "region_code", region)
    out.insert(2, "municipality_code", codes[out.pop("m").to_numpy()])
    return out.sort_values(["year", "municipality_code", "sex", "age"], ignore_index=True)
