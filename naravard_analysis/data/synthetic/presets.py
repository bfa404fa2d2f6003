"""Presets and true effects of the synthetic register world.

A *preset* fixes the size and period of a world; *effects* are the true causal parameters the
estimators of the package must recover. Both are plain dictionaries so that they can be written to
``meta`` (JSON) beside the data.

Effect keys (all rate ratios are multiplicative on the event intensity while the exposure holds):

``mobile_team_unplanned_rr``
    Unplanned inpatient admissions (PVARD 2) of a person while enrolled in a mobile team.
``mobile_team_ed_rr``
    Emergency-department visits that do not lead to admission, while enrolled. ED visits that lead to
    an admission follow ``mobile_team_unplanned_rr``; the realised ratio for all ED visits is reported
    by the oracle in ``meta["truth"]["mobile_team"]["oracle"]``.
``mobile_team_los_rr``
    Length of stay (continuous latent days before rounding) of stays that start while enrolled. Bed
    days therefore fall by about ``mobile_team_unplanned_rr * mobile_team_los_rr``.
``named_doctor_avoidable_rr``
    Unplanned admissions for the chronic avoidable conditions (heart failure, COPD, asthma, diabetes
    with complication, hypertension, angina; methods reference §3.1) while the person has a named doctor.
``named_doctor_visit_share``
    Probability that a primary-care physician visit of a person with a named doctor (who is in post)
    is with that doctor. 0 means a named doctor changes nothing about whom one sees.
``named_doctor_selection``
    Log-rate multiplier per chronic condition on the hazard of being given a named doctor
    (confounding by indication; 0 = assignment depends on unit, age and special housing only).

``effects=None`` takes :data:`DEFAULT_EFFECTS`; ``effects="none"`` takes :data:`NO_EFFECTS`; a dict
overrides individual keys of the defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from naravard_analysis.errors import ParameterError

__all__ = ["PRESETS", "DEFAULT_EFFECTS", "NO_EFFECTS", "resolve_preset", "resolve_effects"]

#: Size, period and structure of each preset. ``n_persons`` = residents on the start date (births and
#: in-migrants are added on top). ``n_municipalities`` None = every municipality of the region.
#: ``persons_per_unit`` sets how many synthetic residents one vårdcentral serves; a unit keeps a
#: realistic number of clinicians whatever the sample size, so continuity does not depend on it.
PRESETS: dict[str, dict[str, Any]] = {
    "demo": {
        "n_persons": 20_000,
        "start": "2016-01-01",
        "end": "2023-12-31",
        "n_municipalities": 8,
        "municipality_weighting": "sqrt",
        "persons_per_unit": 2_000,
        "progress": False,
        "description": "small world, seconds; make demo, notebook tests and papers",
    },
    "region": {
        "n_persons": 300_000,
        "start": "2015-01-01",
        "end": "2023-12-31",
        "n_municipalities": None,
        "municipality_weighting": "population",
        "persons_per_unit": 2_500,
        "progress": True,
        "description": "one region at about 300 000 residents, 2015-2023",
    },
    "scale": {
        "n_persons": 1_000_000,
        "start": "2022-01-01",
        "end": "2023-12-31",
        "n_municipalities": None,
        "municipality_weighting": "population",
        "persons_per_unit": 5_000,
        "progress": True,
        "description": "1 000 000 residents over two years, for benchmarks",
    },
    # Every region at its real size (SCB 2019, 10.3 M residents); n_persons None = the region's
    # population. Built region by region into partitioned Parquet by make_national.
    "national": {
        "n_persons": None,
        "start": "2015-01-01",
        "end": "2023-12-31",
        "n_municipalities": None,
        "municipality_weighting": "population",
        "persons_per_unit": 2_500,
        "progress": False,
        "description": "all 21 regions at their real population (10.3 M), 2015-2023, written region "
                       "by region as partitioned Parquet (larger than memory; make_national)",
    },
    "coverage": {
        "n_persons": 12_000,
        "start": "2017-01-01",
        "end": "2023-12-31",
        "n_municipalities": 8,
        "municipality_weighting": "sqrt",
        "persons_per_unit": 600,
        "min_age": 60,
        "progress": False,
        "description": "small world of residents aged 60+ at the start, seconds; the size of the "
                       "scenario worlds of coverage studies (hundreds of worlds)",
    },
}

DEFAULT_EFFECTS: dict[str, float] = {
    "mobile_team_unplanned_rr": 0.80,
    "mobile_team_ed_rr": 0.80,
    "mobile_team_los_rr": 0.90,
    "named_doctor_avoidable_rr": 0.85,
    "named_doctor_visit_share": 0.70,
    "named_doctor_selection": 0.0,
}

NO_EFFECTS: dict[str, float] = {
    "mobile_team_unplanned_rr": 1.0,
    "mobile_team_ed_rr": 1.0,
    "mobile_team_los_rr": 1.0,
    "named_doctor_avoidable_rr": 1.0,
    "named_doctor_visit_share": 0.0,
    "named_doctor_selection": 0.0,
}

_RR_KEYS = (
    "mobile_team_unplanned_rr",
    "mobile_team_ed_rr",
    "mobile_team_los_rr",
    "named_doctor_avoidable_rr",
)


def resolve_preset(preset: str) -> dict[str, Any]:
    """Return a copy of the preset's settings or raise :class:`ParameterError`."""
    if preset not in PRESETS:
        raise ParameterError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    return dict(PRESETS[preset])


def resolve_effects(effects: str | Mapping[str, float] | None) -> dict[str, float]:
    """Turn the ``effects`` argument of ``make_world`` into a complete, checked dict.

    Examples
    --------
    >>> resolve_effects("none")["mobile_team_ed_rr"]
    1.0
    >>> resolve_effects({"mobile_team_ed_rr": 0.5})["mobile_team_ed_rr"]
    0.5
    """
    if effects is None:
        out = dict(DEFAULT_EFFECTS)
    elif isinstance(effects, str):
        if effects == "none":
            out = dict(NO_EFFECTS)
        elif effects == "default":
            out = dict(DEFAULT_EFFECTS)
        else:
            raise ParameterError(f"effects must be None, 'none', 'default' or a dict, not {effects!r}")
    elif isinstance(effects, Mapping):
        unknown = sorted(set(effects) - set(DEFAULT_EFFECTS))
        if unknown:
            raise ParameterError(
                f"unknown effect keys {unknown}; known keys: {sorted(DEFAULT_EFFECTS)}"
            )
        out = dict(DEFAULT_EFFECTS)
        out.update({k: float(v) for k, v in effects.items()})
    else:
        raise ParameterError(f"effects must be None, 'none' or a dict, not {type(effects).__name__}")
    for key in _RR_KEYS:
        if not 0.0 < out[key] <= 5.0:
            raise ParameterError(f"effect {key} must be a rate ratio in (0, 5], got {out[key]}")
    if not 0.0 <= out["named_doctor_visit_share"] <= 1.0:
        raise ParameterError("effect named_doctor_visit_share must be a probability in [0, 1]")
    if not -2.0 <= out["named_doctor_selection"] <= 2.0:
        raise ParameterError("effect named_doctor_selection must be in [-2, 2] (log scale)")
    return out
