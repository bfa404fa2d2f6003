"""Avoidable hospitalisation, the normative definition: one unit at a time, in plain Python.

This is the readable statement of the rules that
:func:`~naravard_analysis.indicators.avoidable.flag_avoidable` computes fast (a property test pins
the two equal). Codes are normalised (upper case, dots removed) and matched by prefix. For each
unit (admission, or care episode) and each condition group of the definition's code list:

* **candidate**: the main diagnosis starts with one of the group's ``main`` prefixes; or with a
  ``requires_secondary`` prefix *and* one of the other diagnoses with a ``secondary`` prefix (J20
  counts as COPD only with a COPD diagnosis); or, for a ``procedure_required`` group (PQI 16), a
  procedure with such a prefix and, when listed, any diagnosis with an ``any_required`` prefix. A
  ``requires_secondary`` main code without the secondary diagnosis is a candidate that is not
  counted (reason ``"secondary_missing"``).
* **not counted**, first reason wins: the person is unknown; the age at admission (completed
  years) is unknown or outside the group's window (the definition's minimum age, the code list's
  ``age_min``/``age_max``, the caller's ``max_age``); planned care when ``unplanned_only``; a
  transfer in (``admitted_from == "hospital"``) or a day case when the definition excludes them;
  the secondary diagnosis is missing; any diagnosis has an ``exclude_any`` prefix (sickle cell
  for pneumonia); any procedure has an ``exclude_procedure`` prefix.

A unit is avoidable when it counts in any group (composites are unions, never sums); a candidate
of some group that counts in none gets the first reason (in
:data:`~naravard_analysis.indicators.avoidable.EXCLUSION_REASONS` order) met in any group it was a
candidate of. Sources: Socialstyrelsen 2014 (undvikbar slutenvård), AHRQ PQI v2024, OECD HCQI 2023.
"""

from __future__ import annotations

import pandas as pd

from naravard_analysis.indicators.avoidable_definitions import (
    EXCLUSION_REASONS,
    definition_of,
    select_codelist,
)
from naravard_analysis.indicators.episodes import build_episodes

__all__ = ["reference_avoidable"]


def _codes(text) -> list[str]:
    return [c.upper().replace(".", "") for c in str(text).split()] if isinstance(text, str) else []


def _starts(codes: list[str], prefixes: list[str]) -> bool:
    return any(c.startswith(p) for c in codes for p in prefixes)


def _group_rules(cl: pd.DataFrame, min_age: int, max_age: int | None) -> dict[str, dict]:
    """Per condition group: its prefixes by role and its age window."""
    out = {}
    for g, rules in cl.groupby("condition_group", sort=False):
        role, needs_sec = rules["role"], rules["extra_rule"] == "requires_secondary"
        r = {k: rules.loc[role == k, "icd10_prefix"].tolist() for k in (
            "secondary", "procedure_required", "any_required", "exclude_any", "exclude_procedure")}
        r["main"] = rules.loc[(role == "main") & ~needs_sec, "icd10_prefix"].tolist()
        r["main_with_secondary"] = rules.loc[(role == "main") & needs_sec, "icd10_prefix"].tolist()
        amin, amax = rules["age_min"].dropna(), rules["age_max"].dropna()
        his = ([int(amax.min())] if len(amax) else []) + ([max_age] if max_age is not None else [])
        r["window"] = (max(min_age, int(amin.max())) if len(amin) else min_age, min(his) if his else None)
        out[g] = r
    return out


def _group_reason(unit: dict, g: str, r: dict, row_reasons: list[str]) -> str | None:
    """"counted", a reason, or None (not a candidate) for one unit and one condition group."""
    main, other, procs = unit["main"], unit["other"], unit["procs"]
    matched = _starts(main, r["main"])
    secondary_missing = False
    if not matched and _starts(main, r["main_with_secondary"]):
        matched = _starts(other, r["secondary"])
        secondary_missing = not matched
    if _starts(procs, r["procedure_required"]) and (
        not r["any_required"] or _starts(main + other, r["any_required"])
    ):
        matched = True
    if not (matched or secondary_missing):
        return None
    (lo, hi), age = r["window"], unit["age"]
    outside = age is None or age < lo or (hi is not None and age > hi)
    reasons = row_reasons + ["age"] * outside
    if reasons:
        return min(reasons, key=EXCLUSION_REASONS.index)
    if secondary_missing:
        return "secondary_missing"
    if _starts(main + other, r["exclude_any"]):
        return "exclusion_diagnosis"
    if _starts(procs, unit["procedure_exclusions"].get(g, r["exclude_procedure"])):
        return "procedure"
    return "counted"


def reference_avoidable(
    admissions: pd.DataFrame,
    persons: pd.DataFrame,
    *,
    definition: str = "socialstyrelsen_chronic",
    unplanned_only: bool = False,
    unit: str | None = None,
    max_age: int | None = None,
    procedure_exclusions: dict | None = None,
) -> pd.DataFrame:
    """One row per unit: a bool column per condition group and composite, ``avoidable`` and
    ``excluded_reason`` (None when counted or not a candidate). Episodes come from
    :func:`~naravard_analysis.indicators.episodes.build_episodes` (whose own definition is
    :func:`~naravard_analysis.indicators.episodes_reference.reference_episodes`). Slow by design.

    Examples
    --------
    >>> import pandas as pd
    >>> adm = pd.DataFrame({"person_id": [1, 1], "main_diagnosis": ["J441", "J20"],
    ...     "other_diagnoses": ["", "E119"], "admission_date": pd.to_datetime(["2024-01-02",
    ...     "2024-03-01"]), "discharge_date": pd.to_datetime(["2024-01-05", "2024-03-03"])})
    >>> per = pd.DataFrame({"person_id": [1], "birth_date": pd.to_datetime(["1950-01-01"])})
    >>> reference_avoidable(adm, per)[["copd", "excluded_reason"]].values.tolist()
    [[True, None], [False, 'secondary_missing']]
    """
    d = definition_of(definition)
    cl = select_codelist(d, None, include_optional=False)
    units = admissions if (unit or d.unit) == "admission" else build_episodes(admissions)
    births = dict(zip(persons["person_id"], persons["birth_date"], strict=True))
    groups = list(dict.fromkeys(cl["condition_group"]))
    rules = _group_rules(cl, d.min_age, max_age)
    rows = []
    for u in units.to_dict("records"):
        birth, at = births.get(u["person_id"], pd.NaT), u["admission_date"]
        age = None if pd.isna(birth) else (
            at.year - birth.year - ((at.month, at.day) < (birth.month, birth.day)))  # fmt: skip
        row_reasons = [r for r, applies in [
            ("person_unknown", u["person_id"] not in births),
            ("planned", unplanned_only and u.get("planned") is True),
            ("transfer_in", d.exclude_transfers_in and u.get("admitted_from") == "hospital"),
            ("day_case", d.exclude_day_cases and at.normalize() == u["discharge_date"].normalize()),
        ] if applies]  # fmt: skip
        unit_ = {"main": _codes(u["main_diagnosis"]), "other": _codes(u.get("other_diagnoses")),
                 "procs": _codes(u.get("procedures")), "age": age,
                 "procedure_exclusions": dict(procedure_exclusions or {})}  # fmt: skip
        verdicts = {g: _group_reason(unit_, g, r, row_reasons) for g, r in rules.items()}
        flags = {g: v == "counted" for g, v in verdicts.items()}
        for comp, members in d.composites.items():
            flags[comp] = any(flags.get(m, False) for m in members)
        flags["avoidable"] = any(flags[g] for g in groups)
        reasons = [v for v in verdicts.values() if v not in (None, "counted")]
        first = min(reasons, key=EXCLUSION_REASONS.index) if reasons else None
        rows.append(flags | {"excluded_reason": None if flags["avoidable"] else first})
    return pd.DataFrame(rows, columns=[*groups, *[c for c in d.composites if c not in groups],
                                       "avoidable", "excluded_reason"])  # fmt: skip
