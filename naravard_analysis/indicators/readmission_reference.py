"""30-day readmission, the normative definition: one person at a time, in plain Python.

This is the readable statement of the rules that
:func:`~naravard_analysis.indicators.readmission.flag_readmissions` computes fast (a property
test pins the two equal on the columns below). For each person:

1. **Order the stays** by admission day, discharge day, then the tie rule: unplanned before
   planned, a stay ending in death last, then ``discharge_to``, ``main_diagnosis``,
   ``hospital_id`` in text order.
2. **Link them into care episodes.** A stay joins the current episode when admitted on or before
   its reach. Swedish and Norwegian linking: reach = latest discharge + ``merge_gap_days``, at least
   one day after a transfer (Ludvigsson et al. 2011, BMC Public Health 11:450). CMS linking: reach =
   discharge − 1 (an admission on the day of an ordinary discharge is a day-0 readmission), +1 after
   a transfer (CMS Hospital-Wide Readmission measure, Yale CORE 2023). The episode keeps its first
   stay's admission and planned status and its latest discharge (and that stay's ``discharge_to``).
3. **Find the readmission** of every episode: among the person's later episodes admitted at least
   ``window[0]`` days after its discharge, the first *unplanned* one (Socialstyrelsen,
   *Återinskrivningar inom 30 dagar*, 2014; planned ones are skipped), or with CMS rules the first
   one only, which counts only when unplanned (a planned one blocks later ones). It is a
   readmission when it is admitted at most ``window[1]`` days after the discharge.
4. **Exclude**, first reason wins: ``"age"`` (younger than ``min_age`` at the episode's admission),
   ``"died"`` (the episode ended in death), ``"incomplete_followup"`` (the data end less than
   ``window[1]`` days after the discharge). An excluded episode is never readmitted.
"""

from __future__ import annotations

import pandas as pd

from naravard_analysis.indicators.readmission_definitions import VARIANTS, window_days

__all__ = ["reference_readmissions"]

_TIES = ["_adm", "_dis", "planned", "_died", "discharge_to", "main_diagnosis", "hospital_id"]


def _episodes(stays: pd.DataFrame, cms: bool, merge_gap_days: int) -> list[dict]:
    """Step 2 for one person's ordered stays."""
    one_day = pd.Timedelta(days=1)
    episodes: list[dict] = []
    for s in stays.to_dict("records"):
        transfer = s.get("discharge_to") == "hospital"
        if cms:
            reach = s["_dis"] + (one_day if transfer else -one_day)
        else:
            reach = s["_dis"] + max(merge_gap_days, int(transfer)) * one_day
        if not episodes or s["_adm"] > episodes[-1]["reach"]:
            episodes.append({"adm": s["_adm"], "dis": s["_dis"], "reach": reach, "n_stays": 0,
                             "planned": bool(s.get("planned", False)), "to": s.get("discharge_to")})  # fmt: skip
        e = episodes[-1]
        e["n_stays"] += 1
        e["reach"] = max(e["reach"], reach)
        if s["_dis"] >= e["dis"]:
            e["dis"], e["to"] = s["_dis"], s.get("discharge_to")
    return episodes


def reference_readmissions(
    admissions: pd.DataFrame,
    persons: pd.DataFrame,
    *,
    variant: str = "socialstyrelsen",
    end_date: str | pd.Timestamp,
    merge_gap_days: int = 0,
) -> pd.DataFrame:
    """One row per care episode: ``person_id, admission_date, discharge_date, n_stays, exclusion,
    readmitted, days_to_readmission``, sorted by person and admission.

    The variant's window, minimum age, unplanned-only rule and linking apply (see
    :data:`~naravard_analysis.indicators.readmission.VARIANTS`). Slow by design: for checking.

    Examples
    --------
    >>> import pandas as pd
    >>> adm = pd.DataFrame({"person_id": [1, 1], "admission_date": pd.to_datetime(["2020-01-01",
    ...     "2020-01-20"]), "discharge_date": pd.to_datetime(["2020-01-05", "2020-01-22"]),
    ...     "planned": [False, False], "discharge_to": ["home", "home"]})
    >>> per = pd.DataFrame({"person_id": [1], "birth_date": pd.to_datetime(["1940-01-01"])})
    >>> reference_readmissions(adm, per, end_date="2020-12-31")["days_to_readmission"].tolist()
    [15, <NA>]
    """
    v = VARIANTS[variant]
    lo, hi = window_days(v, None)
    cms = v.linking == "cms"
    end = pd.Timestamp(end_date).normalize()
    births = dict(zip(persons["person_id"], persons["birth_date"], strict=True))
    stays = admissions.assign(
        _adm=admissions["admission_date"].dt.normalize(),
        _dis=admissions["discharge_date"].dt.normalize(),
        _died=admissions.get("discharge_to", pd.Series(index=admissions.index)) == "died",
    )
    ties = [c for c in _TIES if c in stays.columns]
    rows = []
    for pid, own in stays.groupby("person_id", sort=True):
        episodes = _episodes(own.sort_values(ties, kind="stable"), cms, merge_gap_days)
        for k, e in enumerate(episodes):
            later = [m for m in episodes[k + 1 :] if (m["adm"] - e["dis"]).days >= lo]
            if v.unplanned_only and not v.planned_blocks_later:  # planned ones are skipped
                later = [m for m in later if not m["planned"]]
            nxt = later[0] if later else None
            days = (nxt["adm"] - e["dis"]).days if nxt is not None else None
            readmitted = days is not None and days <= hi and not (v.unplanned_only and nxt["planned"])
            b = births[pid]
            age = e["adm"].year - b.year - ((e["adm"].month, e["adm"].day) < (b.month, b.day))
            exclusion = ("age" if age < v.min_age else "died" if e["to"] == "died"
                         else "incomplete_followup" if (end - e["dis"]).days < hi else None)  # fmt: skip
            readmitted = readmitted and exclusion is None
            rows.append((pid, e["adm"], e["dis"], e["n_stays"], exclusion, readmitted,
                         days if readmitted else None))  # fmt: skip
    out = pd.DataFrame(rows, columns=["person_id", "admission_date", "discharge_date", "n_stays",
                                      "exclusion", "readmitted", "days_to_readmission"])  # fmt: skip
    out["days_to_readmission"] = out["days_to_readmission"].astype("Int64")
    return out
