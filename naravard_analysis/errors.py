"""Exceptions and warnings raised by naravard_analysis.

Every error the package raises on bad input is a subclass of :class:`NaravardError`, so a notebook or
a batch runner can catch the whole family in one place. Messages name the table, the column, the rule
that was broken and how many rows break it, with at most five example *row positions* -- never an
identifier in clear.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "NaravardError",
    "SchemaError",
    "IdentifierError",
    "ReadError",
    "ParameterError",
    "IntegrityError",
    "DisclosureError",
    "DataWarning",
    "format_examples",
]


class NaravardError(Exception):
    """Base class of every error raised by naravard_analysis."""


def format_examples(positions: Sequence[int], limit: int = 5, total: int | None = None) -> str:
    """Render up to ``limit`` row positions, e.g. ``"rows 0, 4, 9"`` (``...`` when more break)."""
    shown = [str(int(p)) for p in list(positions)[:limit]]
    total = len(positions) if total is None else total
    more = "" if total <= len(shown) else ", ..."
    return ("row " if len(shown) == 1 else "rows ") + ", ".join(shown) + more


class SchemaError(NaravardError, ValueError):
    """A table breaks a rule of its canonical schema.

    Parameters
    ----------
    table, column, rule
        Where the problem is and what rule it breaks.
    n_rows
        How many rows break the rule.
    examples
        Row positions (0-based, in the table as given) of up to five offending rows.
    """

    def __init__(
        self,
        table: str,
        column: str | None,
        rule: str,
        n_rows: int = 0,
        examples: Sequence[int] = (),
        hint: str = "",
    ) -> None:
        self.table = table
        self.column = column
        self.rule = rule
        self.n_rows = int(n_rows)
        self.examples = [int(e) for e in list(examples)[:5]]
        where = f"{table}.{column}" if column else table
        msg = f"{where}: {rule}"
        if n_rows:
            msg += f" -- {self.n_rows} row{'s' if self.n_rows != 1 else ''} break{'s' if self.n_rows == 1 else ''} it"
            if self.examples:
                msg += f" ({format_examples(self.examples, total=self.n_rows)})"
        if hint:
            msg += f". {hint}"
        super().__init__(msg)


class IdentifierError(SchemaError):
    """Clear-text personnummer (or samordningsnummer) found where none may be."""


class ReadError(NaravardError, ValueError):
    """A file cannot be read safely (empty, truncated, wrong encoding, mixed separators ...)."""


class ParameterError(NaravardError, ValueError):
    """A notebook or function parameter is invalid (caught before any kernel starts)."""


class DisclosureError(NaravardError, ValueError):
    """An output would publish a small count or an identity number (see report.disclosure)."""

    report: object = None


class IntegrityError(NaravardError):
    """A written bundle or output no longer matches its manifest (hash or row count)."""


class DataWarning(UserWarning):
    """A recoverable data issue that was handled and counted (e.g. an unknown extra column)."""
