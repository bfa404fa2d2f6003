"""Every figure type is read back from its SVG like an adversary would, and gives nothing away.

The reader (tests/report/attack.py) maps the axis ticks' pixel positions to their labels and
turns every marker, line vertex, band vertex and bar edge back into a data value. A figure may
hold only values its CSV publishes; a suppressed cell must not be drawn.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from naravard_analysis.errors import DisclosureError
from naravard_analysis.report.disclosure import DisclosureRegistry, suppress
from naravard_analysis.report.figures import (
    plot_bars,
    plot_forest,
    plot_its,
    plot_lines,
    read_csv,
    save_figure,
    set_theme,
)
from naravard_analysis.report.tables import write_tables

sys.path.insert(0, str(Path(__file__).parent))
from attack import read_svg, unpublished_marks  # noqa: E402


@pytest.fixture(autouse=True)
def _theme():
    set_theme()


def _monthly(hidden_at=(3, 7, 20)):
    """Two years of monthly counts, a few of them small (the months an attacker wants)."""
    rng = np.random.default_rng(1)
    events = rng.integers(8, 30, 24)
    events[list(hidden_at)] = [2, 4, 3][: len(hidden_at)]
    period = pd.date_range("2022-01-01", periods=24, freq="MS")
    pop = np.full(24, 4321.0)
    return pd.DataFrame({"period": period, "events": events, "population": pop})


def _its_table(series: pd.DataFrame) -> pd.DataFrame:
    per = 100_000 / series["population"]
    trend = np.linspace(10, 20, len(series))
    post = series["period"] >= "2023-01-01"
    return series.assign(
        rate=series["events"] * per,
        fitted_rate=trend * per,
        counterfactual_rate=np.where(post, trend * 0.9 * per, np.nan),
        counterfactual_lower=np.where(post, trend * 0.8 * per, np.nan),
        counterfactual_upper=np.where(post, trend * 1.1 * per, np.nan),
        excluded=False,
    )


def _recovered_counts(svg: Path, population: float, min_count: int) -> set[int]:
    """The issue's attack: marker heights x population / 100 000 that come out as whole small counts."""
    found = set()
    for ax in read_svg(svg):
        for v in ax.values("y"):
            n = v * population / 100_000
            if abs(n - round(n)) < 0.02 and 1 <= round(n) < min_count:
                found.add(int(round(n)))
    return found


def test_attack_recovers_hidden_months_from_a_figure_drawn_from_unsuppressed_data(tmp_path):
    # The reader is strong enough: the leak of issue 14 (markers drawn from raw data) is found.
    raw = _its_table(_monthly())
    safe = suppress(raw, ["events", "population"], min_count=5, secondary=False,
                    rate_cols={"rate": ["events", "population"]})
    fig = plot_its(raw, interruption="2023-01-01", language="en")  # drawn from the raw numbers
    paths = save_figure(fig, safe, "leaky", tmp_path, count_cols=["events", "population"])
    assert _recovered_counts(paths["svg"], 4321.0, 5) == {2, 3, 4}
    assert unpublished_marks(paths["svg"], read_csv(paths["csv"]))  # values not in the CSV


def test_its_figure_from_the_suppressed_table_gives_no_hidden_month_back(tmp_path):
    raw = _its_table(_monthly())
    safe = suppress(raw, ["events", "population"], min_count=5, secondary=False,
                    rate_cols={"rate": ["events", "population"]})
    paths = save_figure(plot_its(safe, interruption="2023-01-01", language="sv"), safe, "its", tmp_path,
                        count_cols=["events", "population"])
    assert _recovered_counts(paths["svg"], 4321.0, 5) == set()
    assert unpublished_marks(paths["svg"], read_csv(paths["csv"])) == []
    # visible months are still drawn and readable (the reader is not simply blind)
    ys = read_svg(paths["svg"])[0].values("y")
    assert np.isclose(ys[:, None], safe["rate"].dropna().to_numpy()[None, :], rtol=1e-3).any(axis=0).all()


def test_line_figures_with_bands_targets_and_groups_hold_only_published_values(tmp_path):
    rng = np.random.default_rng(2)
    df = pd.DataFrame({
        "year": np.repeat(np.arange(2016, 2024), 2),
        "group": ["a", "b"] * 8,
        "events": rng.integers(5, 60, 16),
        "population": rng.integers(300, 900, 16),
    })
    df.loc[[3, 8, 13], "events"] = [1, 2, 4]
    df["share"] = df["events"] / df["population"]
    df["lower"], df["upper"] = df["share"] * 0.8, df["share"] * 1.2
    safe = suppress(df, ["events", "population"], min_count=5, secondary=False,
                    rate_cols={"share": ["events", "population"]})
    assert safe["share"].isna().sum() == 3
    fig = plot_lines(safe, x="year", y="share", hue="group", lower="lower", upper="upper", target=0.05,
                     percent=True, language="sv")
    paths = save_figure(fig, safe.assign(), "lines", tmp_path, count_cols=["events", "population"])
    csv = read_csv(paths["csv"])
    assert unpublished_marks(paths["svg"], csv, constants=(5.0,)) == []  # the target, 5 %
    hidden_true = df.loc[[3, 8, 13], ["share", "lower", "upper"]].to_numpy().ravel()
    drawn = np.concatenate([ax.values("y") for ax in read_svg(paths["svg"])])
    assert not np.isclose(drawn[:, None], hidden_true[None, :], rtol=1e-3).any()


def test_bar_figure_holds_only_published_values(tmp_path):
    df = pd.DataFrame({"unit": list("ABCDE"), "visits": [40, 3, 25, 2, 60]})
    safe = suppress(df, ["visits"], min_count=5, secondary=False)
    paths = save_figure(plot_bars(safe, x="unit", y="visits", language="en"), safe, "bars", tmp_path,
                        count_cols=["visits"])
    drawn = np.concatenate([ax.values("y") for ax in read_svg(paths["svg"])])
    assert not np.isclose(drawn[:, None], [2.0, 3.0], atol=0.05).any()
    assert unpublished_marks(paths["svg"], read_csv(paths["csv"]), scales=(1.0,)) == []


def test_forest_figure_hides_the_naive_ratio_with_its_counts(tmp_path):
    df = pd.DataFrame({
        "outcome": ["unplanned_admissions", "ed_visits", "bed_days"],
        "n_enrolled": [3, 3, 3], "n_cases": [40, 40, 40], "n_controls": [120, 120, 120],
        "naive_ratio": [1 / 16, 2 / 19, 0.5], "estimate": [0.9, 1.1, 0.8],
        "lower": [0.7, 0.9, 0.6], "upper": [1.2, 1.3, 1.05],
    })
    safe = suppress(df, ["n_enrolled", "n_cases", "n_controls"], min_count=5, secondary=False,
                    rate_cols={"naive_ratio": ["n_enrolled"], "estimate": ["n_cases", "n_controls"]})
    assert safe["naive_ratio"].isna().all()
    fig = plot_forest(safe, label_col="outcome", estimate="estimate", lower="lower", upper="upper",
                      naive="naive_ratio", language="en")
    paths = save_figure(fig, safe, "forest", tmp_path, count_cols=["n_enrolled", "n_cases", "n_controls"])
    drawn = np.concatenate([ax.values("x") for ax in read_svg(paths["svg"])])
    assert not np.isclose(drawn[:, None], [1 / 16, 2 / 19, 0.5], rtol=1e-3).any()
    assert unpublished_marks(paths["svg"], read_csv(paths["csv"]), constants=(1.0,)) == []  # 1: reference


def test_columns_added_after_suppress_are_refused_by_every_writer(tmp_path):
    raw = pd.DataFrame({"year": [2020, 2021, 2022], "events": [40, 3, 25], "population": [900, 880, 870]})
    safe = suppress(raw, ["events", "population"], min_count=5, secondary=False)
    added = safe.assign(rate=raw["events"] / raw["population"])  # attrs travel along
    with pytest.raises(DisclosureError, match=r"column\(s\) \['rate'\] were added after suppress"):
        save_figure(plot_lines(added, x="year", y="rate"), added, "f", tmp_path, count_cols=["events"])
    with pytest.raises(DisclosureError, match="added after suppress"):
        write_tables({"t": added}, tmp_path / "t.xlsx", count_cols=["events"])
    changed = safe.copy()
    changed.loc[1, "events"] = 3
    with pytest.raises(DisclosureError, match=r"1 row\(s\) differ"):
        write_tables({"t": changed}, tmp_path / "t.xlsx")
    assert not (tmp_path / "t.xlsx").exists()
    # dropping or reordering rows and columns of a checked table is fine
    subset = safe.iloc[[2, 0]][["year", "events", "events_suppressed"]]
    write_tables({"t": subset}, tmp_path / "ok.xlsx")


def test_total_figure_and_by_sex_figure_do_not_give_f_as_total_minus_m(tmp_path):
    """Issue 14 point 7: a total per year in one figure and M per year in another."""
    reg = DisclosureRegistry(min_count=5)
    total = pd.DataFrame({"year": [2021, 2022, 2023], "admissions": [30, 11, 40]})
    by_sex = pd.DataFrame({"year": [2021, 2021, 2022, 2022, 2023, 2023], "sex": ["F", "M"] * 3,
                           "admissions": [14, 16, 3, 8, 22, 18]})
    t = reg.publish("total", total, "admissions", measures={"admissions": "admissions"}, dims=["year"])
    s = reg.publish("by_sex", by_sex, "admissions", measures={"admissions": "admissions"}, dims=["year", "sex"])
    # the attack: F = total - M for every year where total and M are visible and F hidden
    merged = s.pivot(index="year", columns="sex", values="admissions").join(t.set_index("year")["admissions"])
    for _, row in merged.iterrows():
        assert not (pd.isna(row["F"]) and pd.notna(row["M"]) and pd.notna(row["admissions"]))
    assert s["admissions"].isna().sum() == 2  # F 2022 (3, primary) and M 2022 (its complement)
    for name, table, hue in (("total", t, None), ("by_sex", s, "sex")):
        paths = save_figure(plot_bars(table, x="year", y="admissions", hue=hue), table, name, tmp_path,
                            count_cols=["admissions"], registry=reg)
        assert unpublished_marks(paths["svg"], read_csv(paths["csv"]), scales=(1.0,)) == []
    write_tables(reg.tables, tmp_path / "report.xlsx", registry=reg)
    # a table suppressed on its own, outside the report's registry, is refused
    alone = suppress(by_sex, "admissions", dims=["year", "sex"])
    with pytest.raises(DisclosureError, match="not published through this report's disclosure registry"):
        save_figure(plot_bars(alone, x="year", y="admissions"), alone, "alone", tmp_path, registry=reg)


def test_a_later_table_cannot_reveal_what_an_earlier_one_hid(tmp_path):
    reg = DisclosureRegistry(min_count=5)
    by_sex = pd.DataFrame({"year": [2022, 2022], "sex": ["F", "M"], "n": [3, 9]})
    first = reg.publish("by_sex", by_sex, "n", measures={"n": "persons"}, dims=["year", "sex"])
    assert first["n"].isna().tolist() == [True, False]
    # the total comes later: it may not be shown, since 12 - 9 = 3 (M is already public)
    total = reg.publish("total", pd.DataFrame({"year": [2022], "n": [12]}), "n",
                        measures={"n": "persons"}, dims=["year"])
    assert total["n"].isna().all()
    assert first["n"].tolist()[1] == 9  # nothing written earlier changes


def test_the_same_measure_with_different_values_is_an_error():
    from naravard_analysis.errors import ParameterError

    reg = DisclosureRegistry(min_count=5)
    reg.publish("a", pd.DataFrame({"year": [2022], "n": [12]}), "n", measures={"n": "x"}, dims=["year"])
    with pytest.raises(ParameterError, match="different values in different tables"):
        reg.publish("b", pd.DataFrame({"year": [2022], "n": [13]}), "n", measures={"n": "x"}, dims=["year"])


def test_an_integer_percentage_beside_a_hidden_count_is_hidden():
    df = pd.DataFrame({"unit": ["A", "B"], "n": [3, 40], "pct": [4, 52]})
    safe = suppress(df, "n", min_count=5, secondary=False)
    assert safe["pct"].isna().tolist() == [True, False]


def test_counterfactual_and_country_are_not_count_columns():
    from naravard_analysis.report.disclosure import is_count_column

    assert not is_count_column("counterfactual")
    assert not is_count_column("country")
    assert is_count_column("count_events") and is_count_column("counts")


def test_a_methods_own_plot_drawn_from_raw_numbers_is_refused_when_anything_is_hidden(tmp_path):
    """Notebooks draw ITS and event-study figures with the result's plot(), from raw numbers."""
    from naravard_analysis.methods.its import fit_its

    series = _monthly()
    res = fit_its(series, outcome="events", time="period", interruption="2023-01-01", family="quasipoisson",
                  exposure="population")
    fitted = res.predict()
    data = suppress(fitted[["time", "observed", "exposure", "predicted"]], ["observed"], min_count=5,
                    secondary=False)
    with pytest.raises(DisclosureError, match="drawn from the numbers before suppression"):
        save_figure(res.plot(language="en"), data, "raw", tmp_path, count_cols=["observed"], drawn_from="raw")
    assert not (tmp_path / "raw.svg").exists()
    # with no small month the same figure may be written
    big = series.assign(events=series["events"].clip(lower=8))
    res = fit_its(big, outcome="events", time="period", interruption="2023-01-01", family="quasipoisson",
                  exposure="population")
    data = suppress(res.predict()[["time", "observed", "exposure", "predicted"]], ["observed"], min_count=5,
                    secondary=False)
    save_figure(res.plot(language="en"), data, "ok", tmp_path, count_cols=["observed"], drawn_from="raw")


def test_fitted_curve_beside_hidden_months_gives_their_sum_back():
    """Why the report never publishes a fitted curve beside a hidden month: the score equations of
    a Poisson-type fit with an intercept make sum(observed) = sum(fitted) over the fitted periods,
    so one hidden month is the published fitted total minus the visible months."""
    from naravard_analysis.methods.its import fit_its

    series = _monthly(hidden_at=(7,))
    res = fit_its(series, outcome="events", time="period", interruption="2023-01-01", family="quasipoisson",
                  exposure="population", harmonics=2)
    fitted = res.predict()["predicted"].to_numpy()
    visible = np.delete(series["events"].to_numpy(), 7)
    assert round(fitted.sum() - visible.sum()) == series["events"].iloc[7] == 2
