"""Direct and indirect age standardisation with exact-type confidence intervals.

Directly standardised rate (methods reference §5.1; R epitools ``ageadjust.direct``; Fay & Feuer 1997):
with d_i events, n_i population and standard s_i in stratum i, weights w_i = s_i / Σ s_k,

    DSR = Σ w_i d_i / n_i,     V = Σ w_i² d_i / n_i²,     w_M = max_i w_i / n_i,

Fay–Feuer gamma interval (§5.2): lower = G⁻¹(α/2; DSR²/V, V/DSR),
upper = G⁻¹(1 − α/2; (DSR + w_M)²/(V + w_M²), (V + w_M²)/(DSR + w_M)); when all d_i = 0 the
package returns lower = 0 (Fay–Feuer convention; epitools gives NaN) and upper = −w_M ln(α/2) (§5.3).
Dobson's interval with Byar limits (§5.4) is an option. Indirect standardisation follows §5.7.

The standard is always an explicit input (§5.6); ESP2013 ships as data (§5.5).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from naravard_analysis.core.defaults import as_columns
from naravard_analysis.core.intervals import byar_limits, fay_feuer_limits, garwood_limits
from naravard_analysis.data.codelists import load_standard_population
from naravard_analysis.errors import ParameterError, SchemaError

__all__ = [
    "ESP2013_EDGES",
    "age_band_labels",
    "band_ages",
    "band_population",
    "direct_standardise",
    "indirect_standardise",
    "standard_population",
    "byar_limits",
    "event_rates",
    "merge_top_bands",
]

#: Lower edges of the ESP2013 five-year bands (the last band, 90+, is open).
ESP2013_EDGES: tuple[int, ...] = tuple(range(0, 95, 5))


def age_band_labels(edges: Sequence[int], *, open_end: bool = True) -> list[str]:
    """Labels of the bands starting at ``edges``: ``"0-4"``, ``"5-9"``, …, ``"90+"``.

    With ``open_end=False`` the last edge closes the previous band and is not a band itself.
    """
    e = [int(x) for x in edges]
    if any(b <= a for a, b in zip(e, e[1:], strict=False)) or not e:
        raise ParameterError(f"age band edges must be increasing, got {list(edges)}")
    labels = [f"{a}-{b - 1}" for a, b in zip(e, e[1:], strict=False)]
    if open_end:
        labels.append(f"{e[-1]}+")
    return labels


def band_ages(
    ages: pd.Series | np.ndarray | Sequence[int],
    edges: Sequence[int] = ESP2013_EDGES,
    *,
    open_end: bool = True,
) -> pd.Series:
    """Map single-year ages to band labels (ordered categorical).

    Ages below the first edge (or at/above the last edge when ``open_end=False``) become NaN.

    Examples
    --------
    >>> band_ages([0, 4, 5, 89, 90, 104]).astype(str).tolist()
    ['0-4', '0-4', '5-9', '85-89', '90+', '90+']
    """
    e = np.asarray([int(x) for x in edges])
    labels = age_band_labels(e, open_end=open_end)
    a = np.asarray(pd.to_numeric(pd.Series(ages), errors="coerce"), dtype=float)
    idx = np.searchsorted(e, a, side="right") - 1
    valid = ~np.isnan(a) & (idx >= 0) & (idx < len(labels))
    codes = np.where(valid, idx, -1)
    index = ages.index if isinstance(ages, pd.Series) else None
    cat = pd.Categorical.from_codes(codes, categories=labels, ordered=True)
    return pd.Series(cat, index=index, name="age_group")


def band_population(
    population: pd.DataFrame,
    *,
    by: str | Sequence[str] = ("year",),
    age: str = "age",
    value: str = "population",
    edges: Sequence[int] = ESP2013_EDGES,
    min_age: int | None = None,
    max_age: int | None = None,
) -> pd.DataFrame:
    """Sum a single-year-of-age table into age bands: ``by`` + ``age_group`` + ``value``.

    Rows outside [min_age, max_age] are dropped (a declared restriction, not a silent one).
    Every band × ``by`` combination present anywhere is returned (missing ones with 0).
    """
    by = as_columns(by)
    df = population
    if min_age is not None:
        df = df[df[age] >= min_age]
    if max_age is not None:
        df = df[df[age] <= max_age]
    bands = band_ages(df[age], edges)
    g = (
        df.assign(age_group=bands.array)
        .groupby([*by, "age_group"], observed=False, sort=True)[value]
        .sum()
    )
    out = g.reset_index()
    out["age_group"] = out["age_group"].astype(str)
    keep = _bands_between(age_band_labels(edges), min_age, max_age)
    return out[out["age_group"].isin(keep)].reset_index(drop=True)


def _band_bounds(label: str) -> tuple[int, float]:
    if label.endswith("+"):
        return int(label[:-1]), np.inf
    lo, hi = label.split("-")
    return int(lo), int(hi)


def _bands_between(labels: Sequence[str], min_age: int | None, max_age: int | None) -> list[str]:
    """Bands wholly inside [min_age, max_age]; a band cut by a limit raises (no silent re-alignment)."""
    keep = []
    for lab in labels:
        lo, hi = _band_bounds(lab)
        if (min_age is not None and hi < min_age) or (max_age is not None and lo > max_age):
            continue
        if (min_age is not None and lo < min_age) or (max_age is not None and hi > max_age):
            raise ParameterError(
                f"age limit ({min_age}, {max_age}) cuts band {lab!r}; choose limits on band edges"
            )
        keep.append(lab)
    return keep


def standard_population(
    name: str | pd.DataFrame | pd.Series | Mapping[str, float] = "esp2013",
    *,
    min_age: int | None = None,
    max_age: int | None = None,
    top_age: int | None = None,
) -> pd.DataFrame:
    """A standard population as ``age_group`` (str) + ``population`` (float), in band order.

    Parameters
    ----------
    name : "esp2013" or DataFrame/Series/dict
        ``"esp2013"``: European Standard Population 2013, 19 bands ``0-4`` … ``85-89``, ``90+``
        (weights 5000 … 1000, total 100 000; PHEindicatormethods ``R/data.R``; methods reference §5.5).
        A user-supplied standard (e.g. a Swedish population of a given year, §5.6) may be a DataFrame
        with ``age_group`` and ``population`` (or ``weight``/``proportion``) columns, a Series indexed
        by band label, or a dict. Counts or proportions are equivalent (weights are normalised).
    min_age, max_age : int, optional
        Keep the bands of a sub-population (e.g. 20+): the weights of the covered bands only (§5.5).
        A limit that falls inside a band raises.
    top_age : int, optional
        Merge all bands starting at or above ``top_age`` into one open band (``"85+"``) — useful for
        small areas where the oldest bands are empty. Must be a band edge.

    Examples
    --------
    >>> standard_population("esp2013", min_age=65)["population"].sum()
    np.float64(19500.0)
    """
    if isinstance(name, str):
        df = load_standard_population(name)[["age_group", "population"]]
    elif isinstance(name, pd.DataFrame):
        col = next((c for c in ("population", "weight", "proportion") if c in name.columns), None)
        if "age_group" not in name.columns or col is None:
            raise SchemaError(
                "standard", "age_group", "a standard needs age_group and population/weight columns"
            )
        df = name[["age_group", col]].rename(columns={col: "population"})
    elif isinstance(name, pd.Series | Mapping):
        s = pd.Series(name)
        df = pd.DataFrame({"age_group": s.index.astype(str), "population": s.to_numpy()})
    else:
        raise ParameterError(f"unsupported standard {type(name).__name__}")
    df = df.assign(
        age_group=df["age_group"].astype(str), population=df["population"].astype(float)
    ).reset_index(drop=True)
    if df["age_group"].duplicated().any():
        pos = list(np.flatnonzero(df["age_group"].duplicated().to_numpy()))
        raise SchemaError("standard", "age_group", "duplicate band", len(pos), pos)
    if (df["population"] < 0).any() or not np.isfinite(df["population"]).all():
        pos = list(np.flatnonzero(~(df["population"] >= 0).to_numpy()))
        raise SchemaError("standard", "population", "must be finite and >= 0", len(pos), pos)
    if min_age is not None or max_age is not None:
        df = df[df["age_group"].isin(_bands_between(df["age_group"], min_age, max_age))]
    if top_age is not None:
        lows = df["age_group"].map(lambda s: _band_bounds(s)[0])
        if top_age not in set(lows) and top_age < lows.max():
            raise ParameterError(f"top_age {top_age} is not a band edge of the standard")
        top = lows >= top_age
        if not top.any():  # all bands below top_age (e.g. an 18-39 window): nothing to merge
            top_age = None
    if top_age is not None:
        merged = pd.DataFrame(
            {"age_group": [f"{top_age}+"], "population": [df.loc[top, "population"].sum()]}
        )
        df = pd.concat([df[~top], merged], ignore_index=True)
    if df.empty or df["population"].sum() <= 0:
        raise ParameterError("the standard population is empty after restriction")
    return df.reset_index(drop=True)


def merge_top_bands(
    counts: pd.DataFrame, top_age: int, *, age: str = "age_group", sum_cols: Sequence[str] = ()
) -> pd.DataFrame:
    """Merge bands starting at or above ``top_age`` into ``"{top_age}+"``, summing ``sum_cols``."""
    lows = counts[age].astype(str).map(lambda s: _band_bounds(s)[0])
    lab = counts[age].astype(str).where(lows < top_age, f"{top_age}+")
    keys = [c for c in counts.columns if c not in (*sum_cols, age)]
    out = (
        counts.assign(**{age: lab})
        .groupby([*keys, age], sort=False, dropna=False)[list(sum_cols)]
        .sum()
    )
    return out.reset_index()


def _check_level(level: float) -> None:
    if not 0 < level < 1:
        raise ParameterError(f"level must be in (0, 1), got {level!r}")


def direct_standardise(
    counts: pd.DataFrame,
    standard: str | pd.DataFrame | pd.Series | Mapping[str, float],
    *,
    age: str = "age_group",
    events: str = "events",
    population: str = "population",
    by: str | Sequence[str] | None = None,
    per: float = 100_000,
    level: float = 0.95,
    method: str = "fay_feuer",
) -> pd.DataFrame:
    """Directly age-standardised rates with Fay–Feuer (default) or Dobson intervals.

    Parameters
    ----------
    counts : DataFrame
        One row per (``by`` group, age band): ``age`` (band label matching the standard), ``events``
        (d_i ≥ 0) and ``population`` (n_i, person-years).
    standard : str, DataFrame, Series or dict
        See :func:`standard_population`; required (no hidden default, §5.6). Counts or proportions.
    by : column name(s), optional
        Grouping columns (e.g. ``["year", "municipality_code"]``); one rate per group.
    per : float
        Multiplier (100 000 for Swedish and OECD indicators).
    level : float
        Confidence level.
    method : {"fay_feuer", "dobson"}
        Interval: Fay–Feuer gamma (§5.2, default) or Dobson with Byar limits (§5.4; NaN when O = 0).

    Returns
    -------
    DataFrame
        ``by`` columns, ``events``, ``population``, ``crude_rate``, ``adjusted_rate``, ``lower``,
        ``upper`` (rates × ``per``), ``n_strata``.

    Notes
    -----
    Formulas in the module docstring (methods reference §5.1–5.3). Every group must have exactly the bands
    of the standard (after ``min_age``/``max_age`` restriction of the standard); a missing or extra
    band raises, as does n_i = 0 in a band with positive weight (§5.3 design choices). When all
    d_i = 0: adjusted rate 0, lower 0, upper −w_M ln(α/2).

    Examples
    --------
    >>> import pandas as pd
    >>> c = pd.DataFrame({"age_group": ["0-49", "50+"], "events": [10, 30],
    ...                   "population": [10_000, 5_000]})
    >>> r = direct_standardise(c, {"0-49": 0.5, "50+": 0.5}, per=1000)
    >>> round(float(r["adjusted_rate"].iloc[0]), 3)
    3.5
    """
    _check_level(level)
    if method not in ("fay_feuer", "dobson"):
        raise ParameterError(f"method must be 'fay_feuer' or 'dobson', got {method!r}")
    by_cols = [by] if isinstance(by, str) else list(by or [])
    for col in (age, events, population, *by_cols):
        if col not in counts.columns:
            raise SchemaError("counts", col, "required column missing")
    std = standard_population(standard)
    std_bands = std["age_group"].tolist()
    w_by_band = pd.Series(std["population"].to_numpy() / std["population"].sum(), index=std_bands)
    df = counts[[*by_cols, age, events, population]].copy()
    df[age] = df[age].astype(str)
    d = pd.to_numeric(df[events], errors="coerce").to_numpy(dtype=float)
    n = pd.to_numeric(df[population], errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~(d >= 0))
    if bad.size:
        raise SchemaError("counts", events, "must be a number >= 0", bad.size, bad)
    bad = np.flatnonzero(~(n >= 0))
    if bad.size:
        raise SchemaError("counts", population, "must be a number >= 0", bad.size, bad)
    unknown = ~df[age].isin(std_bands).to_numpy()
    if unknown.any():
        pos = np.flatnonzero(unknown)
        raise SchemaError(
            "counts",
            age,
            f"age band not in the standard (bands: {std_bands})",
            pos.size,
            pos,
            hint=f"first unknown band {df[age].iloc[pos[0]]!r}",
        )
    if by_cols:
        gkey = df.groupby(by_cols, sort=True, dropna=False).ngroup().to_numpy()
    else:
        gkey = np.zeros(len(df), dtype=np.int64)
    dup = pd.Series(list(zip(gkey, df[age], strict=True))).duplicated().to_numpy()
    if dup.any():
        pos = np.flatnonzero(dup)
        raise SchemaError("counts", age, "duplicate age band within a group", pos.size, pos)
    n_groups = int(gkey.max()) + 1 if len(gkey) else 0
    n_strata = np.bincount(gkey, minlength=n_groups)
    if (n_strata != len(std_bands)).any():
        g = int(np.flatnonzero(n_strata != len(std_bands))[0])
        rows = np.flatnonzero(gkey == g)
        have = set(df[age].iloc[rows])
        raise SchemaError(
            "counts",
            age,
            "strata of data and standard differ (every group needs every band of the standard)",
            int((n_strata != len(std_bands)).sum()),
            rows[:1],
            hint=f"missing bands in the first such group: {[b for b in std_bands if b not in have]}",
        )
    w = w_by_band.reindex(df[age]).to_numpy()
    zero_pop = (n == 0) & (w > 0)
    if zero_pop.any():
        pos = np.flatnonzero(zero_pop)
        raise SchemaError(
            "counts",
            population,
            "population 0 in a stratum with positive standard weight (rate undefined)",
            pos.size,
            pos,
            hint=f"first such band {df[age].iloc[pos[0]]!r}; merge bands (top_age=)",
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        r_i = np.where(n > 0, d / n, 0.0)
        wn = np.where(n > 0, w / n, 0.0)
    dsr = np.bincount(gkey, weights=w * r_i, minlength=n_groups)
    var = np.bincount(
        gkey,
        weights=w * w * np.where(n > 0, d / np.where(n > 0, n, 1) ** 2, 0.0),
        minlength=n_groups,
    )
    wm = np.zeros(n_groups)
    np.maximum.at(wm, gkey, wn)
    tot_d = np.bincount(gkey, weights=d, minlength=n_groups)
    tot_n = np.bincount(gkey, weights=n, minlength=n_groups)
    if method == "fay_feuer":
        lower, upper = fay_feuer_limits(dsr, var, wm, level)
    else:
        lower, upper = _dobson(dsr, var, tot_d, level)
    if by_cols:
        keys = df.groupby(by_cols, sort=True, dropna=False).size().reset_index()[by_cols]
    else:
        keys = pd.DataFrame(index=range(n_groups))
    out = keys.reset_index(drop=True)
    is_int = np.allclose(tot_d, np.round(tot_d))
    out["events"] = tot_d.astype(np.int64) if is_int else tot_d
    out["population"] = tot_n.astype(np.int64) if np.allclose(tot_n, np.round(tot_n)) else tot_n
    with np.errstate(divide="ignore", invalid="ignore"):
        out["crude_rate"] = np.where(tot_n > 0, tot_d / tot_n, np.nan) * per
    out["adjusted_rate"] = dsr * per
    out["lower"] = lower * per
    out["upper"] = upper * per
    out["n_strata"] = n_strata.astype(np.int64)
    return out


def _check_window_populated(counts: pd.DataFrame, by: list[str], lo: int | None, hi: int | None) -> None:
    """Refuse a ``by`` cell in which nobody of the age window lives: its rate is undefined.

    The population counts residents on one reference day (31 December), the events count every
    event of the year, so a cell can hold events and no population (everyone in the window died
    or moved during the year). The error names the first such cell; the caller decides whether
    to merge cells, narrow the period or leave the figure out.
    """
    if not by:
        empty = np.array([counts["population"].sum() == 0])
        first = "the whole population"
    else:
        per_cell = counts.groupby(by, sort=False, dropna=False)["population"].sum()
        empty = (per_cell == 0).to_numpy()
        key = per_cell.index[empty][0] if empty.any() else ()
        key = key if isinstance(key, tuple) else (key,)
        first = ", ".join(f"{c}={v}" for c, v in zip(by, key, strict=False))
    if empty.any():
        window = f"{lo or 0}+" if hi is None else f"{lo or 0}-{hi}"
        raise SchemaError(
            "population",
            "population",
            f"population 0 in every age band of a cell (nobody aged {window} on the reference day): "
            "the rate is undefined there",
            int(empty.sum()),
            np.flatnonzero(empty),
            hint=f"first such cell: {first}; merge cells or leave them out of the period",
        )


def _dobson(dsr, var, observed, level):
    """Dobson et al. (1991) limits with Byar's O_L, O_U (§5.4); NaN when O = 0."""
    lo_o, hi_o = byar_limits(observed, level)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.sqrt(var / observed)
        lower = np.where(observed > 0, dsr + f * (lo_o - observed), np.nan)
        upper = np.where(observed > 0, dsr + f * (hi_o - observed), np.nan)
    return lower, upper


def indirect_standardise(
    counts: pd.DataFrame,
    reference: pd.DataFrame,
    *,
    age: str = "age_group",
    events: str = "events",
    population: str = "population",
    by: str | Sequence[str] | None = None,
    per: float = 100_000,
    level: float = 0.95,
    method: str = "exact",
) -> pd.DataFrame:
    """Indirect standardisation: observed/expected ratio (SMR/ISR) and indirectly standardised rate.

    Parameters
    ----------
    counts : DataFrame
        Study population: ``by`` + ``age`` + ``events`` (d_i) + ``population`` (n_i).
    reference : DataFrame
        Reference population with ``age``, ``events`` (D_i) and ``population`` (N_i) per band.
    method : {"exact", "byar"}
        Interval for the ratio: Garwood exact limits on O, [G⁻¹(α/2; O), G⁻¹(1−α/2; O+1)] / E
        (lower 0 when O = 0), or Byar's approximation (§5.4).

    Returns
    -------
    DataFrame
        ``by`` columns, ``observed``, ``expected``, ``ratio``, ``lower``, ``upper`` (ratio scale),
        ``rate`` and ``rate_lower``/``rate_upper`` = ratio × reference crude rate × ``per``.

    Notes
    -----
    E = Σ R_i n_i with R_i = D_i/N_i; ratio O/E (methods reference §5.7; Breslow & Day 1987;
    PHEindicatormethods ``calculate_ISRatio``/``calculate_ISRate``). Values for different areas are
    not comparable with each other; prefer :func:`direct_standardise` for area comparisons.
    Study bands missing from the reference raise.
    """
    _check_level(level)
    if method not in ("exact", "byar"):
        raise ParameterError(f"method must be 'exact' or 'byar', got {method!r}")
    by_cols = [by] if isinstance(by, str) else list(by or [])
    for col in (age, events, population, *by_cols):
        if col not in counts.columns:
            raise SchemaError("counts", col, "required column missing")
    for col in (age, events, population):
        if col not in reference.columns:
            raise SchemaError("reference", col, "required column missing")
    ref = (
        reference.assign(**{age: reference[age].astype(str)})
        .groupby(age)[[events, population]]
        .sum()
    )
    if (ref[population] <= 0).any():
        raise SchemaError(
            "reference", population, "must be > 0 in every band", int((ref[population] <= 0).sum())
        )
    rate_ref = ref[events] / ref[population]
    df = counts.assign(**{age: counts[age].astype(str)})
    miss = ~df[age].isin(rate_ref.index).to_numpy()
    if miss.any():
        pos = np.flatnonzero(miss)
        raise SchemaError("counts", age, "age band not in the reference", pos.size, pos)
    df = df.assign(_exp=df[population].to_numpy(dtype=float) * rate_ref.reindex(df[age]).to_numpy())
    if by_cols:
        g = df.groupby(by_cols, sort=True, dropna=False)[[events, "_exp"]].sum().reset_index()
    else:
        g = pd.DataFrame({events: [df[events].sum()], "_exp": [df["_exp"].sum()]})
    o = g[events].to_numpy(dtype=float)
    e = g["_exp"].to_numpy(dtype=float)
    if method == "exact":
        lo_o, hi_o = garwood_limits(o, level)
    else:
        lo_o, hi_o = byar_limits(o, level)
    out = g[by_cols].copy() if by_cols else pd.DataFrame(index=range(len(g)))
    out["observed"] = o.astype(np.int64) if np.allclose(o, np.round(o)) else o
    out["expected"] = e
    with np.errstate(divide="ignore", invalid="ignore"):
        out["ratio"] = o / e
        out["lower"] = lo_o / e
        out["upper"] = hi_o / e
    crude_ref = ref[events].sum() / ref[population].sum()
    out["rate"] = out["ratio"] * crude_ref * per
    out["rate_lower"] = out["lower"] * crude_ref * per
    out["rate_upper"] = out["upper"] * crude_ref * per
    return out


def _band_edges(labels: Sequence[str]) -> list[int]:
    edges = []
    for lab in labels:
        lo = lab[:-1] if lab.endswith("+") else lab.split("-")[0]
        edges.append(int(lo))
    return edges


def event_rates(
    events_df: pd.DataFrame,
    population: pd.DataFrame,
    *,
    indicators: Sequence[str],
    by: str | Sequence[str],
    standard,
    min_age: int | None,
    max_age: int | None,
    per: float,
    level: float,
    top_age: int | None,
    method: str,
    age_windows: Mapping[str, tuple[int | None, int | None]] | None = None,
) -> pd.DataFrame:
    """Rates of flagged events per population, crude and directly age-standardised.

    The engine of :func:`~naravard_analysis.indicators.avoidable_rates.avoidable_rates` and
    :func:`~naravard_analysis.indicators.utilisation.ed_visit_rates`: for each indicator column of
    ``events_df`` (one row per event, with ``age`` and the ``by`` columns) the events are counted
    per (by, age band), the population is banded alike (the bands of the ``standard``), and
    :func:`direct_standardise` gives the rate and its interval. ``age_windows`` narrows the age
    window per indicator. Events in a ``by`` cell absent from the population raise.
    """
    by = as_columns(by)
    for col in ("age", "population", *by):
        if col not in population.columns:
            raise SchemaError("population", col, "required column missing")
    for col in ("age", *by):
        if col not in events_df.columns:
            raise SchemaError("flags", col, "required column missing")
    results = []
    for ind in indicators:
        lo, hi = min_age, max_age
        if age_windows and ind in age_windows:
            wlo, whi = age_windows[ind]
            lo = wlo if lo is None else max(lo, wlo if wlo is not None else lo)
            hi = whi if hi is None else (min(hi, whi) if whi is not None else hi)
        if standard is None:
            edges = [lo or 0]
            std = None
        else:
            std = standard_population(standard, min_age=lo, max_age=hi, top_age=top_age)
            edges = _band_edges(std["age_group"])
        last = str(std["age_group"].iloc[-1]) if std is not None else ""
        open_end = last.endswith("+") if std is not None else hi is None
        if std is not None and not open_end:  # closed last band, e.g. "35-39" in an 18-39 window
            edges = [*edges, int(last.split("-")[1]) + 1]
        ev = events_df.loc[events_df[ind].to_numpy(dtype=bool), [*by, "age"]]
        ev = ev[ev["age"].notna()]
        ev_age = ev["age"].astype("int64")
        inwin = (ev_age >= (lo or 0)) & ((ev_age <= hi) if hi is not None else True)
        ev = ev[inwin.to_numpy()]
        if standard is None and hi is not None:
            edges = [lo or 0, hi + 1]
        ev_b = ev.assign(
            age_group=band_ages(ev["age"].astype("int64"), edges, open_end=open_end).array
        )
        e_cnt = (
            ev_b.groupby([*by, "age_group"], observed=True, dropna=False).size().rename("events")
        )
        pa = population["age"].to_numpy()
        pmask = pa >= (lo or 0)
        if hi is not None:
            pmask &= pa <= hi
        pop = population.loc[pmask, [*by, "age", "population"]]
        p_b = pop.assign(age_group=band_ages(pop["age"], edges, open_end=open_end).array)
        p_sum = p_b.groupby([*by, "age_group"], observed=False, dropna=False)["population"].sum()
        if by:
            # The by-combinations the population table covers (at any age), with every band: a
            # covered year in which nobody of the age window lives on the reference day (the
            # last one aged 80+ died during the year, after an ED visit) is a cell with
            # population 0, not a cell the population does not cover.
            combos = population[by].drop_duplicates()
            full = combos.merge(
                pd.DataFrame({"age_group": p_sum.index.get_level_values("age_group").categories}),
                how="cross",
            )
            full["age_group"] = pd.Categorical(
                full["age_group"], categories=p_sum.index.get_level_values("age_group").categories
            )
            counts = full.merge(p_sum.reset_index(), on=[*by, "age_group"], how="left")
        else:
            counts = p_sum.reset_index()
        counts["population"] = counts["population"].fillna(0)
        e_df = e_cnt.reset_index()
        counts = counts.merge(e_df, on=[*by, "age_group"], how="outer", indicator=True)
        orphan = counts["_merge"] == "right_only"
        if orphan.any():
            pos = np.flatnonzero(orphan.to_numpy())
            raise SchemaError(
                "population",
                None,
                "events in a cell without population (check that population covers every "
                f"{by or 'total'} of the flags)",
                pos.size,
                pos,
            )
        counts = counts.drop(columns="_merge")
        counts["events"] = counts["events"].fillna(0).astype("int64")
        _check_window_populated(counts, by, lo, hi)
        counts["age_group"] = counts["age_group"].astype(str)
        if standard is None:
            labels = counts["age_group"].unique().tolist()
            std_use = dict.fromkeys(labels, 1.0)
        else:
            std_use = std
        r = direct_standardise(counts, std_use, by=by or None, per=per, level=level, method=method)
        r.insert(0, "indicator", ind)
        r["min_age"] = lo
        r["max_age"] = hi
        if standard is None:
            r["adjusted_rate"] = r["crude_rate"]
        results.append(r)
    return pd.concat(results, ignore_index=True)
