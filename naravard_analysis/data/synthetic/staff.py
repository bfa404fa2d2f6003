"""Primary-care units (vårdcentraler), hospitals and clinicians with turnover.

Each unit has a fixed set of *slots* per profession; each slot is held by a sequence of clinicians
back to back (no vacancy), so a unit always has staff. Tenures are exponential: permanent physicians
mean 6 years (about 15 % leave a year), locum physicians (hyrläkare) mean 4 months, nurses 5 years,
others 6 years -- design choices that give the turnover the Swedish reports describe (shortage of
GPs, reliance on locums; Socialstyrelsen 2022, seed 002, ch. 7). A unit keeps a realistic staff size
whatever the number of synthetic residents it serves, so continuity does not depend on the sample.

:class:`Roster` answers "which clinicians of profession k worked at unit u in month m" in
vectorised form (sorted keys + offsets), used to choose providers for millions of contacts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from naravard_analysis.data.synthetic.calendar import MonthGrid
from naravard_analysis.data.synthetic.rng import stream

__all__ = ["PROFESSIONS", "build_units", "build_clinicians", "Roster"]

PROFESSIONS = ("physician", "nurse", "physiotherapist", "occupational_therapist", "other")
YEAR = 365.25
# profession -> (min slots, max slots, mean tenure years)
_SLOTS = {0: (4, 7, 6.0), 1: (4, 8, 5.0), 2: (1, 3, 6.0), 3: (1, 2, 6.0), 4: (1, 2, 6.0)}
_LOCUM_SLOTS = (0, 2)
_LOCUM_YEARS = 4 / 12


def build_units(seed: int, muni: pd.DataFrame, persons_muni: np.ndarray,
                persons_per_unit: int, region: str) -> pd.DataFrame:
    """Units per municipality in proportion to its synthetic residents (at least one).

    Returns ``unit_id`` ('VC' + municipality code + two digits), ``muni`` (index), ``weight``
    (relative list size) and ``hospital`` (index of the municipality's emergency hospital).
    """
    rng = stream(seed, "staff")
    n_res = np.bincount(persons_muni, minlength=len(muni))
    n_units = np.maximum(1, np.round(n_res / persons_per_unit)).astype(int)
    m_idx = np.repeat(np.arange(len(muni)), n_units)
    seq = np.concatenate([np.arange(k) for k in n_units])
    codes = muni["municipality_code"].to_numpy()
    units = pd.DataFrame({
        "unit_id": [f"VC{codes[m]}{s + 1:02d}" for m, s in zip(m_idx, seq, strict=True)],
        "muni": m_idx,
        "weight": rng.gamma(4.0, 0.25, size=len(m_idx)),
    })
    # Emergency hospitals: one per ~4 municipalities (at least 2), municipalities assigned in size
    # order so that the largest ones get their own hospital.
    n_hosp = int(max(2, min(len(muni), round(len(muni) / 4))))
    order = np.argsort(-muni["population"].to_numpy(), kind="stable")
    hosp_of_muni = np.empty(len(muni), np.int32)
    hosp_of_muni[order] = np.arange(len(muni)) % n_hosp
    units["hospital"] = hosp_of_muni[m_idx]
    units.attrs["hospital_of_muni"] = hosp_of_muni
    units.attrs["hospital_ids"] = [f"SJH{region}{h + 1:02d}" for h in range(n_hosp)]
    return units


def build_clinicians(seed: int, units: pd.DataFrame, grid: MonthGrid) -> pd.DataFrame:
    """All clinicians of all units over the period.

    Returns ``clinician`` (int), ``unit`` (index), ``prof`` (index into PROFESSIONS), ``locum``
    (bool), ``start_day``, ``end_day`` (last day in post + 1).
    """
    rng = stream(seed, "staff", 1)
    n_u = len(units)
    slot_unit, slot_prof, slot_mean, slot_locum = [], [], [], []
    for prof, (lo, hi, mean) in _SLOTS.items():
        k = rng.integers(lo, hi + 1, size=n_u)
        slot_unit.append(np.repeat(np.arange(n_u), k))
        slot_prof.append(np.full(k.sum(), prof))
        slot_mean.append(np.full(k.sum(), mean))
        slot_locum.append(np.zeros(k.sum(), bool))
    k = rng.integers(_LOCUM_SLOTS[0], _LOCUM_SLOTS[1] + 1, size=n_u)
    slot_unit.append(np.repeat(np.arange(n_u), k))
    slot_prof.append(np.zeros(k.sum(), int))
    slot_mean.append(np.full(k.sum(), _LOCUM_YEARS))
    slot_locum.append(np.ones(k.sum(), bool))
    su = np.concatenate(slot_unit)
    sp = np.concatenate(slot_prof)
    sm = np.concatenate(slot_mean) * YEAR
    sl = np.concatenate(slot_locum)
    span = grid.end_day - grid.start_day + 1
    n_ten = int(np.ceil(span / sm.min() * 3)) + 4
    n_ten = min(n_ten, 200)
    lengths = np.maximum(14, rng.exponential(1.0, size=(len(su), n_ten)) * sm[:, None])
    # First holder started before the period (stationary start: residual tenure exponential).
    first_start = grid.start_day - np.floor(rng.random(len(su)) * sm * 2).astype(np.int64)
    ends = first_start[:, None] + np.cumsum(np.floor(lengths).astype(np.int64), axis=1)
    starts = np.concatenate([first_start[:, None], ends[:, :-1]], axis=1)
    keep = (starts <= grid.end_day) & (ends > grid.start_day)
    slot_idx, ten_idx = np.nonzero(keep)
    out = pd.DataFrame({
        "unit": su[slot_idx],
        "prof": sp[slot_idx],
        "locum": sl[slot_idx],
        "start_day": starts[slot_idx, ten_idx],
        "end_day": ends[slot_idx, ten_idx],
    })
    out = out.sort_values(["unit", "prof", "start_day"], kind="stable", ignore_index=True)
    out.insert(0, "clinician", np.arange(len(out), dtype=np.int64))
    return out


class Roster:
    """Clinicians in post per (unit, profession, month), for vectorised provider choice."""

    def __init__(self, clinicians: pd.DataFrame, n_units: int, grid: MonthGrid,
                 n_prof: int = len(PROFESSIONS), permanent_only: bool = False) -> None:
        c = clinicians[~clinicians["locum"]] if permanent_only else clinicians
        m0 = np.clip(grid.month_of_day(c["start_day"].to_numpy()), 0, grid.n - 1)
        m1 = np.clip(grid.month_of_day(c["end_day"].to_numpy() - 1), 0, grid.n - 1)
        n_m = m1 - m0 + 1
        rep = np.repeat(np.arange(len(c)), n_m)
        month = m0[rep] + (np.arange(len(rep)) - np.repeat(np.cumsum(n_m) - n_m, n_m))
        key = (c["unit"].to_numpy()[rep] * n_prof + c["prof"].to_numpy()[rep]) * grid.n + month
        order = np.lexsort((c["clinician"].to_numpy()[rep], key))
        self.key = key[order]
        self.clin = c["clinician"].to_numpy()[rep][order]
        self.n_prof = n_prof
        self.n_months = grid.n
        self.grid = grid
        # Dense offsets over the whole (unit, profession, month) key space when it is small (it
        # is: units x 5 x months): a query is then two gathers instead of two binary searches.
        space = n_units * n_prof * grid.n
        self.offsets = (np.searchsorted(self.key, np.arange(space + 1), side="left")
                        if space <= 20_000_000 else None)

    def lookup(self, unit: np.ndarray, prof: np.ndarray, month: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Offset and count of the clinicians in post for each query."""
        k = (unit.astype(np.int64) * self.n_prof + prof) * self.n_months + month
        if self.offsets is not None:
            lo = self.offsets[k]
            return lo, self.offsets[k + 1] - lo
        lo = np.searchsorted(self.key, k, side="left")
        hi = np.searchsorted(self.key, k, side="right")
        return lo, hi - lo

    def pick(self, unit: np.ndarray, prof: np.ndarray, month: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Clinician at position ``floor(u * count)`` of each query's list (-1 when none)."""
        lo, cnt = self.lookup(unit, prof, month)
        pos = lo + np.minimum(np.floor(u * cnt).astype(np.int64), np.maximum(cnt - 1, 0))
        out = np.full(len(unit), -1, np.int64)
        ok = cnt > 0
        out[ok] = self.clin[pos[ok]]
        return out
