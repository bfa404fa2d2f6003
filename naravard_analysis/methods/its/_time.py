"""Time axis of an interrupted time series: integers or calendar periods -> an integer period index.

methods reference §6.1: the time index counts equally spaced *periods* (months from ``Period("M")``, not
day counts -- design choice). Dates are mapped to pandas period ordinals (months, quarters or years since
1970), so differences between two index values are numbers of periods and the index is calendar aligned.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import reduce
from typing import Any

import numpy as np
import pandas as pd

from naravard_analysis.errors import ParameterError, SchemaError

__all__ = ["TimeAxis", "infer_axis", "axis_and_index"]

_FREQ_BY_STEP = {1: "M", 3: "Q", 12: "Y"}


@dataclass(frozen=True)
class TimeAxis:
    """How the ``time`` column maps to an integer period index.

    ``kind`` is ``"integer"`` (the values are the index) or ``"period"`` (dates; ``freq`` is ``"M"``,
    ``"Q"`` or ``"Y"`` and the index is the pandas period ordinal at that frequency).
    """

    kind: str
    freq: str | None = None

    def to_index(self, values: Any) -> np.ndarray:
        """Integer period index of an array of time values (or of a scalar, as a 1-element array)."""
        scalar = np.ndim(values) == 0
        arr = [values] if scalar else values
        if self.kind == "integer":
            out = np.asarray(arr, dtype=float)
            if np.any(~np.isfinite(out)) or np.any(out != np.round(out)):
                raise ParameterError(f"integer time axis: value(s) {arr!r} are not whole numbers")
            return out.astype(np.int64)
        if isinstance(values, pd.Period):
            return pd.PeriodIndex([values]).asfreq(self.freq).asi8.astype(np.int64)
        if isinstance(getattr(values, "dtype", None), pd.PeriodDtype):
            return pd.PeriodIndex(values).asfreq(self.freq).asi8.astype(np.int64)
        try:
            ts = pd.DatetimeIndex(pd.to_datetime(pd.Index(arr)))
        except (ValueError, TypeError) as exc:
            raise ParameterError(f"time value(s) {arr!r} cannot be read as dates: {exc}") from exc
        return ts.to_period(self.freq).asi8.astype(np.int64)

    def to_time(self, index: np.ndarray) -> Any:
        """Time values (int or period-start Timestamps) of an integer period index."""
        index = np.asarray(index, dtype=np.int64)
        if self.kind == "integer":
            return index
        return pd.PeriodIndex.from_ordinals(index, freq=self.freq).to_timestamp(how="start")

    @property
    def periods_per_year(self) -> int | None:
        return {"M": 12, "Q": 4, "Y": 1}.get(self.freq or "")


def infer_axis(values: pd.Series, *, table: str = "its data") -> TimeAxis:
    """Time axis of a column (see :func:`axis_and_index`)."""
    return axis_and_index(values, table=table)[0]


def axis_and_index(values: pd.Series, *, table: str = "its data") -> tuple[TimeAxis, np.ndarray]:
    """Infer the time axis of a column: integer-valued numbers, or monthly/quarterly/yearly dates.

    Dates must fall one per period (two dates in the same month are an error: aggregate first, e.g. with
    :func:`monthly_series`); the frequency is the greatest common step between the months present
    (1 -> monthly, 3 -> quarterly, 12 -> yearly).
    """
    s = pd.Series(values)
    if isinstance(s.dtype, pd.PeriodDtype):
        freq = s.dtype.freq.name[0]
        axis = TimeAxis("period", {"M": "M", "Q": "Q", "Y": "Y", "A": "Y"}.get(freq, freq))
        return axis, axis.to_index(s)
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        bad = np.flatnonzero(~np.isfinite(s.to_numpy(float)) | (s.to_numpy(float) % 1 != 0))
        if len(bad):
            raise SchemaError(table, str(s.name), "time must be whole numbers (period index)",
                              len(bad), bad)
        return TimeAxis("integer"), s.to_numpy(float).astype(np.int64)
    try:
        ts = s if pd.api.types.is_datetime64_any_dtype(s) else pd.to_datetime(s)
    except (ValueError, TypeError) as exc:
        raise SchemaError(table, str(s.name), f"time must be integers or dates ({exc})") from exc
    bad = np.flatnonzero(ts.isna().to_numpy())
    if len(bad):
        raise SchemaError(table, str(s.name), "time has missing values", len(bad), bad)
    month_ord = pd.DatetimeIndex(ts).to_period("M").asi8
    months = np.unique(month_ord)
    step = reduce(math.gcd, np.diff(months).tolist()) if len(months) > 1 else 1
    freq = _FREQ_BY_STEP.get(step)
    if freq is None:
        raise SchemaError(table, str(s.name),
                          f"dates must be monthly, quarterly or yearly (greatest common step {step} months)")
    # pandas ordinals count from 1970-01 (month), 1970Q1 (quarter) and 1970 (year)
    index = {"M": month_ord, "Q": month_ord // 3, "Y": month_ord // 12}[freq]
    return TimeAxis("period", freq), index.astype(np.int64)
