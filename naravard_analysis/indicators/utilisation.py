"""Counts of care events per calendar period: the simplest utilisation indicator.

Definition
----------
``n[p, g]`` = number of events (rows of an event table: admissions, contacts, enrolments) whose
date falls in calendar period ``p`` (month, quarter or year) for the group ``g`` (e.g. sex,
municipality). Every period between the first and last event and every group appear, with 0 where
there were no events, so a figure never hides an empty month. Group columns missing from the event
table are taken from ``persons`` by ``person_id``.

Unit of analysis: the event. Source: none needed (a count); used by the walking-skeleton notebook.

Examples
--------
>>> import pandas as pd
>>> adm = pd.DataFrame({"person_id": [1, 1, 2],
...     "admission_date": pd.to_datetime(["2020-01-05", "2020-03-01", "2020-01-20"])})
>>> persons = pd.DataFrame({"person_id": [1, 2], "sex": ["F", "M"]})
>>> events_per_period(adm, persons, date="admission_date", by=["sex"]).to_dict("list")["n"]
[1, 1, 0, 0, 1, 0]
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from naravard_analysis.data.schema import require_columns
from naravard_analysis.errors import ParameterError

__all__ = ["events_per_period"]

_FREQS = {"MS": "M", "M": "M", "QS": "Q", "Q": "Q", "YS": "Y", "Y": "Y", "A": "Y"}


def events_per_period(
    events: pd.DataFrame,
    persons: pd.DataFrame | None = None,
    *,
    date: str,
    freq: str = "MS",
    by: Sequence[str] | None = None,
    name: str = "n",
    table: str = "events",
) -> pd.DataFrame:
    """Number of events per calendar period (and group), zeros included.

    Parameters
    ----------
    events
        An event table with ``person_id`` and the ``date`` column.
    persons
        The persons table, used for group columns the event table lacks (e.g. ``sex``).
    date
        Date column, e.g. ``"admission_date"``.
    freq
        ``"MS"`` (months), ``"QS"`` (quarters) or ``"YS"`` (years).
    by
        Group columns.
    name
        Name of the count column.

    Returns
    -------
    DataFrame
        Columns ``period`` (first day of the period), the ``by`` columns and ``name``.
    """
    if freq not in _FREQS:
        raise ParameterError(f"freq must be one of {sorted(_FREQS)}, got {freq!r}")
    by = list(by or [])
    require_columns(events, table, ["person_id", date])
    df = events[["person_id", date, *[c for c in by if c in events.columns]]]
    need = [c for c in by if c not in events.columns]
    if need:
        if persons is None:
            raise ParameterError(f"group column(s) {need} not in {table}; pass persons")
        require_columns(persons, "persons", ["person_id", *need])
        df = df.merge(persons[["person_id", *need]], on="person_id", how="left", validate="m:1")
    period = df[date].dt.to_period(_FREQS[freq]).dt.start_time
    counts = df.assign(period=period).groupby(["period", *by], observed=True).size().rename(name)
    if counts.empty:
        return pd.DataFrame(columns=["period", *by, name])
    grid_periods = pd.period_range(period.min(), period.max(), freq=_FREQS[freq]).start_time
    levels = [grid_periods] + [sorted(df[c].dropna().unique()) for c in by]
    index = pd.MultiIndex.from_product(levels, names=["period", *by])
    return counts.reindex(index, fill_value=0).reset_index()
