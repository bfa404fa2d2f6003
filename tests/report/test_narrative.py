"""Generated sentences follow the numbers (each expected sentence worked out from its inputs)."""

from naravard_analysis.report.narrative import (
    describe_change,
    describe_rate,
    describe_ratio,
    describe_target,
)


def test_change_sentences():
    # (0.47 - 0.42) / 0.42 = 11.90 %
    assert describe_change("COC", 2019, 0.42, 2023, 0.47, language="en", decimals=2) == (
        "COC was 0.42 in 2019 and 0.47 in 2023, an increase of 11.9 %."
    )
    # (80 - 100) / 100 = -20 %
    assert describe_change("Besök", 2019, 100.0, 2023, 80.0, language="sv", decimals=0) == (
        "Besök var 100 år 2019 och 80 år 2023, en minskning med 20,0 %."
    )
    assert "not shown" in describe_change("X", 2019, float("nan"), 2023, 1.0, language="en")


def test_target_sentences():
    assert describe_target("Andel med fast läkarkontakt", 0.481, 0.55, 2022) == (
        "Andel med fast läkarkontakt år 2022 var 48,1 %, under målet 55 %."
    )
    assert describe_target("Named doctor", 0.6, 0.55, 2022, language="en").endswith("meeting the target of 55 %.")


def test_ratio_sentences():
    assert describe_ratio("ED visits", 1.03, 0.91, 1.17, language="en") == (
        "ED visits: ratio 1.03 (95% CI 0.91–1.17); the interval includes 1, so the data show no certain effect."
    )
    assert "a decrease of 22%" in describe_ratio("A", 0.78, 0.65, 0.94, language="en")
    assert "kan inte skattas" in describe_ratio("A", None, 0.1, 0.2)


def test_rate_sentences():
    assert describe_rate("Rate", 512.34, 480.0, 546.1, 2021, language="en", per=" per 100,000") == (
        "Rate in 2021: 512.3 per 100,000 (95% CI 480.0–546.1)."
    )


def test_series_sentences_skip_suppressed_rows():
    import pandas as pd

    from naravard_analysis.report.narrative import describe_series

    df = pd.DataFrame({"year": [2021, 2019, 2020, 2022], "share": [0.30, 0.20, None, 0.50],
                       "lo": [0.28, 0.18, None, 0.45], "hi": [0.32, 0.22, None, 0.55]})
    text = describe_series(df, x="year", y="share", what="Share", language="en", lower="lo", upper="hi",
                           target=0.55, percent=True)
    # 20 % -> 50 % is +30 percentage points; last year 2022 with its interval; 0.50 < 0.55 target
    assert text == (
        "Share was 20.0 % in 2019 and 50.0 % in 2022, an increase of 30.0 percentage points. "
        "Share in 2022: 50.0 % (95% CI 45.0–55.0). "
        "Share in 2022 was 50.0 %, below the target of 55 %."
    )
