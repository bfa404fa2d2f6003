"""Avoidable hospitalisation: the registered definitions and their code lists.

Each :class:`Definition` names a versioned code list (``naravard_analysis/data/codelists``) and
the rules of the indicator: which condition types count, the age limit, the unit (care episode or
admission), whether transfers in and day cases are excluded, and the composite groups (unions).
Sources: Socialstyrelsen's *undvikbar slutenvård* (Socialstyrelsen 2014, list unverified),
AHRQ Prevention Quality Indicators v2024 (ICD-10-CM mapped to ICD-10-SE prefixes as an
adaptation), OECD Health Care Quality Indicators (avoidable admissions, 2023).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from naravard_analysis.data.codelists import load_codelist, validate_codelist
from naravard_analysis.errors import ParameterError

__all__ = [
    "DEFINITIONS",
    "EXCLUSION_REASONS",
    "Definition",
    "definition_of",
    "group_columns",
    "select_codelist",
]


@dataclass(frozen=True)
class Definition:
    """Defaults of one indicator definition (each overridable in :func:`flag_avoidable`)."""

    codelist: str
    condition_types: tuple[str, ...]
    min_age: int
    unit: str  # "episode" or "admission"
    exclude_transfers_in: bool
    exclude_day_cases: bool
    composites: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    union: str = "avoidable"
    note: str = ""


_SOS_CHRONIC = ("anemia", "asthma", "diabetes", "heart_failure", "hypertension", "angina", "copd")
_SOS_ACUTE = (
    "bleeding_ulcer",
    "gastroenteritis",
    "pneumonia",
    "pyelonephritis",
    "ent_infection",
    "pelvic_inflammatory_disease",
    "convulsions_epilepsy",
)
_PQI_ACUTE = ("pqi11", "pqi12")
_PQI_CHRONIC = ("pqi01", "pqi03", "pqi05", "pqi07", "pqi08", "pqi14", "pqi15", "pqi16")

#: Registered definitions. Swedish: §3.1 (unit = episode per §3.4 so that transfers count once;
#: chronic 20+, total 0+, both unverified -> parameters). PQI: §3.2 (18+, transfers in excluded,
#: composites 90-93 are discharge-level unions). OECD: §3.3 (15+, transfers in and day cases excluded).
DEFINITIONS: dict[str, Definition] = {
    "socialstyrelsen_chronic": Definition(
        "socialstyrelsen_undvikbar", ("chronic",), 20, "episode", False, False,
        note="påverkbar slutenvård vid kronisk sjukdom, 20+ (unverified, §3.1)",
    ),
    "socialstyrelsen_acute": Definition(
        "socialstyrelsen_undvikbar", ("acute",), 0, "episode", False, False,
        note="acute groups (unverified, lower confidence, §3.1)",
    ),
    "socialstyrelsen": Definition(
        "socialstyrelsen_undvikbar", ("chronic", "acute"), 0, "episode", False, False,
        composites={"chronic": _SOS_CHRONIC, "acute": _SOS_ACUTE},
        note="undvikbar slutenvård, chronic + acute, all ages (unverified, §3.1)",
    ),
    "pqi": Definition(
        "ahrq_pqi", ("chronic", "acute"), 18, "admission", True, False,
        composites={
            "pqi90": _PQI_CHRONIC[:] + _PQI_ACUTE,
            "pqi91": _PQI_ACUTE,
            "pqi92": _PQI_CHRONIC,
            "pqi93": ("pqi01", "pqi03", "pqi14", "pqi16"),
        },
        union="pqi90",
        note="AHRQ PQI v2024 adapted to ICD-10-SE (§3.2)",
    ),
    "oecd": Definition(
        "oecd_hcqi", ("chronic",), 15, "admission", True, True,
        note="OECD HCQI avoidable admissions, 15+ (§3.3)",
    ),
}  # fmt: skip

#: Exclusion reasons in priority order: a row that matched a condition group but is not counted gets
#: the first reason that removed it from a group it matched.
EXCLUSION_REASONS = (
    "person_unknown",
    "age",
    "planned",
    "transfer_in",
    "day_case",
    "secondary_missing",
    "exclusion_diagnosis",
    "procedure",
)


def definition_of(definition: str) -> Definition:
    if definition not in DEFINITIONS:
        raise ParameterError(f"unknown definition {definition!r}; available: {sorted(DEFINITIONS)}")
    return DEFINITIONS[definition]


def group_columns(
    definition: str = "socialstyrelsen_chronic", codelist: pd.DataFrame | None = None
) -> list[str]:
    """Names of the boolean condition-group columns :func:`flag_avoidable` adds, in list order."""
    d = definition_of(definition)
    cl = select_codelist(d, codelist, include_optional=True)
    groups = list(dict.fromkeys(cl["condition_group"]))
    return groups + [c for c in d.composites if c not in groups]


def select_codelist(
    d: Definition, codelist: pd.DataFrame | None, include_optional: bool
) -> pd.DataFrame:
    cl = load_codelist(d.codelist) if codelist is None else validate_codelist(codelist, "codelist")
    if codelist is None or "condition_type" in codelist.columns:
        cl = cl[cl["condition_type"].isin(d.condition_types) | (cl["condition_type"] == "")]
    if not include_optional:
        cl = cl[cl["extra_rule"] != "optional"]
    return cl.reset_index(drop=True)
