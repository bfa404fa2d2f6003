"""A synthetic Swedish register world with known truth.

``make_world(preset, region=..., seed=..., effects=...)`` returns a
:class:`~naravard_analysis.data.RegisterData` with the six canonical tables and
``meta["truth"]``. One concept per module:

========== ===========================================================================
presets    presets and true effects (keys documented there)
geography  real municipalities and age structure (SCB, via ``data.official``)
population residents, births, migration; the population table
staff      vårdcentraler, hospitals, clinicians with turnover
listings   listing and the named-doctor roll-out
simulate   the monthly person-level simulation (health, deaths, care, enrolment)
hospital   inpatient stays: diagnoses, LOS, transfers, readmissions
contacts   outpatient contacts with provider choice (continuity)
truth      the oracle: counterfactual counts for the enrolled
========== ===========================================================================
"""

from naravard_analysis.data.synthetic.presets import DEFAULT_EFFECTS, NO_EFFECTS, PRESETS
from naravard_analysis.data.synthetic.world import make_world

__all__ = ["make_world", "PRESETS", "DEFAULT_EFFECTS", "NO_EFFECTS"]
