"""Person attributes at the event: age, sex and residence joined onto any event table.

The canonical event tables (admissions, contacts, listings, enrolments) carry only ``person_id``;
age, sex, municipality and region live in ``persons``.  Indicators grouped by those attributes
need them on every event row, computed the same way everywhere: this module is that one join.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from naravard_analysis.data.schema import require_columns
from naravard_analysis.errors import ParameterError, SchemaError

__all__ = ["PERSON_ATTRIBUTES", "age_at", "with_person_attributes"]

#: Attributes :func:`with_person_attributes` can add, in the order it adds them.
PERSON_ATTRIBUTES: tuple[str, ...] = ("age", "sex", "municipality_code", "region_code")


def _ymd(values: pd.Series) -> np.ndarray:
    d = pd.to_datetime(values)
    return (d.dt.year * 10000 + d.dt.month * 100 + d.dt.day).to_numpy(dtype="float64", na_value=np.nan)


def age_at(birth_date: pd.Series, at: pd.Series) -> pd.Series:
    """Age in completed years at a date (the birthday itself counts).

    Formula: ``(yyyymmdd(at) − yyyymmdd(birth)) // 10000`` -- the age a Swedish register states
    (Skatteverket's population register counts completed years; someone born on 29 February
    completes a year on 1 March in common years).

    Parameters
    ----------
    birth_date, at
        Dates of the same length (or ``at`` a scalar broadcast by pandas).

    Returns
    -------
    Series of nullable integers (``Int64``), missing where either date is missing.

    Examples
    --------
    >>> birth = pd.Series(pd.to_datetime(["1960-02-29", "1960-02-29", "1950-06-01"]))
    >>> at = pd.Series(pd.to_datetime(["2023-02-28", "2023-03-01", "2023-06-01"]))
    >>> age_at(birth, at).tolist()
    [62, 63, 73]
    """
    at_s = at if isinstance(at, pd.Series) else pd.Series(at, index=birth_date.index)
    years = np.floor((_ymd(at_s) - _ymd(birth_date)) / 10000)
    return pd.Series(years, index=birth_date.index).astype("Int64")


def with_person_attributes(
    events: pd.DataFrame,
    persons: pd.DataFrame,
    *,
    date: str,
    attributes: str | Sequence[str] = PERSON_ATTRIBUTES,
    table: str = "events",
) -> pd.DataFrame:
    """Return ``events`` with the person's age at the event, sex and residence added.

    Unit of analysis: the event row (unchanged: same rows, same order, same index).

    * ``age``: completed years at ``events[date]`` (:func:`age_at`), from ``persons.birth_date``;
    * ``sex``, ``municipality_code``, ``region_code``: from ``persons``.  The canonical persons
      table records one residence per person, so the municipality is the residence at the event
      only when nobody moves between municipalities inside the extract (true of the synthetic
      world; a real extract with moves needs a residence history, which the schema does not have).

    Every event must belong to a person in ``persons`` (the register rule of the canonical
    bundle); events of unknown persons raise a :class:`SchemaError` with their count rather than
    receiving missing attributes silently.

    Parameters
    ----------
    events
        Any event table with ``person_id`` and the ``date`` column.
    persons
        Canonical persons table.
    date
        Date of the event (``admission_date``, ``contact_date``, ``start_date`` ...).
    attributes
        Which of :data:`PERSON_ATTRIBUTES` to add (a string or a list).
    table
        Name of ``events`` used in error messages.

    Examples
    --------
    >>> persons = pd.DataFrame({"person_id": [1, 2], "sex": ["F", "M"],
    ...     "birth_date": pd.to_datetime(["1940-05-01", "1990-01-01"]),
    ...     "municipality_code": ["1480", "1401"], "region_code": ["14", "14"]})
    >>> contacts = pd.DataFrame({"person_id": [2, 1, 1],
    ...     "contact_date": pd.to_datetime(["2020-01-01", "2020-04-30", "2020-05-01"])})
    >>> with_person_attributes(contacts, persons, date="contact_date")[["age", "municipality_code"]]
       age municipality_code
    0   30              1401
    1   79              1480
    2   80              1480
    """
    wanted = (attributes,) if isinstance(attributes, str) else tuple(attributes)
    unknown_attr = [a for a in wanted if a not in PERSON_ATTRIBUTES]
    if unknown_attr:
        raise ParameterError(
            f"attributes: unknown {unknown_attr}; valid values are {list(PERSON_ATTRIBUTES)}"
        )
    clash = [a for a in wanted if a in events.columns]
    if clash:
        raise ParameterError(
            f"{table} already has column(s) {clash}; leave them out of attributes= or drop them"
        )
    require_columns(events, table, ("person_id", date))
    source = ["birth_date" if a == "age" else a for a in wanted]
    require_columns(persons, "persons", ("person_id", *source))

    lookup = persons.drop_duplicates("person_id").set_index("person_id")
    pos = lookup.index.get_indexer(events["person_id"])
    missing = pos < 0
    if missing.any():
        raise SchemaError(
            table, "person_id", "person not in the persons table (no attributes to join)",
            int(missing.sum()), np.flatnonzero(missing),
        )
    out = events.copy()
    for attr in wanted:
        if attr == "age":
            birth = pd.Series(lookup["birth_date"].to_numpy()[pos], index=events.index)
            out["age"] = age_at(birth, events[date])
        else:
            col = lookup[attr]
            out[attr] = pd.Series(col.iloc[pos].to_numpy(), index=events.index, dtype=col.dtype)
    out.attrs = {**events.attrs, "person_attributes": wanted, "age_rule": "completed years at " + date}
    return out
