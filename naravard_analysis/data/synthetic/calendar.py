"""Calendar of the synthetic world: month grid, winter seasonality and the COVID-19 shock.

Dates are handled as integer day numbers (days since 1970-01-01) inside the simulation and turned
into ``datetime64[ns]`` only when the tables are built.

COVID-19 (design choice, shaped after the Swedish course of the pandemic: first wave spring 2020,
second wave winter 2020/21, omicron winter 2021/22; Socialstyrelsen 2022, seed 002, notes that the
last two years of in-patient statistics were shaped by the pandemic): multipliers per month on
planned admissions, physical primary-care contacts, unplanned non-COVID care and death, and the
intensity of COVID-19 admissions (U07.1).
"""

from __future__ import annotations

import numpy as np

__all__ = ["MonthGrid", "covid_profile", "winter_factor"]


class MonthGrid:
    """Months from ``start`` to ``end`` (inclusive) as day numbers.

    Attributes
    ----------
    first_day, n_days, year, month : ndarray
        Per month: first day (days since epoch), length in days, calendar year and month (1-12).
    start_day, end_day : int
        First and last day of the period.
    """

    def __init__(self, start: str, end: str) -> None:
        s = np.datetime64(start, "D")
        e = np.datetime64(end, "D")
        months = np.arange(s.astype("datetime64[M]"), e.astype("datetime64[M]") + 1)
        first = months.astype("datetime64[D]")
        nxt = (months + 1).astype("datetime64[D]")
        first = np.maximum(first, s)
        nxt = np.minimum(nxt, e + 1)
        self.first_day = first.astype(np.int64)
        self.n_days = (nxt - first).astype(np.int64)
        self.year = months.astype("datetime64[Y]").astype(np.int64) + 1970
        self.month = months.astype(np.int64) % 12 + 1
        self.start_day = int(s.astype(np.int64))
        self.end_day = int(e.astype(np.int64))
        self.n = len(months)

    def month_of_day(self, day: np.ndarray) -> np.ndarray:
        """Index of the month that contains each day number."""
        return np.searchsorted(self.first_day, day, side="right") - 1


def winter_factor(month: int, amplitude: float) -> float:
    """Seasonal multiplier ``1 + amplitude * cos(2 pi (month - 1) / 12)`` (peak in January)."""
    return 1.0 + amplitude * np.cos(2 * np.pi * (month - 1) / 12.0)


def covid_profile(year: int, month: int) -> dict[str, float]:
    """Multipliers for one calendar month (1.0 outside the pandemic)."""
    ym = (year, month)
    out = {"planned": 1.0, "physical": 1.0, "digital": 1.0, "unplanned": 1.0, "death": 1.0,
           "covid": 0.0, "ed": 1.0}
    if ym < (2020, 3) or ym > (2022, 3):
        return out
    wave1 = (2020, 3) <= ym <= (2020, 6)
    wave2 = (2020, 11) <= ym <= (2021, 2)
    wave3 = (2021, 3) <= ym <= (2021, 5)
    omicron = (2021, 12) <= ym <= (2022, 2)
    if ym <= (2021, 12):
        out.update(planned=0.85, physical=0.85, digital=2.5, unplanned=0.92, ed=0.88)
    else:
        out.update(digital=1.8)
    if wave1:
        out.update(planned=0.55, physical=0.65, digital=3.0, unplanned=0.80, ed=0.72,
                   death=1.25, covid=1.0)
    elif wave2:
        out.update(planned=0.75, physical=0.75, unplanned=0.85, ed=0.80, death=1.15, covid=0.9)
    elif wave3:
        out.update(covid=0.5, death=1.05)
    elif omicron:
        out.update(covid=0.4, death=1.05)
    return out
