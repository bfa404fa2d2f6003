"""Avoidable hospitalisation rates per 100 000 inhabitants, crude and age-standardised."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from naravard_analysis.errors import SchemaError
from naravard_analysis.indicators.standardise import event_rates

__all__ = ["avoidable_rates"]


def avoidable_rates(
    flags: pd.DataFrame,
    population: pd.DataFrame,
    *,
    by: Sequence[str] = ("year",),
    standard: str | pd.DataFrame | Mapping[str, float] | None = "esp2013",
    min_age: int | None = 20,
    max_age: int | None = None,
    indicators: Sequence[str] | None = None,
    per: float = 100_000,
    level: float = 0.95,
    top_age: int | None = None,
    method: str = "fay_feuer",
    use_group_windows: bool = True,
) -> pd.DataFrame:
    """Avoidable hospitalisations per 100 000 inhabitants, crude and directly age-standardised.

    Parameters
    ----------
    flags : DataFrame
        Output of :func:`flag_avoidable` (needs ``age`` and the ``by`` columns).
    population : DataFrame
        Canonical population table: ``year``, ``region_code``, ``municipality_code``, ``sex``,
        ``age`` (single year), ``population`` (medelfolkmängd or year-end; the user's choice). It must
        not mix levels (e.g. region totals and municipality rows) — it is summed as given.
    by : columns
        Any of ``year``, ``region_code``, ``municipality_code``, ``sex`` (present in both tables).
    standard : "esp2013", DataFrame/dict, or None
        Standard population (DEFINITIONS.md §5.5–5.6); its bands define the age bands. ``None``:
        crude rate only (``adjusted_rate`` = crude, interval exact Poisson).
    min_age, max_age : int, optional
        Age window of numerator and denominator (default 20+, the Swedish chronic indicator, §3.1).
        Must fall on band edges of the standard. Group windows recorded by :func:`flag_avoidable`
        (PQI 05 40+, PQI 15 18–39) narrow it further when ``use_group_windows``.
    indicators : column names, optional
        Flag columns to rate (default ``["avoidable"]``); e.g. every group for a by-condition table.
    top_age : int, optional
        Merge the oldest bands (e.g. 85 → ``85+``) for small areas with empty bands.
    method : {"fay_feuer", "dobson"}
        Confidence interval (§5.2, §5.4).

    Returns
    -------
    DataFrame
        ``indicator``, ``by`` columns, ``events``, ``population``, ``crude_rate``, ``adjusted_rate``,
        ``lower``, ``upper`` (per ``per``), ``n_strata``, ``min_age``, ``max_age``.

    Notes
    -----
    DSR and Fay–Feuer interval: :func:`~naravard_analysis.indicators.standardise.direct_standardise`.
    Events whose ``age`` is outside the window are not counted (they were excluded by the flag's age
    rule already when the windows agree). Events in a ``by`` cell absent from the population raise.

    Examples
    --------
    >>> # rates = avoidable_rates(flags, data.population, by=("year", "municipality_code"))
    """
    indicators = list(indicators) if indicators is not None else ["avoidable"]
    missing = [c for c in indicators if c not in flags.columns]
    if missing:
        raise SchemaError("flags", missing[0], "indicator column missing")
    windows = flags.attrs.get("age_windows") if use_group_windows else None
    return event_rates(
        flags, population, indicators=indicators, by=by, standard=standard, min_age=min_age,
        max_age=max_age, per=per, level=level, top_age=top_age, method=method, age_windows=windows,
    )  # fmt: skip
