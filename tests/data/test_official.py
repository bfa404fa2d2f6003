"""Tests of naravard_analysis.data.official: shipped official statistics and their readers.

The expected totals are looked up in the shipped source files and agree with SCB's and
Socialstyrelsen's published figures (see each test's comment).
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from naravard_analysis.data import official
from naravard_analysis.errors import ParameterError, ReadError

REF = official.reference_dir()

# The 21 regions with their Swedish names (methods reference §8.4 table).
REGION_NAMES = {
    "01": "Stockholm",
    "03": "Uppsala",
    "04": "Södermanland",
    "05": "Östergötland",
    "06": "Jönköping",
    "07": "Kronoberg",
    "08": "Kalmar",
    "09": "Gotland",
    "10": "Blekinge",
    "12": "Skåne",
    "13": "Halland",
    "14": "Västra Götaland",
    "17": "Värmland",
    "18": "Örebro",
    "19": "Västmanland",
    "20": "Dalarna",
    "21": "Gävleborg",
    "22": "Västernorrland",
    "23": "Jämtland",
    "24": "Västerbotten",
    "25": "Norrbotten",
}


# ------------------------------------------------------------------ code lists


def test_regions_codes_and_names():
    reg = official.regions()
    assert list(reg.columns) == ["region_code", "region_name", "region_name_short"]
    assert dict(zip(reg.region_code, reg.region_name_short, strict=True)) == REGION_NAMES
    assert reg.set_index("region_code").loc["14", "region_name"] == "Västra Götalands län"
    assert reg.region_code.str.fullmatch(r"\d{2}").all()


def test_municipalities_codes_keep_leading_zeros():
    mun = official.municipalities()
    assert len(mun) == 290
    assert mun.municipality_code.str.fullmatch(r"\d{4}").all()
    assert (mun.municipality_code.str[:2] == mun.region_code).all()
    row = mun.set_index("municipality_code").loc["0114"]
    assert (row.municipality_name, row.region_code) == ("Upplands Väsby kommun", "01")
    # Every region has municipalities; Gotland is a single municipality (0980).
    counts = mun.groupby("region_code").size()
    assert set(counts.index) == set(REGION_NAMES)
    assert (
        counts["09"] == 1 and mun.loc[mun.region_code == "09", "municipality_code"].item() == "0980"
    )


def test_code_lists_return_copies():
    a = official.regions()
    a.loc[0, "region_name"] = "changed"
    assert official.regions().loc[0, "region_name"] == "Stockholms län"
    m = official.municipalities()
    m.loc[:, "region_code"] = "99"
    assert len(official.municipalities()) == 290


def test_reference_dir_env_override(tmp_path, monkeypatch):
    (tmp_path / "sweden-codes").mkdir()
    shutil.copy(REF / "sweden-codes" / "counties.csv", tmp_path / "sweden-codes" / "counties.csv")
    monkeypatch.setenv("NARAVARD_REFERENCE_DIR", str(tmp_path))
    assert official.reference_dir() == tmp_path.resolve()
    assert len(official.regions()) == 21
    with pytest.raises(ReadError, match=r"municipalities\.csv: reference file not found.*NARAVARD"):
        official.municipalities()


def test_codes_without_leading_zeros_are_rejected(tmp_path):
    # What Excel does to the file: "01" -> "1".
    df = pd.read_csv(REF / "sweden-codes" / "counties.csv", dtype=str)
    df["county_code"] = df["county_code"].str.lstrip("0")
    bad = tmp_path / "counties.csv"
    df.to_csv(bad, index=False)
    with pytest.raises(
        ReadError,
        match=r"counties\.csv: column county_code must hold 2-digit.*8 rows \(rows 0, 1, 2, 3, 4, ...\)",
    ):
        official.regions(path=bad)


def test_code_list_wrong_encoding_and_extra_column(tmp_path):
    text = (REF / "sweden-codes" / "counties.csv").read_text(encoding="utf-8")
    latin = tmp_path / "latin.csv"
    latin.write_bytes(text.encode("latin-1"))
    with pytest.raises(
        ReadError, match=r"latin\.csv: wrong encoding: byte 0x[0-9a-f]{2} .* not valid utf-8"
    ):
        official.regions(path=latin)
    extra = tmp_path / "extra.csv"
    df = pd.read_csv(REF / "sweden-codes" / "counties.csv", dtype=str).assign(population="1")
    df.to_csv(extra, index=False)
    with pytest.raises(ReadError, match=r"extra\.csv: unexpected extra columns \['population'\]"):
        official.regions(path=extra)


def test_municipality_code_must_start_with_region(tmp_path):
    df = pd.read_csv(REF / "sweden-codes" / "municipalities.csv", dtype=str)
    df.loc[3, "county_code"] = "03"
    bad = tmp_path / "m.csv"
    df.to_csv(bad, index=False)
    with pytest.raises(ReadError, match=r"m\.csv: the first two digits .* 1 row \(rows 3\)"):
        official.municipalities(path=bad)


@given(name=st.sampled_from(sorted(REGION_NAMES.values())))
def test_transliterate_is_ascii_and_idempotent(name):
    t = official.transliterate(name)
    assert t.isascii() and t == t.lower() and official.transliterate(t) == t


# ------------------------------------------------------------------ population


def test_population_county_total_2015():
    pop = official.population("county", years=2015)
    assert list(pop.columns) == [
        "year",
        "region_code",
        "municipality_code",
        "sex",
        "age",
        "population",
    ]
    # SCB: Sweden's population on 31 December 2015 was 9 851 017 (also the sum of the rda array).
    assert int(pop.population.sum()) == 9_851_017
    assert len(pop) == 21 * 2 * 101
    assert set(pop.region_code) == set(REGION_NAMES)
    assert set(pop.sex) == {"F", "M"} and pop.age.between(0, 100).all()
    # "Gotaland" in demdata is Västra Götaland (14), the second largest county: 1 648 682 on
    # 31 Dec 2015 (sum of the rda array's "Gotaland" slice; SCB publishes the same figure).
    by = pop.groupby("region_code").population.sum()
    assert int(by["14"]) == 1_648_682
    assert by.sort_values().index[-2:].tolist() == ["14", "01"]


def test_population_municipality_2019():
    pop = official.population("municipality")
    # SCB: population of Sweden on 31 December 2019 was 10 327 589 (= sum of SCB_alderkon.csv).
    assert int(pop.population.sum()) == 10_327_589
    assert pop.municipality_code.nunique() == 290 and set(pop.year) == {2019}
    assert pop.municipality_code.str.fullmatch(r"\d{4}").all()
    assert (pop.municipality_code.str[:2] == pop.region_code).all()
    # First data row of the file: Upplands Väsby, age 0, men = 271.
    row = pop.query("municipality_code == '0114' and age == 0 and sex == 'M'")
    assert row.population.item() == 271


def test_population_country_sources_agree():
    country = official.population("country")
    tot = country.groupby("year").population.sum()
    # SCB: 9 851 017 (2015), 10 379 295 (2020); 1968-2024 without gaps.
    assert int(tot[2015]) == 9_851_017 and int(tot[2020]) == 10_379_295
    assert tot.index.tolist() == list(range(1968, 2025))
    assert (country.region_code == official.COUNTRY_CODE).all()
    # The FoHM national series (2000-2024) equals the sum of the MIT county series, cell by cell.
    county = (
        official.population("county")
        .query("year >= 2000")
        .groupby(["year", "sex", "age"])
        .population.sum()
    )
    fohm = country.query("2000 <= year <= 2015").set_index(["year", "sex", "age"]).population
    pd.testing.assert_series_equal(fohm.sort_index(), county.sort_index(), check_names=False)


def test_population_bad_level_and_years():
    with pytest.raises(ParameterError, match="level must be"):
        official.population("kommun")
    with pytest.raises(ParameterError, match=r"years \[2016\] are not in sweden\.popn\.rda"):
        official.population("county", years=[2015, 2016])


def test_population_unreadable_rda(tmp_path):
    bad = tmp_path / "popn.rda"
    bad.write_bytes(b"not an R file")
    with pytest.raises(ReadError, match=r"popn\.rda: not a readable R data"):
        official.population("county", path=bad)


def test_population_municipality_unknown_name(tmp_path):
    text = gzip.decompress((REF / "scb-population" / "SCB_alderkon.csv.gz").read_bytes()).decode()
    bad = tmp_path / "alder.csv"
    bad.write_text(text.replace('"Upplands Väsby"', '"Upplands Vasby"'), encoding="utf-8")
    with pytest.raises(
        ReadError, match=r"alder\.csv: 202 rows .* not in the code list.*Upplands Vasby"
    ):
        official.population("municipality", path=bad)


# ------------------------------------------------------------------ deaths


def test_deaths_total_2020():
    d = official.deaths_monthly(2020)
    assert list(d.columns) == ["year", "month", "sex", "deaths"]
    # SCB: 98 124 deaths in Sweden in 2020 (sum of the 2020 column, including the "Unknown" month
    # row: 194 men + 60 women).
    assert int(d.deaths.sum()) == 98_124
    assert int(d.loc[d.month.isna(), "deaths"].sum()) == 254
    # April 2020 (first COVID-19 wave): men 5 379 + women 5 176.
    assert int(d.query("month == 4").deaths.sum()) == 10_555


def test_deaths_shape():
    d = official.deaths_monthly()
    assert d.year.min() == 1851 and d.year.max() == 2020
    assert len(d) == 170 * 2 * 13
    assert d.month.dropna().between(1, 12).all() and (d.deaths >= 0).all()


def _deaths_text() -> str:
    return (REF / "scb-deaths" / "deaths_by_sex_month_1851_2020.csv").read_text(encoding="latin-1")


def test_deaths_missing_title_line(tmp_path):
    bad = tmp_path / "no_title.csv"
    bad.write_text("\n".join(_deaths_text().splitlines()[2:]), encoding="latin-1")
    with pytest.raises(ReadError, match=r"no_title\.csv: missing title line"):
        official.deaths_monthly(path=bad)


def test_deaths_wrong_encoding(tmp_path):
    # A Swedish-language title saved as UTF-16 (a PxWeb option) and as UTF-8.
    text = _deaths_text().replace("Deaths by sex, month and year", "Döda efter kön, månad och år")
    u16 = tmp_path / "utf16.csv"
    u16.write_text(text, encoding="utf-16")
    with pytest.raises(ReadError, match=r"utf16\.csv: wrong encoding: .*UTF-16"):
        official.deaths_monthly(path=u16)
    u8 = tmp_path / "utf8.csv"
    u8.write_text(text, encoding="utf-8")
    with pytest.raises(ReadError, match=r"utf8\.csv: wrong encoding: line 1 .*encoding='utf-8'"):
        official.deaths_monthly(path=u8)
    assert int(official.deaths_monthly(2020, path=u8, encoding="utf-8").deaths.sum()) == 98_124


def test_deaths_extra_column(tmp_path):
    lines = _deaths_text().splitlines()
    lines[2] += ',"note"'
    lines[3:] = [ln + ",x" for ln in lines[3:]]
    bad = tmp_path / "extra.csv"
    bad.write_text("\n".join(lines), encoding="latin-1")
    with pytest.raises(ReadError, match=r"extra\.csv: unexpected extra columns \['note'\]"):
        official.deaths_monthly(path=bad)


def test_deaths_non_numeric_cell(tmp_path):
    bad = tmp_path / "dots.csv"
    lines = _deaths_text().splitlines()
    lines[3] = lines[3].removesuffix(",4107") + ",.."  # men, January, 2020
    bad.write_text("\n".join(lines), encoding="latin-1")
    with pytest.raises(
        ReadError, match=r"dots\.csv: 1 cells are not whole numbers.*'January', '2020', '\.\.'"
    ):
        official.deaths_monthly(path=bad)


# ------------------------------------------------------------------ Öppna jämförelser


def test_oj_readmission_2017_national():
    oj = official.oppna_jamforelser(330)
    nat = oj.query("level == 'country' and period == '2017'").set_index("sex")
    # Datalista-En-god-vard.csv, ind_id 330, RIKET, 2017, Totalt:
    # value 9.753844553 (point), n 230586, ci 9,633174276 - 9,875372361 (comma).
    assert nat.loc["all", "value"] == pytest.approx(9.753844553, abs=1e-9)
    assert nat.loc["all", "n"] == 230_586
    assert nat.loc["all", "lower"] == pytest.approx(9.633174276, abs=1e-9)
    assert nat.loc["all", "upper"] == pytest.approx(9.875372361, abs=1e-9)
    assert nat.loc["F", "n"] + nat.loc["M", "n"] == nat.loc["all", "n"]  # 120472 + 110114
    assert sorted(oj.period.unique()) == [str(y) for y in range(2012, 2018)]


def test_oj_diacritics_restored_for_all_regions():
    oj = official.oppna_jamforelser(330)
    county = oj.query("level == 'county'")
    names = dict(zip(county.region_code, county.region_name, strict=False))
    assert names == REGION_NAMES  # all 21, codes zero-padded from cat_code
    assert set(oj.query("level == 'country'").region_name) == {"Riket"}
    # 21 counties + Sweden, 6 years, 3 sexes: 396 rows, one per cell. Jämtland 2016 is published
    # without a value (comment: deficient coding of planned/unplanned) -- kept as NaN, not dropped.
    assert oj.groupby(["region_code", "period", "sex"]).size().eq(1).all() and len(oj) == 22 * 6 * 3
    missing = oj[oj.value.isna()]
    assert set(zip(missing.region_code, missing.period, strict=True)) == {("23", "2016")}
    assert missing.comment.str.startswith("Bristfallig specificering").all()


def test_oj_rate_indicator_decimal_comma_n():
    oj = official.oppna_jamforelser([526])
    row = oj.query("region_code == '12' and period == '2015-2017' and sex == 'all'")
    # Skåne, 526, 2015-2017, Totalt: value 715.6381894, n 3034942,5 person-years (decimal comma).
    assert row.value.item() == pytest.approx(715.6381894)
    assert row.n.item() == 3_034_942.5
    assert (row.period_start.item(), row.period_end.item()) == (2015, 2017)
    assert np.isfinite(oj.value).all()


def test_oj_unknown_indicator():
    with pytest.raises(ParameterError, match=r"indicators \[99999\] are not in"):
        official.oppna_jamforelser(99999)


def _oj_text() -> str:
    return gzip.decompress(
        (REF / "oppna-jamforelser" / "Datalista-En-god-vard.csv.gz").read_bytes()
    ).decode("cp1252")


def test_oj_reads_plain_csv(tmp_path):
    head = "\n".join(_oj_text().splitlines()[:200])
    p = tmp_path / "small.csv"
    p.write_bytes(head.encode("cp1252"))
    assert len(official.oppna_jamforelser(path=p)) == 199


def test_oj_wrong_encoding(tmp_path):
    lines = _oj_text().splitlines()
    p = tmp_path / "utf8.csv"
    # A UTF-8 copy with the names spelled correctly (what a user's re-save produces).
    p.write_text("\n".join(lines[:50]).replace("for halso", "för hälso"), encoding="utf-8")
    with pytest.raises(
        ReadError, match=r"utf8\.csv: wrong encoding: line 2 .*UTF-8 text decoded as cp1252"
    ):
        official.oppna_jamforelser(path=p)


def test_oj_extra_and_missing_columns(tmp_path):
    lines = _oj_text().splitlines()[:20]
    extra = tmp_path / "extra.csv"
    extra.write_bytes(
        "\n".join(ln + ";x" for ln in lines)
        .replace(";ci_high;x", ";ci_high;region_kod", 1)
        .encode("cp1252")
    )
    with pytest.raises(ReadError, match=r"extra\.csv: unexpected extra columns \['region_kod'\]"):
        official.oppna_jamforelser(path=extra)
    df = pd.read_csv(pd.io.common.StringIO("\n".join(lines)), sep=";", dtype=str)
    missing = tmp_path / "missing.csv"
    df.drop(columns="n").to_csv(missing, sep=";", index=False, encoding="cp1252")
    with pytest.raises(ReadError, match=r"missing\.csv: missing columns \['n'\]"):
        official.oppna_jamforelser(path=missing)


def test_oj_thousands_separator_is_an_error(tmp_path):
    lines = _oj_text().splitlines()[:20]
    df = pd.read_csv(
        pd.io.common.StringIO("\n".join(lines)), sep=";", dtype=str, keep_default_na=False
    )
    df.loc[4, "value"] = "26,606.3"
    p = tmp_path / "thousands.csv"
    df.to_csv(p, sep=";", index=False, encoding="cp1252")
    with pytest.raises(
        ReadError, match=r"thousands\.csv: column value must hold numbers .*rows 4\).*'26,606\.3'"
    ):
        official.oppna_jamforelser(path=p)


def test_oj_name_code_mismatch(tmp_path):
    lines = _oj_text().splitlines()[:20]
    df = pd.read_csv(
        pd.io.common.StringIO("\n".join(lines)), sep=";", dtype=str, keep_default_na=False
    )
    df.loc[2, "cat_code"] = "14"  # row says Gotland, code says Västra Götaland
    p = tmp_path / "shift.csv"
    df.to_csv(p, sep=";", index=False, encoding="cp1252")
    with pytest.raises(
        ReadError, match=r"shift\.csv: geo_cat does not match cat_code in 1 row \(rows 2\)"
    ):
        official.oppna_jamforelser(path=p)


@settings(max_examples=50, deadline=None)
@given(
    x=st.decimals(min_value=-1e6, max_value=1e6, places=4, allow_nan=False, allow_infinity=False)
)
def test_number_parser_point_and_comma_agree(x):
    s = pd.Series([str(x), str(x).replace(".", ",")])
    out = official._parse_numbers(Path("f.csv"), s, "value")
    assert out.iloc[0] == out.iloc[1] == pytest.approx(float(x))


# ------------------------------------------------------------------ analysis-ready series


def test_monthly_population_interpolates_between_year_ends():
    mp = official.monthly_population("country", years=2020)
    # Hand calculation: 31 Dec 2019 = 10 327 589, 31 Dec 2020 = 10 379 295 (SCB); mid-January 2020 is
    # 15.5 days into a 366-day year: 10 327 589 + 15.5/366 * 51 706 = 10 329 778.7.
    assert mp.loc[mp.month == 1, "population"].item() == pytest.approx(
        10_327_589 + 15.5 / 366 * 51_706
    )
    assert mp.population.is_monotonic_increasing and len(mp) == 12
    # person-years of February 2020 (29 days) = population * 29 / 365.25
    feb = mp[mp.month == 2]
    assert feb.person_years.item() == pytest.approx(feb.population.item() * 29 / 365.25)
    with pytest.raises(ParameterError, match=r"years \[1968\] need the population"):
        official.monthly_population("country", years=1968)


def test_deaths_series_2020():
    d = official.deaths_series("2020-01", "2020-12")
    assert len(d) == 12 and d.period.iloc[0] == pd.Timestamp("2020-01-01")
    # 98 124 deaths in 2020 (SCB) = 97 870 dated to a month + 254 not dated.
    assert int(d.deaths.sum()) == 97_870 and d.attrs["unknown_month"][2020] == 254
    assert d.rate_per_100k_py.between(700, 1300).all()


def test_rest_of_country_pools_by_events():
    oj = official.oppna_jamforelser(330)
    rest = official.rest_of_country(oj, ["12", "14"]).query("sex == 'all' and period == '2017'")
    # Hand calculation from the file (2017, Totalt): events = value * n / 100
    # Riket 9.753844553 * 230586 / 100 = 22 491; Skåne 12.00733624 * 31081 / 100 = 3 732;
    # Västra Götaland 9.975725 * 35015 / 100 = 3 493 -> 15 266 / 164 490 = 9.2808 %.
    assert rest.n.item() == 230_586 - 31_081 - 35_015
    assert rest.events.item() == pytest.approx(15_266, abs=0.5)
    assert rest.value.item() == pytest.approx(100 * 15_266 / 164_490, abs=1e-3)
    with pytest.raises(ParameterError, match=r"regions \['99'\] not in the data"):
        official.rest_of_country(oj, ["99"])


def test_unterminated_quote_in_a_reference_file_is_named(tmp_path):
    # A stray quote that a later quote closes: pandas reads the lines between as one value and
    # returns fewer rows without an error; the row count against the lines catches it.
    lines = (REF / "sweden-codes" / "municipalities.csv").read_text(encoding="utf-8").splitlines()
    lines[100] = lines[100].replace(",", ',"', 1)  # line 101: opening quote, never closed there
    lines[150] = lines[150].replace(",", ',"', 1)  # line 151: another stray quote closes it
    path = tmp_path / "municipalities.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ReadError, match=r"unterminated quote on line 101 of the table"):
        official.municipalities(path=path)
