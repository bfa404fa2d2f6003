"""A researcher's first day (issue 19): eight tasks on the demo world with the public API only.

Each task is written as a notebook cell would be: the package's functions, no hand merges of
register tables. The assertions check that the answer is the one the task asks for (the right
denominator, the right people, the right target), not only that something came out.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from naravard_analysis.data import RegisterData, read_table
from naravard_analysis.indicators.avoidable import avoidable_rates, flag_avoidable
from naravard_analysis.indicators.continuity import fast_lakarkontakt_share, kontinuitetsindex
from naravard_analysis.indicators.person_attributes import age_at, with_person_attributes
from naravard_analysis.indicators.readmission import (
    flag_readmissions,
    readmission_rates,
    risk_adjusted_readmission,
)
from naravard_analysis.indicators.targets import TARGETS
from naravard_analysis.methods.evaluation import evaluate_enrolments
from naravard_analysis.methods.its import fit_its, monthly_series
from naravard_analysis.report.disclosure import check_outputs, suppress
from naravard_analysis.report.figures import (
    funnel_data,
    plot_funnel,
    plot_lines,
    read_csv,
    save_figure,
)
from naravard_analysis.report.tables import write_tables


@pytest.fixture(scope="module")
def data(demo_dir) -> RegisterData:
    return RegisterData.from_dir(demo_dir)


def test_1_continuity_per_municipality_against_the_20_percent_target(data):
    contacts = with_person_attributes(data.contacts, data.persons, date="contact_date",
                                      attributes="municipality_code")
    k = kontinuitetsindex(contacts, baseline_year=2016, by="municipality_code")
    phys = k[k["staff"] == "physician"]
    assert set(phys["municipality_code"]) == set(data.persons["municipality_code"].dropna())
    assert (phys["target"] == TARGETS["coc_physician"].value).all()  # +20 % (Läkartidningen 2022)
    later = phys[phys["year"] > 2016].dropna(subset=["coc"])
    np.testing.assert_allclose(later["relative_change"], later["coc"] / later["baseline_coc"] - 1)
    assert (later["target_met"] == (later["relative_change"] >= 0.2)).all()


def test_2_named_doctor_share_65_plus_against_55_percent(data):
    share = fast_lakarkontakt_share(data.listings, data.persons, "2022-12-31", by="age_group",
                                    population=data.population, age_bins=(0, 65),
                                    target=TARGETS["named_doctor"].value)
    old = share.set_index("age_group").loc["65+"]
    # the denominator is the population table's residents 65+ at the reference year
    pop = data.population
    residents = pop.loc[(pop["year"] == 2022) & (pop["age"] >= 65), "population"].sum()
    assert old["n_population"] == residents
    assert old["share_named_doctor_proxy"] == pytest.approx(old["n_named_doctor"] / residents)
    assert bool(old["meets_target"]) == (old["share_named_doctor_proxy"] >= 0.55)


def test_3_esp_standardised_avoidable_rates(data):
    flags = flag_avoidable(data.admissions, data.persons)  # Swedish chronic indicator, 20+
    rates = avoidable_rates(flags, data.population, by="year")  # one column name is enough
    assert rates["min_age"].eq(20).all() and rates["year"].is_unique
    counted = flags[flags["avoidable"] & (flags["age"] >= 20) & flags["year"].isin(rates["year"])]
    assert rates["events"].sum() == len(counted)
    assert (rates["lower"] <= rates["adjusted_rate"]).all() and (rates["adjusted_rate"] <= rates["upper"]).all()
    # all ages for the combined definition: every flagged stay is counted, children included
    all_ages = flag_avoidable(data.admissions, data.persons, definition="socialstyrelsen")
    r_all = avoidable_rates(all_ages, data.population, by="year")
    in_years = all_ages[all_ages["avoidable"] & all_ages["year"].isin(r_all["year"])]
    assert r_all["events"].sum() == len(in_years)


def test_4_readmission_by_hospital_with_a_funnel_plot(data, tmp_path):
    flags = flag_readmissions(data.admissions, data.persons)
    by_hospital = readmission_rates(flags, by="hospital_id")
    risk = risk_adjusted_readmission(flags, data.admissions, data.persons, by="hospital_id")
    assert repr(risk).startswith("<RiskAdjustedResult") and len(repr(risk)) < 200
    assert "<table" in risk._repr_html_()
    units = risk.units.set_index("hospital_id")
    assert units["observed"].sum() == by_hospital["readmitted"].sum()
    safe = funnel_data(risk, min_count=5)
    fig = plot_funnel(safe, risk, label_col="hospital_id", language="en")
    paths = save_figure(fig, safe, "funnel", tmp_path, count_cols=["eligible", "observed"], language="en")
    assert read_csv(paths["csv"])["observed"].sum() == units["observed"].sum()


def test_5_its_of_ed_visits_80_plus(data):
    contacts = with_person_attributes(data.contacts, data.persons, date="contact_date")
    ed = contacts[contacts["care_level"] == "emergency"]
    series = monthly_series(ed, data.population, date="contact_date", ages=(80, None))
    assert series["events"].sum() == int((ed["age"] >= 80).sum())
    res = fit_its(series, outcome="events", time="period", interruption="2020-03-01",
                  family="quasipoisson", exposure="population", harmonics=2)
    assert {"level_change", "slope_change"} <= set(res.effects.index)
    assert np.isfinite(res.effects.loc["level_change", "ratio"])
    assert len(repr(res)) < 200


def test_6_mobile_teams_naive_and_adjusted_side_by_side(data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # balance warnings on the small demo world
        res = evaluate_enrolments(data)  # the package's default design
    comp = res.comparison(language="en")
    assert {"naive_change_pct", "effect_pct", "n_cases"} <= set(comp.columns)
    assert len(comp) == len(res.estimates) == 3
    assert np.isfinite(comp["naive_change_pct"]).all()
    # both naive numbers, labelled: all analysable enrolled, and the same people as the effect
    e = res.estimates
    assert (e["n_cases"] <= e["n_naive"]).all() and e["naive_change_analysed"].notna().all()


def _patientregistret_csv(data: RegisterData, path) -> pd.DataFrame:
    """The demo admissions as a Patientregistret extract: LopNr, dates, codes and ALDER only."""
    adm = data.admissions
    who = with_person_attributes(adm, data.persons, date="admission_date",
                                 attributes=("age", "sex", "municipality_code"))
    pr = pd.DataFrame({
        "LopNr": adm["person_id"], "INDATUM": adm["admission_date"].dt.strftime("%Y%m%d"),
        "UTDATUM": adm["discharge_date"].dt.strftime("%Y%m%d"), "HDIA": adm["main_diagnosis"],
        "PVARD": np.where(adm["planned"], "1", "2"),
        "UTSATT": adm["discharge_to"].map({"hospital": "1", "special_housing": "2", "home": "3", "died": "4"}),
        "SJUKHUS": adm["hospital_id"], "KON": who["sex"].map({"M": "1", "F": "2"}), "LAN": "14",
        "KOMMUN": who["municipality_code"].str[2:], "ALDER": who["age"].astype("Int64").astype(str),
    })  # fmt: skip
    pr.to_csv(path, sep=";", index=False)
    return pr


def test_7_patientregistret_csv_through_to_readmission(data, tmp_path):
    _patientregistret_csv(data, tmp_path / "par.csv")
    adm = read_table(tmp_path / "par.csv", "admissions", source="patientregistret")
    persons = adm[["person_id"]].drop_duplicates()  # the extract has no birth dates
    end = str(data.admissions["discharge_date"].max().date())
    from_csv = flag_readmissions(adm, persons, end_date=end)
    canonical = flag_readmissions(data.admissions, data.persons, end_date=end)
    # ALDER (age at admission) gives the same 65+ index episodes as the birth dates
    assert int(from_csv["eligible"].sum()) == int(canonical["eligible"].sum())
    assert int(from_csv["readmitted"].sum()) == int(canonical["readmitted"].sum())
    birth = data.persons.set_index("person_id").loc[canonical["person_id"], "birth_date"].reset_index(drop=True)
    age = age_at(birth, canonical["admission_date"])
    np.testing.assert_array_equal(from_csv["age"].to_numpy(dtype=float), age.to_numpy(dtype=float))
    by_muni = readmission_rates(from_csv, by="municipality_code")
    assert set(by_muni["municipality_code"]) <= set(data.persons["municipality_code"])


def test_8_a_suppressed_figure_and_excel(data, tmp_path):
    flags = flag_readmissions(data.admissions, data.persons)
    table = readmission_rates(flags, by=["year", "municipality_code"])
    counts = [c for c in ("n_index", "eligible", "readmitted") if c in table.columns]
    safe = suppress(table, counts, min_count=5, rate_cols={"rate": ["readmitted", "eligible"]})
    fig = plot_lines(safe, x="year", y="rate", hue="municipality_code", lower="lower", upper="upper",
                     percent=True, language="sv")
    paths = save_figure(fig, safe, "readmission", tmp_path, count_cols=counts, language="sv")
    head = paths["csv"].read_bytes().decode("utf-8-sig").splitlines()[0]
    assert head.startswith("year;municipality_code;")  # Swedish flavour: ';' and decimal comma
    book = write_tables({"återinskrivning": safe}, tmp_path / "tabeller.xlsx", count_cols=counts,
                        language="sv", about={"Källa": "syntetiska registerdata"})
    wb = load_workbook(book)
    assert wb.sheetnames[0] == "Om data"
    header = [c.value for c in next(wb["återinskrivning"].iter_rows())]
    assert header[:2] == ["År", "Kommunkod"] and not any(str(h).endswith("_suppressed") for h in header)
    check_outputs(tmp_path, min_count=5)  # raises on any small count or identity number
