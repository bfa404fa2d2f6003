"""Named defaults shared by the indicators: readable in signatures and reprs.

A parameter whose default depends on another argument (the readmission variant, the definition
that made avoidable-care flags) cannot show a number in its signature. It shows
``DEFINITION_DEFAULT`` instead of an anonymous ``<object object at 0x…>``, and ``None`` keeps its
own meaning (no limit).

Examples
--------
>>> from naravard_analysis.core.defaults import DEFINITION_DEFAULT, resolve
>>> DEFINITION_DEFAULT
DEFINITION_DEFAULT
>>> resolve(DEFINITION_DEFAULT, 65), resolve(None, 65), resolve(18, 65)
(65, None, 18)
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any, TypeVar

__all__ = ["DEFAULT_LANGUAGE", "DEFINITION_DEFAULT", "DefinitionDefault", "as_columns", "resolve"]

#: The one default language of every text, label, figure and table the package writes: Swedish,
#: the language of the reports the package serves (regional FoU units, Socialstyrelsen's
#: indicators). Every ``language=`` parameter defaults to it; pass ``language="en"`` for English.
DEFAULT_LANGUAGE = "sv"

T = TypeVar("T")


class DefinitionDefault(enum.Enum):
    """The sentinel type: "take the value from the definition in force"."""

    DEFINITION_DEFAULT = "definition default"

    def __repr__(self) -> str:  # shown in help() and inspect.signature
        return "DEFINITION_DEFAULT"

    __str__ = __repr__


#: Default of a parameter that follows the chosen definition (see each function's docstring).
DEFINITION_DEFAULT = DefinitionDefault.DEFINITION_DEFAULT


def resolve(value: Any, definition_value: T) -> Any:
    """``definition_value`` when ``value`` is :data:`DEFINITION_DEFAULT`, else ``value``."""
    return definition_value if value is DEFINITION_DEFAULT else value


def as_columns(by: str | Sequence[str] | None) -> list[str]:
    """A ``by=`` argument as a list of column names: one name, a sequence of names, or none.

    Every public ``by=`` accepts a single column name; iterating a string would read it letter by
    letter (``"year"`` -> ``y``, ``e``, ``a``, ``r``).

    >>> as_columns("year"), as_columns(("year", "sex")), as_columns(None)
    (['year'], ['year', 'sex'], [])
    """
    if by is None:
        return []
    if isinstance(by, str):
        return [by]
    return list(by)
