"""Readmission definitions: the registered variants, their parameters and exclusion reasons.

The variants (Socialstyrelsen's återinskrivning inom 1–30 dagar, the CMS style, Norway's FHI
indicator) are described in :mod:`naravard_analysis.indicators.readmission`; this module holds
their defaults and the checks of the parameters that override them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from naravard_analysis.errors import ParameterError, SchemaError

__all__ = [
    "EXCLUSION_REASONS",
    "VARIANTS",
    "Variant",
    "index_groups_from_codelist",
    "validate_readmission_parameters",
]


@dataclass(frozen=True)
class Variant:
    """Defaults of one readmission definition (each overridable in :func:`flag_readmissions`)."""

    window: tuple[int, int]
    min_age: int
    unplanned_only: bool
    planned_blocks_later: bool
    linking: str  # "episodes" (methods reference §2.4 via build/assign_episodes) or "cms"
    note: str


#: Registered variants (methods reference §4.2, §4.3/§4.5, §4.6).
VARIANTS: dict[str, Variant] = {
    "socialstyrelsen": Variant(
        (1, 30), 65, True, False, "episodes",
        "återinskrivning inom 1–30 dagar, 65+, oplanerad (methods reference §4.2)",
    ),
    "cms": Variant(
        (0, 30), 65, True, True, "cms",
        "CMS-style: day 0–30, first readmission only, planned blocks later (methods reference §4.3)",
    ),
    "norway": Variant(
        (1, 30), 67, True, False, "episodes",
        "FHI 67+, acute readmission 8 h–30 days approximated by days 1–30 (methods reference §4.6)",
    ),
}  # fmt: skip

#: Exclusion reasons, in the order they are assigned.
EXCLUSION_REASONS = ("age", "diagnosis", "died", "incomplete_followup", "died_after_discharge")


def require_table(df: object, table: str, columns: Sequence[str]) -> None:
    if not isinstance(df, pd.DataFrame):
        raise SchemaError(table, None, "expected a pandas DataFrame")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise SchemaError(table, missing[0], f"required column missing (missing: {missing})")


def window_days(variant: Variant, window: object) -> tuple[int, int]:
    if window is None:
        return variant.window
    if isinstance(window, (int, np.integer)) and not isinstance(window, bool):
        lo, hi = variant.window[0], int(window)
    elif isinstance(window, Sequence) and len(window) == 2:
        lo, hi = (int(w) for w in window)
    else:
        raise ParameterError(
            f"window must be the last day (int) or (first_day, last_day), got {window!r}"
        )
    if not 0 <= lo <= hi:
        raise ParameterError(f"window must satisfy 0 <= first_day <= last_day, got {(lo, hi)}")
    return lo, hi


def index_groups_from_codelist(
    codelist: pd.DataFrame, groups: Sequence[str] | None = None
) -> dict[str, list[str]]:
    """Turn a code list into ``index_diagnoses`` for :func:`flag_readmissions`.

    Takes the ``role == "main"`` prefixes of each ``condition_group``, leaving out rows that need a
    qualifying secondary diagnosis (``extra_rule == "requires_secondary"``) (e.g. heart failure,
    pneumonia and COPD from ``load_codelist("socialstyrelsen_undvikbar")``, whose rows are all
    unverified, methods reference §3.1). Returns ``{group: [prefix, ...]}`` in code-list order.

    Examples
    --------
    >>> import pandas as pd
    >>> cl = pd.DataFrame({"condition_group": ["hf", "hf", "copd"], "icd10_prefix": ["I50", "I110",
    ...     "J44"], "role": ["main", "main", "main"]})
    >>> index_groups_from_codelist(cl, ["copd", "hf"])
    {'copd': ['J44'], 'hf': ['I50', 'I110']}
    """
    require_table(codelist, "codelist", ("condition_group", "icd10_prefix"))
    cl = codelist
    if "role" in cl.columns:
        cl = cl[cl["role"].astype(str) == "main"]
    if "extra_rule" in cl.columns:  # e.g. J20 counts as COPD only with a COPD secondary diagnosis
        cl = cl[cl["extra_rule"].fillna("").astype(str) != "requires_secondary"]
    names = list(dict.fromkeys(cl["condition_group"].astype(str))) if groups is None else groups
    out: dict[str, list[str]] = {}
    for g in names:
        prefixes = cl.loc[cl["condition_group"].astype(str) == g, "icd10_prefix"].astype(str)
        if prefixes.empty:
            raise ParameterError(f"condition group {g!r} has no main-diagnosis codes in the list")
        out[str(g)] = list(dict.fromkeys(prefixes))
    return out


def validate_readmission_parameters(
    *, variant: str, min_age: int | None = 65, index_groups: Sequence[str] | None = None
) -> None:
    """Check notebook parameters of the readmission notebook before any work starts.

    Raises :class:`~naravard_analysis.errors.ParameterError` naming the parameter: ``variant`` must
    be one of :data:`VARIANTS`, ``min_age`` an integer 0–120 or None, ``index_groups`` a list of
    condition-group names (text).
    """
    if variant not in VARIANTS:
        raise ParameterError(f"variant must be one of {sorted(VARIANTS)}, got {variant!r}")
    if min_age is not None and (
        isinstance(min_age, bool) or not isinstance(min_age, (int, np.integer)) or not 0 <= min_age <= 120
    ):
        raise ParameterError(f"min_age must be an integer 0-120 or None, got {min_age!r}")
    if index_groups is not None and (
        isinstance(index_groups, str) or not all(isinstance(g, str) for g in index_groups)
    ):
        raise ParameterError(f"index_groups must be a list of group names, got {index_groups!r}")
