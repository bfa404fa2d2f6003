"""ListingEffect.summary: the words come from the one text store, the sentences stay the same."""

from __future__ import annotations

import pandas as pd
import pytest

from naravard_analysis.errors import ParameterError
from naravard_analysis.methods.listing_effect import ListingEffect


def _effect(design: str, level: float, adjust: tuple[str, ...]) -> ListingEffect:
    return ListingEffect(estimate=0.7712, lower=0.5649, upper=1234.5, p_value=0.1, crude=1.0701,
                         cells=pd.DataFrame(), totals=pd.DataFrame(), outcome="avoidable_admissions",
                         adjust=adjust, design=design, estimate_itt=0.5049,
                         settings={"level": level, "window_months": 12})


# The expected texts are those ListingEffect.summary wrote with its sentences inline (before they
# moved to core.labels): the move must not change a byte.
EXPECTED = {
    ("trial", 0.9, ("age",)): (
        "Avoidable admissions under 12 månader efter att en fast läkarkontakt getts, jämfört med ännu "
        "inte (samma vårdcentral och månad, samma tidigare vårdkonsumtion): kvot 0,77 "
        "(90 % KI 0,56–1\xa0234,50; avsikt att behandla 0,50).",
        "Avoidable admissions over 12 months after getting a named doctor vs not yet (same unit and "
        "month, same earlier use of care): rate ratio 0.77 (90% CI 0.56-1,234.50; intention to treat 0.50).",
    ),
    ("poisson", 0.975, ("age", "sex")): (
        "Avoidable admissions: kvot med/utan fast läkarkontakt 0,77 (97,5 % KI 0,56–1\xa0234,50; "
        "ojusterad 1,07), justerat för år och age, sex. Ett samband, inte en bevisad effekt.",
        "Avoidable admissions: rate ratio with/without a named doctor 0.77 (97.5% CI 0.56-1,234.50; "
        "crude 1.07), adjusted for year and age, sex. An association, not a proven effect.",
    ),
    ("poisson", 0.95, ()): (
        "Avoidable admissions: kvot med/utan fast läkarkontakt 0,77 (95 % KI 0,56–1\xa0234,50; "
        "ojusterad 1,07), justerat för år och inget annat. Ett samband, inte en bevisad effekt.",
        "Avoidable admissions: rate ratio with/without a named doctor 0.77 (95% CI 0.56-1,234.50; "
        "crude 1.07), adjusted for year and nothing else. An association, not a proven effect.",
    ),
}


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_summary_text(case):
    effect = _effect(*case)
    assert (effect.summary("sv"), effect.summary("en")) == EXPECTED[case]
    assert effect.summary() == EXPECTED[case][0]  # Swedish by default


def test_summary_refuses_an_unknown_language():
    with pytest.raises(ParameterError, match="language"):
        _effect("trial", 0.95, ()).summary("de")
