"""Avoidable hospitalisation: Swedish undvikbar/påverkbar slutenvård, AHRQ PQI and OECD HCQI.

Flags inpatient stays (or care episodes) whose main diagnosis is in a condition group of a versioned
code list (``naravard_analysis/data/codelists``), applies the definition's rules (age windows,
secondary-diagnosis rules, exclusion diagnoses, procedure exclusions, transfers in, day cases,
unplanned only) and counts every exclusion by reason; then turns flags into crude and directly
age-standardised rates per 100 000 inhabitants.

The modules, all public here: ``avoidable_definitions`` (the registered definitions and their code
lists), ``avoidable_flags`` (the fast kernel, in named stages), ``avoidable_reference`` (the same
rules per unit in plain Python, pinned equal to the kernel by a property test) and
``avoidable_rates``. Emergency-department visit rates are a utilisation measure:
:func:`naravard_analysis.indicators.utilisation.ed_visit_rates` (importable here too).

Sources: methods reference §3.1 (Socialstyrelsen; list **unverified**), §3.2 (AHRQ PQI v2024, ICD-10-CM
mapped to ICD-10-SE prefixes as an adaptation), §3.3 (OECD HCQI; COPD checked, the other conditions
unverified), §3.4 (cross-cutting rules), §2.3 (dotless prefix matching), §2.4 (episodes), §5
(standardisation).
"""

from naravard_analysis.indicators.avoidable_definitions import (
    DEFINITIONS,
    EXCLUSION_REASONS,
    Definition,
    group_columns,
)
from naravard_analysis.indicators.avoidable_flags import exclusion_summary, flag_avoidable
from naravard_analysis.indicators.avoidable_rates import avoidable_rates
from naravard_analysis.indicators.utilisation import ed_visit_rates

__all__ = [
    "DEFINITIONS",
    "EXCLUSION_REASONS",
    "Definition",
    "avoidable_rates",
    "ed_visit_rates",
    "exclusion_summary",
    "flag_avoidable",
    "group_columns",
]
