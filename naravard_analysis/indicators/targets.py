"""Policy targets for continuity and fast läkarkontakt, each with its source and a ``verified`` flag.

methods reference §1.9-§1.11: rules marked "(unverified)" there are recorded here with
``verified=False`` and are used as parameters (never silent constants); results that use them carry
the flag in a column or in ``attrs``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Target", "TARGETS"]


@dataclass(frozen=True)
class Target:
    """A policy target: its value, wording, source and whether the source text was read."""

    name: str
    value: float
    description: str
    source: str
    verified: bool


#: Targets by name.  Relative-change targets are fractions (0.20 = +20 %), shares are fractions.
TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target(
            "coc_physician",
            0.20,
            "kontinuitetsindex till läkare ska öka med 20 procent (relative change vs baseline)",
            "Läkartidningen 2022-10; methods reference §1.9",
            True,
        ),
        Target(
            "coc_all_staff",
            0.20,
            "kontinuitetsindex for the patient's total contacts (all staff) shall increase by 20 %",
            "methods reference §1.9 (agreement text not read)",
            False,
        ),
        Target(
            "named_doctor",
            0.55,
            "55 % of the population shall have a named fast läkarkontakt in primary care before "
            "the end of 2022",
            "Vårdanalys PM 2022:5; Läkartidningen 2022-10; methods reference §1.11",
            True,
        ),
        Target(
            "named_doctor_special_housing",
            0.80,
            "80 % of people in särskilt boende för äldre shall have a fast läkarkontakt",
            "methods reference §1.11 (unverified)",
            False,
        ),
        Target(
            "varmland_rule",
            0.5,
            "more than 3 physical physician visits; most-seen physician in more than half of them",
            "project requirements; methods reference §1.10 (no source document found)",
            False,
        ),
    )
}
