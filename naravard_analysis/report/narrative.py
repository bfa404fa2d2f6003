"""Sentences generated from numbers, in Swedish or English.

A report's text must never go stale: every claim around a figure is written by these functions
from the numbers the figure shows (after suppression), so a re-run for another region or year says
what *its* numbers say. Each function returns Markdown; missing (suppressed) values give a sentence
that says so instead of a number.

Examples
--------
>>> describe_change("Continuity index (COC)", 2019, 0.42, 2023, 0.47, language="en", decimals=2)
'Continuity index (COC) was 0.42 in 2019 and 0.47 in 2023, an increase of 11.9 %.'
>>> describe_ratio("Unplanned admissions", 0.78, 0.65, 0.94, language="sv")
'Unplanned admissions: kvot 0,78 (95 % KI 0,65–0,94), en minskning med 22 % som inte förklaras av slumpen (intervallet innehåller inte 1).'
"""

from __future__ import annotations

import math
import re

import pandas as pd

from naravard_analysis.core.defaults import DEFAULT_LANGUAGE
from naravard_analysis.report.labels import check_language, format_number

__all__ = [
    "describe_change",
    "describe_count",
    "describe_target",
    "describe_ratio",
    "describe_rate",
    "describe_series",
]


def _missing(x: float | None) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def describe_count(n: object, min_count: int, *, language: str = DEFAULT_LANGUAGE) -> str:
    """A count for running text under the same rule as the tables' cells.

    A count ``1 <= n < min_count`` is never written: the text says "färre än 5" ("fewer than
    5"); a count that is missing (hidden in the table it comes from, or withheld so that text and
    table cannot be differenced) reads "ett ej redovisat antal" ("an unreported number of").
    Zero and counts of at least ``min_count`` are written as numbers.

    >>> describe_count(1, 5, language="sv"), describe_count(None, 5, language="en")
    ('färre än 5', 'an unreported number of')
    >>> describe_count(1234, 5, language="en")
    '1,234'
    """
    check_language(language)
    sv = language == "sv"
    if n is None or n is pd.NA or (isinstance(n, float) and math.isnan(n)):
        return "ett ej redovisat antal" if sv else "an unreported number of"
    value = float(n)
    if 0 < value < min_count:
        return f"färre än {min_count}" if sv else f"fewer than {min_count}"
    return format_number(value, language, decimals=0)


def describe_change(
    what: str,
    first_period: object,
    first_value: float | None,
    last_period: object,
    last_value: float | None,
    *,
    language: str = DEFAULT_LANGUAGE,
    decimals: int = 1,
    unit: str = "",
    points: bool = False,
) -> str:
    """``what`` was A in P1 and B in P2, an increase/decrease of x % -- or of x percentage points
    when ``points`` (for values that are themselves percentages)."""
    check_language(language)
    sv = language == "sv"
    if _missing(first_value) or _missing(last_value):
        return (
            f"{what}: värdet visas inte för alla år (röjandeskydd eller för få uppgifter)."
            if sv
            else f"{what}: not shown for every year (disclosure control or too few data)."
        )
    a = format_number(first_value, language, decimals=decimals) + unit
    b = format_number(last_value, language, decimals=decimals) + unit
    text = (
        f"{what} var {a} {_when(first_period)} och {b} {_when(last_period)}"
        if sv
        else f"{what} was {a} in {first_period} and {b} in {last_period}"
    )
    if points:
        diff = last_value - first_value
        if abs(diff) < 0.05:
            return text + (", oförändrat." if sv else ", unchanged.")
        size = format_number(abs(diff), language, decimals=1)
        if sv:
            return text + f", en {'ökning' if diff > 0 else 'minskning'} med {size} procentenheter."
        return text + f", {'an increase' if diff > 0 else 'a decrease'} of {size} percentage points."
    if first_value == 0:
        return text + "."
    change = 100 * (last_value - first_value) / abs(first_value)
    if abs(change) < 0.05:
        return text + (", oförändrat." if sv else ", unchanged.")
    size = format_number(abs(change), language, decimals=1)
    if sv:
        return text + f", en {'ökning' if change > 0 else 'minskning'} med {size} %."
    return text + (f", an increase of {size} %." if change > 0 else f", a decrease of {size} %.")


def _when(period: object) -> str:
    """Swedish time phrase: "år 2016" for a year, the period itself otherwise."""
    text = str(period)
    return f"år {text}" if re.fullmatch(r"[12][0-9]{3}", text) else text


def describe_target(
    what: str, value: float | None, target: float, period: object, *, language: str = DEFAULT_LANGUAGE,
    percent: bool = True,
) -> str:
    """Whether ``value`` in ``period`` reaches ``target`` (shares given as 0–1 when ``percent``)."""
    check_language(language)
    sv = language == "sv"
    if _missing(value):
        return f"{what} {period}: visas inte." if sv else f"{what} {period}: not shown."
    scale, suffix = (100.0, " %") if percent else (1.0, "")
    v = format_number(value * scale, language, decimals=1) + suffix
    t = format_number(target * scale, language, decimals=0) + suffix
    met = value >= target
    if sv:
        return f"{what} {_when(period)} var {v}, {'vilket når' if met else 'under'} målet {t}."
    return f"{what} in {period} was {v}, {'meeting' if met else 'below'} the target of {t}."


def describe_ratio(
    what: str, estimate: float | None, lower: float | None, upper: float | None, *,
    language: str = DEFAULT_LANGUAGE, level: float = 0.95,
) -> str:
    """A ratio with its interval, and whether the interval excludes 1."""
    check_language(language)
    sv = language == "sv"
    if any(_missing(x) for x in (estimate, lower, upper)):
        return f"{what}: kan inte skattas." if sv else f"{what}: cannot be estimated."
    est, lo, hi = (format_number(x, language, decimals=2) for x in (estimate, lower, upper))
    pct = format_number(abs(1 - estimate) * 100, language, decimals=0)
    lvl = format_number(level * 100, language, decimals=0)
    if sv:
        head = f"{what}: kvot {est} ({lvl} % KI {lo}–{hi})"
        direction = "minskning" if estimate < 1 else "ökning"
        if lower > 1 or upper < 1:
            return head + f", en {direction} med {pct} % som inte förklaras av slumpen (intervallet innehåller inte 1)."
        return head + "; intervallet innehåller 1, så data visar ingen säker effekt."
    head = f"{what}: ratio {est} ({lvl}% CI {lo}–{hi})"
    direction = "decrease" if estimate < 1 else "increase"
    if lower > 1 or upper < 1:
        article = "a" if direction == "decrease" else "an"
        return head + f", {article} {direction} of {pct}% that chance does not explain (the interval excludes 1)."
    return head + "; the interval includes 1, so the data show no certain effect."


def describe_rate(
    what: str, rate: float | None, lower: float | None, upper: float | None, period: object, *,
    language: str = DEFAULT_LANGUAGE, per: str = "", decimals: int = 1,
) -> str:
    """A rate with its interval for one period."""
    check_language(language)
    sv = language == "sv"
    if _missing(rate):
        return f"{what} {period}: visas inte (röjandeskydd)." if sv else f"{what} {period}: not shown (disclosure control)."
    r = format_number(rate, language, decimals=decimals)
    if _missing(lower) or _missing(upper):
        return f"{what} {period}: {r}{per}."
    lo = format_number(lower, language, decimals=decimals)
    hi = format_number(upper, language, decimals=decimals)
    return (
        f"{what} {_when(period)}: {r}{per} (95 % KI {lo}–{hi})."
        if sv
        else f"{what} in {period}: {r}{per} (95% CI {lo}–{hi})."
    )


def describe_series(
    data: pd.DataFrame,
    *,
    x: str,
    y: str,
    what: str,
    language: str = DEFAULT_LANGUAGE,
    lower: str | None = None,
    upper: str | None = None,
    target: float | None = None,
    percent: bool = False,
    decimals: int = 1,
    per: str = "",
) -> str:
    """Two or three sentences on a series: first vs last value, the last value with its interval,
    and (when ``target`` is given) whether the last value meets it.

    Rows are ordered by ``x``; rows whose ``y`` was suppressed are skipped and the sentence says
    which periods are compared.
    """
    check_language(language)
    shown = data.sort_values(x)
    shown = shown[shown[y].notna()]
    if shown.empty:
        return describe_change(what, "", None, "", None, language=language)
    def at(col: str, i: int) -> float:
        return float(shown[col].iloc[i])

    p_first, p_last = _period(shown[x].iloc[0]), _period(shown[x].iloc[-1])
    scale, unit = (100.0, " %") if percent else (1.0, "")
    parts = [
        describe_change(
            what, p_first, at(y, 0) * scale, p_last, at(y, -1) * scale,
            language=language, decimals=decimals, unit=unit, points=percent,
        )
    ]
    if lower and upper:
        parts.append(
            describe_rate(
                what, at(y, -1) * scale, at(lower, -1) * scale, at(upper, -1) * scale, p_last,
                language=language, per=per or unit, decimals=decimals,
            )
        )
    if target is not None:
        parts.append(describe_target(what, at(y, -1), target, p_last, language=language, percent=percent))
    return " ".join(parts)


def _period(value: object) -> str:
    """Readable period label: 2022, 2022-03 (month starts) or an ISO date."""
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m") if value.day == 1 else value.strftime("%Y-%m-%d")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
