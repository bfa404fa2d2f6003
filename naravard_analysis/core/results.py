"""One protocol for every result object the package returns.

Modelled on the effect summaries of CausalPy and the fitters of lifelines: whatever the method, a
result shows the same five faces.

* ``.table`` -- a DataFrame of the estimates; intervals are ``lower``/``upper`` (for a second
  quantity of the same table ``<name>_lower``/``<name>_upper``) at the confidence ``level`` given
  in ``.settings``;
* ``.settings`` -- a dict of the parameters the result was computed with;
* ``.summary(language=...)`` -- plain text (``"sv"``, the package's default, or ``"en"``);
* ``_repr_html_()`` -- a readable HTML view for JupyterLab;
* ``__repr__()`` -- one short line.

:class:`Result` states the protocol (``isinstance(obj, Result)`` checks the names);
:class:`ResultDisplay` is a mixin that builds the text, HTML and short repr from ``table``,
``settings`` and a class-level title, so a result class only supplies its numbers. Methods return
numbers and result objects; prose beyond a title and the settings belongs to the report layer.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from naravard_analysis.core.defaults import DEFAULT_LANGUAGE
from naravard_analysis.errors import ParameterError

__all__ = ["LANGUAGES", "Result", "ResultDisplay", "check_language", "interval_problems"]

#: Languages of ``summary`` and of the HTML view.
LANGUAGES = ("sv", "en")
_SETTINGS_WORD = {"en": "settings", "sv": "inställningar"}
_MAX_REPR = 120


def check_language(language: object) -> str:
    """Return ``language`` if it is one of :data:`LANGUAGES`, else raise :class:`ParameterError`.

    Examples
    --------
    >>> check_language("sv")
    'sv'
    """
    if language not in LANGUAGES:
        raise ParameterError(f"language must be one of {LANGUAGES}, got {language!r}")
    return str(language)


@runtime_checkable
class Result(Protocol):
    """What every public result object offers (see the module docstring)."""

    @property
    def table(self) -> pd.DataFrame: ...

    @property
    def settings(self) -> dict[str, Any]: ...

    def summary(self, language: str = DEFAULT_LANGUAGE) -> str: ...

    def _repr_html_(self) -> str: ...


def _format_setting(value: object) -> str:
    if isinstance(value, float | np.floating):
        return f"{float(value):.4g}"
    if isinstance(value, list | tuple) and len(value) > 6:
        return f"[{', '.join(map(str, value[:6]))}, ... ({len(value)})]"
    return str(value)


def _settings_line(settings: Mapping[str, Any]) -> str:
    return "; ".join(f"{k} = {_format_setting(v)}" for k, v in settings.items())


def _float_format(v: float) -> str:
    return f"{v:.4f}"


class ResultDisplay:
    """Mixin: ``summary``, ``_repr_html_`` and a short ``__repr__`` from ``table`` and ``settings``.

    A class sets ``_TITLE = {"en": ..., "sv": ...}`` and may override ``_repr_facts`` (the few
    ``name=value`` pairs of its one-line repr) or ``_summary_lines`` (lines printed above the
    table). Dataclasses that use it need ``@dataclass(repr=False)`` so the short repr is kept.

    Examples
    --------
    >>> import pandas as pd
    >>> class Mean(ResultDisplay):
    ...     _TITLE = {"en": "Mean", "sv": "Medelvärde"}
    ...     table = pd.DataFrame({"estimate": [2.0], "lower": [1.0], "upper": [3.0]})
    ...     settings = {"level": 0.95}
    >>> print(Mean().summary("sv"))
    Medelvärde
    inställningar: level = 0.95
     estimate  lower  upper
       2.0000 1.0000 3.0000
    >>> Mean()
    <Mean estimate=2 lower=1 upper=3>
    """

    _TITLE: ClassVar[Mapping[str, str]] = {"en": "Result", "sv": "Resultat"}

    def _summary_lines(self, language: str) -> list[str]:
        """Lines above the table: the title and the settings."""
        settings = self.settings
        return [self._TITLE[language], f"{_SETTINGS_WORD[language]}: {_settings_line(settings)}"]

    def summary(self, language: str = DEFAULT_LANGUAGE) -> str:
        """Plain text: title, settings and the table (``language`` ``"sv"`` or ``"en"``)."""
        check_language(language)
        table = self.table
        with pd.option_context("display.width", 160, "display.max_columns", 30):
            text = table.to_string(index=not isinstance(table.index, pd.RangeIndex),
                                   float_format=_float_format)
        return "\n".join([*self._summary_lines(language), text])

    def _repr_html_(self) -> str:
        table = self.table
        head = "<br>".join(html.escape(s) for s in self._summary_lines(DEFAULT_LANGUAGE))
        return f"<p>{head}</p>" + table.to_html(
            index=not isinstance(table.index, pd.RangeIndex), float_format=_float_format,
            max_rows=40, na_rep="")

    def _repr_facts(self) -> dict[str, Any]:
        """``name=value`` pairs of the one-line repr: the first row's estimate and interval."""
        table = self.table
        if len(table) != 1:
            return {"rows": len(table)}
        row = table.iloc[0]
        keys = [c for c in ("term", "estimate", "att", "ratio", "lower", "upper") if c in row.index]
        return {k: row[k] for k in keys} or {"rows": 1}

    def __repr__(self) -> str:
        facts = " ".join(f"{k}={_format_setting(v)}" for k, v in self._repr_facts().items())
        text = f"<{type(self).__name__} {facts}>"
        return text if len(text) <= _MAX_REPR else text[: _MAX_REPR - 4] + "...>"


_FOREIGN = re.compile(r"(^|_)(ci|lcl|ucl|ll|ul|lo|hi|low|high|lower_ci|upper_ci|lower95|upper95)($|_)")


def interval_problems(table: pd.DataFrame) -> list[str]:
    """Interval columns of ``table`` that break the contract (empty list when none do).

    The contract: ``lower``/``upper``, or ``<name>_lower``/``<name>_upper``, always in pairs; no
    ``ci_low``, ``ci_upper``, ``lcl`` ... names.

    Examples
    --------
    >>> import pandas as pd
    >>> interval_problems(pd.DataFrame(columns=["rate", "ci_low", "ci_high", "share_lower"]))
    ["'ci_low' is not named lower/upper", "'ci_high' is not named lower/upper", "'share_lower' has no 'share_upper'"]
    """
    cols = [str(c) for c in table.columns]
    out = [f"{c!r} is not named lower/upper" for c in cols if _FOREIGN.search(c.casefold())
           and not c.endswith(("_suppressed",))]
    for c in cols:
        for a, b in (("lower", "upper"), ("upper", "lower")):
            if c == a or c.endswith("_" + a):
                twin = c[: len(c) - len(a)] + b
                if twin not in cols:
                    out.append(f"{c!r} has no {twin!r}")
    return out
