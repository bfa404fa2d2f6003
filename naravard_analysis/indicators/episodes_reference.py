"""Care episodes, the normative definition: one person at a time, in plain Python.

This is the readable statement of the rule that
:func:`~naravard_analysis.indicators.episodes.build_episodes` computes fast (a property test pins
the two equal). A person's stays are taken in order of admission (ties: earlier discharge first,
then input order). A stay joins the current episode when it is admitted on or before the
episode's *reach*: the latest discharge of its stays plus ``merge_gap_days``, and at least one
day after a discharge that was a transfer to another hospital (``discharge_to == "hospital"``).
Otherwise it starts a new episode. Sources: Ludvigsson et al. 2011, BMC Public Health 11:450 (the
Swedish inpatient register); gap 0 and 1 as in the KIHeartFailure SwedeHF data-management scripts
(shfdb4dm and shfdb3dm).
"""

from __future__ import annotations

import pandas as pd

__all__ = ["reference_episodes"]


def reference_episodes(admissions: pd.DataFrame, *, merge_gap_days: int = 0) -> pd.DataFrame:
    """One row per episode: ``person_id, admission_date, discharge_date, n_stays`` (+ the first
    stay's ``planned``/``main_diagnosis`` and the latest-discharged stay's ``discharge_to`` when
    present), sorted by person and admission. Slow by design: for checking, not for registers.

    Examples
    --------
    >>> import pandas as pd
    >>> adm = pd.DataFrame({"person_id": [1, 1], "admission_date": pd.to_datetime(["2024-01-01",
    ...     "2024-01-06"]), "discharge_date": pd.to_datetime(["2024-01-05", "2024-01-09"])})
    >>> reference_episodes(adm, merge_gap_days=1)["n_stays"].tolist()
    [2]
    """
    one_day = pd.Timedelta(days=1)
    # Whole days count (register dates have no time of day); ties keep the input order.
    stays = admissions.assign(
        _adm=admissions["admission_date"].dt.normalize(),
        _dis=admissions["discharge_date"].dt.normalize(),
        _row=range(len(admissions)),
    ).sort_values(["person_id", "_adm", "_dis", "_row"])
    episodes: list[dict] = []
    current = None
    for stay in stays.to_dict("records"):
        transfer = stay.get("discharge_to") == "hospital"
        gap = max(merge_gap_days, 1) if transfer else merge_gap_days
        reach = stay["_dis"] + gap * one_day
        if current is None or stay["person_id"] != current["person_id"] or stay["_adm"] > current["reach"]:
            current = {"person_id": stay["person_id"], "admission_date": stay["admission_date"],
                       "discharge_date": stay["discharge_date"], "n_stays": 0, "reach": reach,
                       "planned": stay.get("planned"), "main_diagnosis": stay.get("main_diagnosis"),
                       "discharge_to": stay.get("discharge_to")}  # fmt: skip
            episodes.append(current)
        current["n_stays"] += 1
        current["reach"] = max(current["reach"], reach)
        if stay["_dis"] >= current["discharge_date"].normalize():  # the latest discharge decides
            current["discharge_date"] = stay["discharge_date"]
            current["discharge_to"] = stay.get("discharge_to")
    out = pd.DataFrame(episodes, columns=["person_id", "admission_date", "discharge_date",
                                          "n_stays", "planned", "main_diagnosis", "discharge_to"])  # fmt: skip
    keep = [c for c in ("planned", "main_diagnosis", "discharge_to") if c in admissions.columns]
    return out[["person_id", "admission_date", "discharge_date", "n_stays", *keep]]
