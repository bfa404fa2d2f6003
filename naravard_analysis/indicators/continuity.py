"""Continuity of care indices (COC, UPC, SECON, MCI, MMCI, HHI) and the Swedish targets built on them.

All formulas, invariants, undefined cases and data-preparation rules follow the methods reference section 1
(cited below as "§1.x").  Notation (§1.1), for one patient in one observation window: ``N`` contacts
after cleaning, ``M`` distinct providers, ``n_j`` contacts with provider ``j``, ``m = max_j n_j`` and
``c_i = 1`` when contacts ``i`` and ``i + 1`` (time order) are with the same provider.

Public functions
----------------
:func:`continuity_indices`
    One row per person (and ``by`` group / period) with every index.
:func:`summarise_continuity`
    Mean of patient scores or pooled (visit-pair weighted) values with confidence intervals and the
    share above a cut-point (§1.8).
:func:`kontinuitetsindex`
    The national target: COC to physicians and to all staff per calendar year, relative change against
    a baseline year, "+20 %" met or not (§1.9).
:func:`regular_doctor_rule`
    Region Värmland's continuity payment rule (§1.10, unverified, configurable).
:func:`fast_lakarkontakt_share`
    Share of the population with a named doctor in the listing table (re-exported from
    :mod:`naravard_analysis.indicators.listing`, §1.11).

The implementation lives in one module per concept -- :mod:`.continuity_core` (the vectorised
indices), :mod:`.continuity_summary` (aggregation), :mod:`.continuity_targets` (Swedish targets),
:mod:`.listing` (named doctor) and :mod:`.targets` (target values with a ``verified`` flag) -- and
is re-exported here, the stable import path.
"""

from naravard_analysis.indicators.continuity_core import INDEX_COLUMNS, continuity_indices
from naravard_analysis.indicators.continuity_summary import (
    continuity_distribution,
    summarise_continuity,
)
from naravard_analysis.indicators.continuity_targets import kontinuitetsindex, regular_doctor_rule
from naravard_analysis.indicators.listing import fast_lakarkontakt_share
from naravard_analysis.indicators.targets import TARGETS, Target

__all__ = [
    "INDEX_COLUMNS",
    "TARGETS",
    "Target",
    "continuity_distribution",
    "continuity_indices",
    "fast_lakarkontakt_share",
    "kontinuitetsindex",
    "regular_doctor_rule",
    "summarise_continuity",
]
