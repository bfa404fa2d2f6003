"""Avoidable hospitalisation rates per 100 000 inhabitants, crude and age-standardised."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import pandas as pd

from naravard_analysis.core.defaults import DEFINITION_DEFAULT, DefinitionDefault, as_columns
from naravard_analysis.errors import DataWarning, SchemaError
from naravard_analysis.indicators.standardise import _band_edges, event_rates, standard_population

__all__ = ["avoidable_rates"]


def avoidable_rates(
    flags: pd.DataFrame,
    population: pd.DataFrame,
    *,
    by: str | Sequence[str] = ("year",),
    standard: str | pd.DataFrame | Mapping[str, float] | None = "esp2013",
    min_age: int | None | DefinitionDefault = DEFINITION_DEFAULT,
    max_age: int | None | DefinitionDefault = DEFINITION_DEFAULT,
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
    by : str or sequence of str
        One column name or several: any of ``year``, ``region_code``, ``municipality_code``, ``sex`` (present in both tables).
    standard : "esp2013", DataFrame/dict, or None
        Standard population (methods reference §5.5–5.6); its bands define the age bands. ``None``:
        crude rate only (``adjusted_rate`` = crude, interval exact Poisson).
    min_age, max_age : int or None, optional
        Age window of numerator and denominator. Default (``DEFINITION_DEFAULT``): the window of the
        definition that made the flags, as :func:`flag_avoidable` recorded it in ``flags.attrs``
        (``"socialstyrelsen_chronic"`` 20+, ``"socialstyrelsen"`` all ages, ``"oecd"`` 15+,
        ``"pqi"`` 18+), so that no flagged stay is dropped without a word. A definition's lower
        limit that cuts a band of the standard (PQI 18 in ESP2013's ``15-19``) is raised to the
        next band edge with a ``DataWarning`` counting the events left out. Flags without the
        record (``attrs`` lost) use 20+ with a warning. ``None``: no limit. An explicit limit must
        fall on band edges of the standard. Group windows recorded by :func:`flag_avoidable`
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
    min_age, max_age = _definition_window(flags, standard, top_age, indicators, min_age, max_age)
    by = as_columns(by)
    return event_rates(
        flags, population, indicators=indicators, by=by, standard=standard, min_age=min_age,
        max_age=max_age, per=per, level=level, top_age=top_age, method=method, age_windows=windows,
    )  # fmt: skip


def _definition_window(
    flags: pd.DataFrame,
    standard: str | pd.DataFrame | Mapping[str, float] | None,
    top_age: int | None,
    indicators: Sequence[str],
    min_age: int | None | DefinitionDefault,
    max_age: int | None | DefinitionDefault,
) -> tuple[int | None, int | None]:
    """Resolve ``DEFINITION_DEFAULT`` limits from the flags' recorded definition."""
    recorded = "min_age" in flags.attrs
    if min_age is DEFINITION_DEFAULT and not recorded:  # (max_age: none recorded = no limit)
        warnings.warn(
            "flags carry no recorded definition (attrs lost, e.g. after concat); avoidable_rates "
            "uses ages 20+ (Swedish chronic indicator): pass min_age= to choose",
            DataWarning,
            stacklevel=3,
        )
    if max_age is DEFINITION_DEFAULT:
        max_age = flags.attrs.get("max_age")
    if min_age is not DEFINITION_DEFAULT:
        return min_age, max_age
    lo = flags.attrs.get("min_age", 20) if recorded else 20
    lo = None if lo in (None, 0) else int(lo)
    if lo is None or standard is None:
        return lo, max_age
    edges = _band_edges(standard_population(standard, top_age=top_age)["age_group"])
    if lo in edges:
        return lo, max_age
    up = min((e for e in edges if e > lo), default=None)
    if up is None:
        return lo, max_age  # let the standard raise its own band error
    age = flags["age"].astype("Float64")
    cut = (age >= lo) & (age < up)
    n = int(sum(int((flags[c].astype("boolean").fillna(False) & cut).sum()) for c in indicators))
    warnings.warn(
        f"the flags' definition starts at age {lo}, which cuts a band of the standard population; "
        f"rates are for ages {up}+ ({n} flagged event(s) aged {lo}-{up - 1} not counted). "
        "Pass min_age= on a band edge, or standard=None for a crude rate from the definition's age",
        DataWarning,
        stacklevel=3,
    )
    return up, max_age
