"""Outcome counts of a patient-level evaluation in person windows, on pandas or Dask.

A patient-level evaluation (:func:`~naravard_analysis.methods.evaluation.evaluate_enrolments`)
compares, for every case and control, the number of events of each outcome in the window before
and after the (pseudo-)index date. The matching needs everybody at once; the counting does not:
each window looks at one person's events only. :func:`outcome_counts` does that counting for any
table of windows, so that the events can stay on a Dask cluster partitioned by person while the
(small) table of windows is sent to every partition.

Outcome definitions are those of :mod:`naravard_analysis.methods.person_time` (§7.2 of the
package's methods reference: events per person-time in the same window before and after the index).
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from naravard_analysis.engine import aligned, use_dask
from naravard_analysis.errors import ParameterError, SchemaError
from naravard_analysis.methods.person_time import (
    OUTCOMES,
    EventIndex,
    PersonFrame,
    days,
    outcome_events,
)

__all__ = ["outcome_counts"]

_WINDOW_COLUMNS = ("person_id", "start", "stop")


def _check(windows: pd.DataFrame, outcomes: Sequence[str]) -> list[str]:
    if not isinstance(windows, pd.DataFrame):
        raise ParameterError("windows must be a pandas DataFrame (person_id, start, stop)")
    missing = [c for c in _WINDOW_COLUMNS if c not in windows.columns]
    if missing:
        raise SchemaError("windows", missing[0], "required column missing")
    outs = [outcomes] if isinstance(outcomes, str) else list(outcomes)
    unknown = [o for o in outs if o not in OUTCOMES]
    if unknown or not outs:
        raise ParameterError(f"unknown outcomes {unknown}; choose from {sorted(OUTCOMES)}")
    return outs


def _frame(persons: pd.DataFrame) -> PersonFrame:
    """Person codes and death days only: counting needs no residence spans."""
    ids = pd.Index(persons["person_id"])
    if not ids.is_unique:
        dup = np.flatnonzero(ids.duplicated())
        raise SchemaError("persons", "person_id", "duplicate person_id", dup.size, dup[:5])
    big = np.int64(2**40)
    death = persons["death_date"] if "death_date" in persons else pd.Series(pd.NaT, index=persons.index)
    dead = pd.to_datetime(death).notna().to_numpy()
    d = np.where(dead, days(pd.to_datetime(death).fillna(pd.Timestamp("1970-01-01"))), big)
    zeros = np.zeros(len(ids), np.int64)
    return PersonFrame(ids=ids, entry=zeros, exit=zeros, death=d, birth=zeros, period=(0, 0))


def _count(tables: Any, windows: pd.DataFrame, outs: list[str]) -> pd.DataFrame:
    """Counts per window on pandas tables (the whole data or one person partition)."""
    pf = _frame(tables.persons)
    code = pf.codes(windows["person_id"], "windows")
    start, stop = days(windows["start"]), days(windows["stop"])
    out = pd.DataFrame(index=windows.index)
    for o in outs:
        out[o] = EventIndex(*outcome_events(tables, o, pf)).sum(code, start, stop)
    return out


def _partition(persons: pd.DataFrame, *events: pd.DataFrame, names: tuple[str, ...],
               windows: pd.DataFrame, outs: list[str]) -> pd.DataFrame:
    tables = SimpleNamespace(persons=persons, **dict(zip(names, events, strict=True)))
    mine = windows.loc[windows["person_id"].isin(persons["person_id"]).to_numpy()]
    counts = _count(tables, mine, outs)
    counts.insert(0, "_row", mine["_row"].to_numpy())
    return counts.reset_index(drop=True)


def outcome_counts(
    data: Any,
    windows: pd.DataFrame,
    outcomes: str | Sequence[str] = ("unplanned_admissions", "ed_visits", "bed_days"),
    *,
    engine: str | None = None,
) -> pd.DataFrame:
    """Events of each outcome per person window ``[start, stop)``.

    Formula: for window ``w`` of person ``p``, ``count_o(w) = Σ value_o(e)`` over the events ``e`` of
    outcome ``o`` of person ``p`` with ``start_w <= day_e < stop_w`` (value 1, or the length of stay
    in days for ``bed_days``). Outcome definitions: :mod:`naravard_analysis.methods.person_time`.
    Unit of analysis: the person window (a case's or control's pre- or post-index window).

    Parameters
    ----------
    data
        A :class:`~naravard_analysis.data.RegisterData` (or any object with the tables as
        attributes) holding ``persons`` and the tables of the outcomes: pandas, or Dask DataFrames
        partitioned by person (:meth:`RegisterData.from_dir` with ``engine="dask"``).
    windows
        pandas DataFrame with ``person_id``, ``start`` and ``stop`` (dates; ``stop`` excluded); any
        other columns are kept.
    outcomes
        Names from :data:`~naravard_analysis.methods.person_time.OUTCOMES`.
    engine
        ``None`` (Dask when a table is a Dask DataFrame), ``"pandas"`` or ``"dask"``.

    Returns
    -------
    DataFrame
        ``windows`` with one float column per outcome, in the order of ``windows``. Both engines
        give identical numbers (sums of integers, exact in float64).

    Raises
    ------
    SchemaError
        A window's person is not in ``persons``; a table an outcome needs is missing.

    Examples
    --------
    >>> import pandas as pd
    >>> from types import SimpleNamespace
    >>> persons = pd.DataFrame({"person_id": [1, 2], "death_date": pd.NaT})
    >>> contacts = pd.DataFrame({"person_id": [1, 1, 2], "care_level": "emergency",
    ...     "contact_date": pd.to_datetime(["2020-01-05", "2020-03-01", "2020-01-07"])})
    >>> w = pd.DataFrame({"person_id": [1, 2], "start": pd.to_datetime(["2020-01-01"] * 2),
    ...     "stop": pd.to_datetime(["2020-02-01"] * 2)})
    >>> outcome_counts(SimpleNamespace(persons=persons, contacts=contacts), w, "ed_visits")
       person_id      start       stop  ed_visits
    0          1 2020-01-01 2020-02-01        1.0
    1          2 2020-01-01 2020-02-01        1.0
    """
    outs = _check(windows, outcomes)
    names = tuple(dict.fromkeys(OUTCOMES[o] for o in outs if OUTCOMES[o] != "persons"))
    for name in ("persons", *names):
        if getattr(data, name, None) is None:
            raise SchemaError(name, None, f"the {name} table is required for these outcomes")
    events = [getattr(data, n) for n in names]
    if not use_dask(engine, data.persons, *events):
        tables = SimpleNamespace(persons=data.persons, **dict(zip(names, events, strict=True)))
        return pd.concat([windows, _count(tables, windows, outs)], axis=1)

    import dask.dataframe as dd

    frames = aligned([data.persons, *events])
    w = windows[list(_WINDOW_COLUMNS)].assign(_row=np.arange(len(windows)))
    meta = pd.DataFrame({"_row": pd.Series(dtype=np.int64), **{o: pd.Series(dtype=float) for o in outs}})
    parts = dd.map_partitions(_partition, *frames, names=names, windows=w, outs=outs, meta=meta,
                              align_dataframes=False, enforce_metadata=False)
    counts = parts.compute().set_index("_row").reindex(np.arange(len(windows)))
    unknown = counts[outs[0]].isna().to_numpy()
    if unknown.any():
        raise SchemaError("windows", "person_id", "must refer to a person in persons",
                          int(unknown.sum()), np.flatnonzero(unknown)[:5])
    counts.index = windows.index
    return pd.concat([windows, counts], axis=1)
