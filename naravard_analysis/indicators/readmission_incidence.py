"""Cumulative incidence of readmission with death as a competing risk (Aalen–Johansen).

The 30-day readmission rate treats a patient who dies on day 10 as "not readmitted"; among frail
65+ patients that is common, so the rate mixes two processes. The cumulative incidence function
(CIF) of readmission, with death as a competing event,

    CIF_r(t) = Σ_{t_j ≤ t} S(t_j−) · d_rj / n_j,

(S the all-cause Kaplan–Meier survival, d_rj readmissions at t_j, n_j at risk) is estimated by the
Aalen–Johansen estimator (lifelines ``AalenJohansenFitter``; confidence limits from its
Greenwood-type variance with the log(−log) transform).

Time scale: days since the index discharge. For each eligible index: readmission at
``next_readmission_days`` (the variant's rule: Swedish next unplanned episode from day 1; CMS first
episode from day 0, a planned one ending follow-up), death at death date − discharge date,
censoring at ``followup_days`` (end of the data, or a blocking planned readmission) or the last
horizon. A readmission and a death on the same day: the readmission counts (the patient was
admitted, then died).

Ties: lifelines breaks ties between different event types by random jitter. Here they are broken
deterministically instead — readmissions at t, deaths at t + 0.25, censorings at t + 0.5 — which
gives exactly the tied Aalen–Johansen estimate at every whole day (events of different types at
one time telescope in the product; censored patients count as at risk for that day's events, the
usual convention).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from naravard_analysis.core.defaults import DEFAULT_LANGUAGE
from naravard_analysis.core.results import ResultDisplay, check_language
from naravard_analysis.errors import DataWarning, ParameterError, SchemaError

__all__ = ["CumulativeIncidence", "competing_risk_times", "readmission_cumulative_incidence"]

_OFFSET = {0: 0.5, 1: 0.0, 2: 0.25}  # censored, readmission, death
# Text of CumulativeIncidence.summary (this module's own words).
_SUMMARY = {
    "en": {"title": "Cumulative incidence (Aalen–Johansen, death competing), {level}% limits",
           "row": "day {h}: readmission {r:.4f} ({rl:.4f}–{ru:.4f}), death {d:.4f} ({dl:.4f}–{du:.4f}), "
                  "n {n}"},
    "sv": {"title": "Kumulativ incidens (Aalen–Johansen, död som konkurrerande händelse), {level} % gränser",
           "row": "dag {h}: återinskrivning {r:.4f} ({rl:.4f}–{ru:.4f}), död {d:.4f} ({dl:.4f}–{du:.4f}), "
                  "n {n}"},
}


@dataclass(repr=False)
class CumulativeIncidence(ResultDisplay):
    """Result of :func:`readmission_cumulative_incidence` (the package's result protocol).

    Attributes
    ----------
    at : DataFrame
        One row per group and horizon: ``horizon``, ``n`` (eligible indexes), ``n_readmissions``
        and ``n_deaths`` (events up to the horizon), ``readmission``, ``readmission_lower``,
        ``readmission_upper``, ``death``, ``death_lower``, ``death_upper``.
    curves : DataFrame
        Step functions at every whole day 0 … max(horizons): ``day``, ``readmission`` (+ limits),
        ``death`` (+ limits), ``n_at_risk`` (at the start of the day), ``n_readmissions`` and
        ``n_deaths`` (events up to and including the day; the counts to suppress on).
    table : DataFrame
        ``at`` (the protocol's estimates table).
    settings : dict
        ``level``, ``by``, ``horizons``.
    """

    at: pd.DataFrame
    curves: pd.DataFrame
    level: float
    by: tuple[str, ...] = ()
    horizons: tuple[int, ...] = field(default=())

    _TITLE = {"en": "Cumulative incidence of readmission, death as a competing risk (Aalen-Johansen)",
              "sv": "Kumulativ incidens av återinskrivning, död som konkurrerande risk (Aalen-Johansen)"}

    @property
    def table(self) -> pd.DataFrame:
        return self.at

    @property
    def settings(self) -> dict:
        return {"level": self.level, "by": list(self.by), "horizons": list(self.horizons)}

    def summary(self, language: str = DEFAULT_LANGUAGE) -> str:
        """One line per horizon (and group): readmission and death incidence with limits."""
        w = _SUMMARY[check_language(language)]
        lines = [w["title"].format(level=f"{100 * self.level:g}")]
        known = {"horizon", "n", "n_readmissions", "n_deaths", "readmission", "readmission_lower",
                 "readmission_upper", "death", "death_lower", "death_upper"}  # fmt: skip
        groups = [c for c in self.at.columns if c not in known]
        for _, r in self.at.iterrows():
            where = "".join(f"{c} {r[c]}, " for c in groups)
            lines.append(where + w["row"].format(
                h=int(r["horizon"]), r=r["readmission"], rl=r["readmission_lower"],
                ru=r["readmission_upper"], d=r["death"], dl=r["death_lower"], du=r["death_upper"],
                n=int(r["n"])))
        return "\n".join(lines)

    def __repr__(self) -> str:
        horizons = sorted({int(h) for h in self.at["horizon"]}) if "horizon" in self.at else []
        return f"<CumulativeIncidence horizons={horizons} days={len(self.curves)} level={self.level}>"

    def _repr_html_(self) -> str:
        head = "<br>".join(self.summary().split("\n")[:1])
        return f"<p>{head}</p>" + self.at.to_html(index=False, float_format=lambda v: f"{v:.4f}")


def competing_risk_times(
    flags: pd.DataFrame, deaths: pd.DataFrame | None = None, *, max_days: int = 90
) -> pd.DataFrame:
    """Time (days since index discharge) and event type per eligible index.

    Returns a DataFrame with the eligible rows' index: ``time`` (int days), ``event`` (0 censored,
    1 readmission, 2 death). ``deaths``: ``person_id``, ``death_date`` (e.g. the persons table);
    without it ``flags["days_to_death"]`` is used.
    """
    for c in ("eligible", "next_readmission_days", "followup_days", "discharge_date"):
        if c not in flags.columns:
            raise SchemaError("flags", c, "required column missing (use flag_readmissions output)")
    fl = flags.loc[flags["eligible"].astype(bool).to_numpy()]
    n = len(fl)
    if deaths is not None:
        for c in ("person_id", "death_date"):
            if c not in deaths.columns:
                raise SchemaError("deaths", c, "required column missing")
        d = deaths.dropna(subset=["death_date"])
        dup = d["person_id"].duplicated().to_numpy()
        if dup.any():
            pos = np.flatnonzero(dup)
            raise SchemaError("deaths", "person_id", "more than one death date", pos.size, pos)
        pos = pd.Index(d["person_id"]).get_indexer(fl["person_id"])
        dd = pd.to_datetime(d["death_date"]).to_numpy("datetime64[ns]").astype("datetime64[D]")
        dis = pd.to_datetime(fl["discharge_date"]).to_numpy("datetime64[ns]").astype("datetime64[D]")
        t_death = np.full(n, np.inf)
        has = pos >= 0
        t_death[has] = (dd[pos[has]] - dis[has]).astype(np.int64)
    elif "days_to_death" in fl.columns:
        t_death = fl["days_to_death"].astype("Float64").to_numpy(dtype="float64", na_value=np.inf)
    else:
        t_death = np.full(n, np.inf)
    early = t_death < 0
    if early.any():
        warnings.warn(
            f"deaths: {int(early.sum())} eligible index episode(s) with a death date before the "
            "discharge date; treated as death on day 0",
            DataWarning,
            stacklevel=2,
        )
        t_death = np.maximum(t_death, 0)
    t_read = fl["next_readmission_days"].astype("Float64").to_numpy(dtype="float64", na_value=np.inf)
    cens = np.minimum(fl["followup_days"].to_numpy(dtype="float64"), float(max_days))
    cens = np.maximum(cens, 0)
    read = (t_read <= t_death) & (t_read <= cens)
    dead = ~read & (t_death <= cens)
    time = np.where(read, t_read, np.where(dead, t_death, cens))
    event = np.where(read, 1, np.where(dead, 2, 0))
    return pd.DataFrame({"time": time.astype(np.int64), "event": event.astype(np.int64)}, index=fl.index)


def _step(times: np.ndarray, values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Right-continuous step function: value at the last time <= at (0 before the first)."""
    pos = np.searchsorted(times, at, side="right") - 1
    return np.where(pos >= 0, values[np.maximum(pos, 0)], 0.0)


def _fit(time: np.ndarray, event: np.ndarray, days: np.ndarray, level: float) -> dict:
    from lifelines import AalenJohansenFitter

    t = time + np.vectorize(_OFFSET.get)(event) if time.size else time.astype(float)
    out: dict[str, np.ndarray] = {}
    at = days + 0.75  # after every event and censoring of that day
    for k, name in ((1, "readmission"), (2, "death")):
        if not (event == k).any():
            out[name] = np.zeros(days.size)
            out[f"{name}_lower"] = np.full(days.size, np.nan)
            out[f"{name}_upper"] = np.full(days.size, np.nan)
            continue
        aj = AalenJohansenFitter(alpha=1 - level, calculate_variance=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            aj.fit(t, event, event_of_interest=k)
        cd = aj.cumulative_density_
        ts = cd.index.to_numpy(dtype=float)
        out[name] = _step(ts, cd.iloc[:, 0].to_numpy(dtype=float), at)
        ci = aj.confidence_interval_.reindex(cd.index)
        lo = ci.iloc[:, 0].to_numpy(dtype=float)
        up = ci.iloc[:, 1].to_numpy(dtype=float)
        out[f"{name}_lower"] = np.where(out[name] > 0, _step(ts, np.nan_to_num(lo), at), 0.0)
        out[f"{name}_upper"] = np.where(out[name] > 0, _step(ts, np.nan_to_num(up), at), np.nan)
    # Counts behind each day's values (for small-cell suppression): at risk at the start of the
    # day, and events up to and including the day.
    out["n_at_risk"] = len(time) - np.searchsorted(np.sort(time), days, side="left")
    for k, name in ((1, "n_readmissions"), (2, "n_deaths")):
        out[name] = np.searchsorted(np.sort(time[event == k]), days, side="right")
    return out


def readmission_cumulative_incidence(
    flags: pd.DataFrame,
    deaths: pd.DataFrame | None = None,
    *,
    by: str | Sequence[str] | None = None,
    horizons: Sequence[int] = (30, 90),
    level: float = 0.95,
) -> CumulativeIncidence:
    """Cumulative incidence of readmission and of death (competing risk) after an index discharge.

    Parameters
    ----------
    flags : DataFrame
        Output of :func:`~naravard_analysis.indicators.readmission.flag_readmissions`; eligible
        index episodes are used.
    deaths : DataFrame, optional
        ``person_id`` and ``death_date`` (the persons table will do); default: the flags'
        ``days_to_death``.
    by : str or list of str, optional
        Groups (columns of ``flags``; ``"year"`` from the discharge date if absent), each fitted
        separately.
    horizons : sequence of int
        Days at which values are reported (default 30 and 90).
    level : float
        Confidence level (default 0.95).

    Returns
    -------
    CumulativeIncidence
        ``.at`` (values at the horizons) and ``.curves`` (daily step functions); see the class.

    Notes
    -----
    Unit: eligible index care episode. Note that eligibility already required complete follow-up
    to the readmission window's end (30 days by default); later horizons are censored at the end
    of the data. Definition and tie handling in the module docstring.

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"eligible": [True] * 4, "discharge_date": pd.to_datetime(["2020-01-01"] * 4),
    ...     "next_readmission_days": pd.array([5, None, None, 40], dtype="Int64"),
    ...     "followup_days": [400] * 4, "days_to_death": pd.array([None, 10, None, None], dtype="Int64")})
    >>> ci = readmission_cumulative_incidence(f)
    >>> ci.at[["horizon", "readmission", "death"]].values.tolist()
    [[30.0, 0.25, 0.25], [90.0, 0.5, 0.25]]
    """
    if not 0 < level < 1:
        raise ParameterError(f"level must lie strictly between 0 and 1, got {level!r}")
    hz = sorted({int(h) for h in horizons})
    if not hz or hz[0] < 0:
        raise ParameterError(f"horizons must be non-negative whole days, got {horizons!r}")
    by_cols = [by] if isinstance(by, str) else list(by or [])
    fl = flags
    if "year" in by_cols and "year" not in fl.columns:
        fl = fl.assign(year=pd.to_datetime(fl["discharge_date"]).dt.year.astype("int64"))
    for c in by_cols:
        if c not in fl.columns:
            raise SchemaError("flags", c, "grouping column missing")
    tev = competing_risk_times(fl, deaths, max_days=hz[-1])
    days = np.arange(hz[-1] + 1)
    if by_cols:
        keys = fl.loc[tev.index, by_cols]
        grouped = list(keys.groupby(by_cols, sort=True, dropna=False, observed=True).groups.items())
    else:
        grouped = [((), tev.index)]
    at_rows, curve_parts = [], []
    for key, idx in grouped:
        key = key if isinstance(key, tuple) else (key,)
        sub = tev.loc[idx]
        time, event = sub["time"].to_numpy(), sub["event"].to_numpy()
        res = _fit(time, event, days, level)
        labels = dict(zip(by_cols, key, strict=True))
        curve = pd.DataFrame({**{c: [v] * days.size for c, v in labels.items()}, "day": days})
        for name in ("readmission", "death"):
            for suffix in ("", "_lower", "_upper"):
                curve[name + suffix] = res[name + suffix]
        for c in ("n_at_risk", "n_readmissions", "n_deaths"):
            curve[c] = res[c].astype(np.int64)
        curve_parts.append(curve)
        for h in hz:
            row = {**labels, "horizon": h, "n": int(len(sub)),
                   "n_readmissions": int(((event == 1) & (time <= h)).sum()),
                   "n_deaths": int(((event == 2) & (time <= h)).sum())}
            for name in ("readmission", "death"):
                for suffix in ("", "_lower", "_upper"):
                    row[name + suffix] = float(res[name + suffix][h])
            at_rows.append(row)
    at = pd.DataFrame(at_rows)
    curves = pd.concat(curve_parts, ignore_index=True) if curve_parts else pd.DataFrame()
    return CumulativeIncidence(at=at, curves=curves, level=level, by=tuple(by_cols), horizons=tuple(hz))
