"""30-day readmission: Socialstyrelsen's återinskrivning inom 1–30 dagar, the CMS variant, Norway's.

:func:`flag_readmissions` turns inpatient stays into index care episodes and flags whether each was
followed by a readmission in the window; :func:`readmission_rates` turns the flags into rates with
Wilson intervals and counts every exclusion by reason. The package's modules, all public here:
``readmission_definitions`` (variants, parameters), ``readmission_flags`` (the fast kernel, in named
stages), ``readmission_reference`` (the same definition per person in plain Python, pinned equal
to the kernel by a property test), ``readmission_risk`` (:func:`risk_adjusted_readmission`) and
``readmission_incidence`` (:func:`readmission_cumulative_incidence`).

Definitions (methods reference §4; episode linking §2.4)
--------------------------------------------------------
d = INDATUM(readmission) − UTDATUM(index) in whole calendar days (§4.1).

=================  ================================  ======================================  ==============
rule               ``socialstyrelsen`` (default)     ``cms``                                 ``norway``
=================  ================================  ======================================  ==============
window             1 ≤ d ≤ 30 (§4.1, §4.2 checked)   0 ≤ d ≤ 30 (§4.1, §4.5 Tuva)            1 ≤ d ≤ 30 (a)
linking            ``build_episodes`` rules, §2.4:   overlaps and transfers chain; a         as Swedish
                   same-day re-entry, overlaps and   same-day return after a non-transfer
                   transfers are one episode         discharge is a day-0 readmission
readmissions       any unplanned one in the window   only the first; if it is planned a      as Swedish
                   counts                            later unplanned one does not (§4.3)
min age            65 (§4.2)                         65 (§4.3)                               67 (§4.6)
unplanned only     True: PVARD = 2 on the            True                                    True (acute)
                   readmission's first stay
=================  ================================  ======================================  ==============

(a) FHI counts acute readmissions 8 hours to 30 days after discharge; register dates carry no time of
day, so day 0 is left out and the rule is approximated by the day window (§4.6 design choice).

Which rules are checked and which are recalled (§4.2, marked **unverified** there) — the unverified
ones are parameters with these defaults:

* checked: window 1–30 for the Swedish 65+ indicator; unplanned readmissions only (2014-2-12);
  CMS: one readmission per index, a planned first readmission blocks a later unplanned one.
* unverified (parameters): denominator excludes episodes ending in death (``discharge_to ==
  "died"``, UTSATT 4) — always applied, reason ``"died"``; age at the index **admission**
  (``age_at``); ``merge_gap_days=0``; follow-up rule: the index counts only if
  ``discharge_date + window_end <= end_date`` (reason ``"incomplete_followup"``; ``end_date``
  defaults to the last admission or discharge date in the data, as the issue specifies — pass the
  extract's true end date when known); index diagnoses all causes unless ``index_diagnoses``;
  death after discharge: index kept, counted as not readmitted, deaths reported
  (``death_after_discharge="keep"``); a readmission episode can itself be an index (always, §4.2
  ``readmission_as_index=True``; not a parameter here).

Exclusion reasons are assigned in this order (one per index, design choice): ``"age"`` (younger than
``min_age`` or unknown birth date), ``"diagnosis"`` (main diagnosis not in ``index_diagnoses``),
``"died"`` (discharged dead), ``"incomplete_followup"``, and with ``death_after_discharge="exclude"``
``"died_after_discharge"``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from naravard_analysis.core.dates import civil, day_numbers
from naravard_analysis.core.intervals import wilson_interval
from naravard_analysis.indicators.episodes import link_episodes_cms
from naravard_analysis.indicators.readmission_definitions import (
    EXCLUSION_REASONS,
    VARIANTS,
    Variant,
    index_groups_from_codelist,
    require_table,
    validate_readmission_parameters,
)
from naravard_analysis.indicators.readmission_flags import flag_readmissions
from naravard_analysis.indicators.readmission_incidence import readmission_cumulative_incidence
from naravard_analysis.indicators.readmission_risk import risk_adjusted_readmission

__all__ = [
    "EXCLUSION_REASONS",
    "VARIANTS",
    "Variant",
    "flag_readmissions",
    "index_groups_from_codelist",
    "link_episodes_cms",
    "readmission_cumulative_incidence",
    "readmission_rates",
    "risk_adjusted_readmission",
    "validate_readmission_parameters",
    "wilson_interval",
]


def readmission_rates(
    flags: pd.DataFrame, *, by: str | Sequence[str] | None = None, level: float = 0.95
) -> pd.DataFrame:
    """Readmission rate = readmitted / eligible index episodes, with a Wilson interval.

    Parameters
    ----------
    flags : DataFrame
        Output of :func:`flag_readmissions`.
    by : str or list of str, optional
        Grouping columns of ``flags`` (e.g. ``"hospital_id"``, ``"municipality_code"``,
        ``"index_group"``). ``"year"`` is derived from the index ``discharge_date`` when ``flags``
        has no such column (Socialstyrelsen counts discharges in the period).
    level : float
        Confidence level of the Wilson interval (default 0.95).

    Returns
    -------
    DataFrame
        One row per group (one row in total when ``by`` is None): ``n_index`` (all index episodes),
        ``eligible``, ``readmitted``, ``rate``, ``lower``, ``upper`` (Wilson interval at ``level``), then
        ``excluded_<reason>`` for every reason of :data:`EXCLUSION_REASONS` and
        ``died_in_window`` (eligible indexes followed by death in the window, counted as not
        readmitted, §4.2). ``rate`` is NaN when ``eligible`` is 0.

    Notes
    -----
    Unit: index care episode. Wilson score interval (see :func:`wilson_interval`). Counts are not
    suppressed: pass the table through ``report.disclosure.suppress`` before publishing.

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"eligible": [True, True, True, False], "readmitted": [True, False, False,
    ...     False], "exclusion": [None, None, None, "age"], "died_in_window": [False] * 4})
    >>> r = readmission_rates(f)
    >>> r[["eligible", "readmitted", "excluded_age"]].iloc[0].tolist(), round(float(r.rate[0]), 4)
    ([3, 1, 1], 0.3333)
    """
    require_table(flags, "flags", ("eligible", "readmitted", "exclusion"))
    by_cols = [by] if isinstance(by, str) else list(by or [])
    df = flags
    if "year" in by_cols and "year" not in df.columns:
        require_table(df, "flags", ("discharge_date",))
        dd = df["discharge_date"]
        days = day_numbers(dd, "flags", "discharge_date") if dd.dtype.kind == "M" else None
        year = civil(days)[0] if days is not None else pd.to_datetime(dd).dt.year.to_numpy()
        df = df.assign(year=np.asarray(year, dtype=np.int64))
    require_table(df, "flags", by_cols)
    def as_bool(col: str) -> np.ndarray:
        x = df[col]
        return x.to_numpy() if x.dtype == bool else x.astype("boolean").fillna(False).to_numpy(bool)

    el = as_bool("eligible")
    work = pd.DataFrame(
        {
            "n_index": np.ones(len(df), dtype=np.int64),
            "eligible": el.astype(np.int64),
            "readmitted": (as_bool("readmitted") & el).astype(np.int64),
        },
        index=df.index,
    )
    excl = df["exclusion"]
    for reason in EXCLUSION_REASONS:
        work[f"excluded_{reason}"] = (excl == reason).fillna(False).to_numpy(dtype=np.int64)
    if "died_in_window" in df.columns:
        work["died_in_window"] = (df["died_in_window"].to_numpy(dtype=bool) & el).astype(np.int64)
    if by_cols:
        for c in by_cols:
            work[c] = df[c].to_numpy()
        out = work.groupby(by_cols, sort=True, dropna=False, observed=True).sum().reset_index()
    else:
        out = work.sum().to_frame().T.astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = out["readmitted"] / out["eligible"].where(out["eligible"] > 0)
    lower, upper = wilson_interval(out["readmitted"].to_numpy(), out["eligible"].to_numpy(), level)
    cols = [*by_cols, "n_index", "eligible", "readmitted"]
    rest = [c for c in out.columns if c not in cols]
    out = out[cols].assign(rate=rate.astype("float64"), lower=lower, upper=upper).join(out[rest])
    out.attrs.update({k: v for k, v in flags.attrs.items()} | {"level": level})
    return out
