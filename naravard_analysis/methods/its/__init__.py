"""Interrupted time series (methods reference §6): segmented regression for Gaussian and count outcomes.

Public names
------------
fit_its
    Fit one series (or a controlled multiple-group ITS) -> :class:`ITSResult`.
fit_its_many
    Fit many series (regions x indicators) with a progress bar -> tidy effects table.
monthly_series
    Event tables -> period counts with population offsets (optionally age-standardised).
prais_winsten
    The Prais-Winsten AR(1) engine, usable on its own.
"""

from .batch import fit_its_many
from .engines import prais_winsten
from .fit import fit_its
from .result import ITSResult
from .series import monthly_series

__all__ = ["fit_its", "fit_its_many", "monthly_series", "ITSResult", "prais_winsten"]
