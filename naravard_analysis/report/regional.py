"""The regional report: one readable story per region, every number from a library call.

:class:`RegionalReport` holds a region's (restricted) :class:`~naravard_analysis.data.RegisterData`
and the report parameters, and builds each section on request: it computes the indicator with the
package's own functions, passes the table through small-cell suppression, draws and saves the figure
(PNG, SVG and the CSV behind it), and writes the text around it from the numbers shown
(:mod:`naravard_analysis.report.narrative`), in Swedish or English. ``notebooks/regional_report.ipynb``
only asks for the sections in order, so the notebook holds no logic.

Sections
--------
overview      persons, stays, contacts and enrolments in the period
continuity    kontinuitetsindex (COC) for physicians and all staff against the +20 % target
named_doctor  share with a named doctor (fast läkarkontakt, register proxy) against 55 %
avoidable     avoidable hospitalisation (Socialstyrelsen's chronic conditions), age-standardised
readmission   unplanned readmission within 30 days among people aged 65+
ed_visits     emergency-department visits per 1 000 inhabitants aged 80+
its           interrupted time series of unplanned admissions around a chosen date, COVID-19 left out
mobile_teams  mobile-team evaluation: naive before/after vs matched difference-in-differences
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from naravard_analysis.data import RegisterData
from naravard_analysis.errors import ParameterError
from naravard_analysis.report import narrative as nar
from naravard_analysis.report.disclosure import suppress
from naravard_analysis.report.figures import plot_forest, plot_lines, save_figure
from naravard_analysis.report.labels import check_language, format_number, label
from naravard_analysis.report.parameters import validate_parameters
from naravard_analysis.report.tables import write_tables

__all__ = ["RegionalReport", "Section", "SECTIONS", "validate_report_parameters"]

SECTIONS = (
    "overview",
    "continuity",
    "named_doctor",
    "avoidable",
    "readmission",
    "ed_visits",
    "its",
    "mobile_teams",
)

_T = {  # section titles and fixed phrases: (sv, en)
    "title": ("Nära vård i {region}", "Care close to home in {region}"),
    "overview": ("Data i rapporten", "Data in this report"),
    "continuity": ("Kontinuitet i primärvården", "Continuity of care in primary care"),
    "named_doctor": ("Fast läkarkontakt", "Named regular doctor (fast läkarkontakt)"),
    "avoidable": ("Undvikbar slutenvård", "Avoidable hospitalisation"),
    "readmission": ("Återinskrivning inom 30 dagar, 65 år och äldre", "30-day readmission, aged 65+"),
    "ed_visits": ("Akutbesök, 80 år och äldre", "Emergency-department visits, aged 80+"),
    "its": ("Avbruten tidsserie: oplanerad slutenvård", "Interrupted time series: unplanned admissions"),
    "mobile_teams": ("Mobila team: vad förändras egentligen?", "Mobile teams: what really changes?"),
}


def _t(key: str, language: str, **fmt: Any) -> str:
    text = _T[key][0 if language == "sv" else 1]
    return text.format(**fmt) if fmt else text


def validate_report_parameters(**params: Any) -> dict[str, Any]:
    """Validate the regional report's parameters (standard ones plus years and dates)."""
    out = validate_parameters(params)
    for name in ("start_year", "end_year", "baseline_year"):
        v = out.get(name)
        if isinstance(v, bool) or not isinstance(v, int) or not 1990 <= v <= 2100:
            raise ParameterError(f"{name} must be a calendar year such as 2019, got {v!r}")
    if not out["start_year"] <= out["baseline_year"] <= out["end_year"]:
        raise ParameterError(
            f"baseline_year {out['baseline_year']} must lie within {out['start_year']}–{out['end_year']}"
        )
    for name in ("interruption", "covid_start", "covid_end"):
        try:
            out[name] = pd.Timestamp(out[name]).strftime("%Y-%m-%d")
        except (ValueError, TypeError):
            raise ParameterError(f"{name} must be a date such as '2020-03-01', got {out[name]!r}") from None
    if out["covid_end"] < out["covid_start"]:
        raise ParameterError("covid_end must not be before covid_start")
    return out


@dataclass
class Section:
    """One built section: its text, the suppressed table behind it and the files written."""

    key: str
    title: str
    text: str
    table: pd.DataFrame | None = None
    files: dict[str, Path] = field(default_factory=dict)

    def show(self) -> None:
        """Display the figure (from its PNG) in a notebook; tables go to the Excel workbook."""
        from IPython.display import Image, display

        if "png" in self.files:
            display(Image(filename=str(self.files["png"])))


class RegionalReport:
    """Build the sections of a region's report (see the module docstring).

    Parameters
    ----------
    data
        The region's bundle (already restricted to the municipalities and period wanted).
    **params
        The validated report parameters (region_code, start_year, end_year, baseline_year,
        interruption, covid_start, covid_end, language, min_count, output_dir, ...).
    """

    def __init__(self, data: RegisterData, **params: Any) -> None:
        self.data = data
        self.params = params
        self.language = check_language(params.get("language", "sv"))
        self.min_count = int(params.get("min_count", 5))
        self.output_dir = Path(params["output_dir"])
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.tables: dict[str, pd.DataFrame] = {}
        self.sections: dict[str, Section] = {}

    # ----------------------------------------------------------------- helpers
    @property
    def region_name(self) -> str:
        from naravard_analysis.data.official import regions

        reg = regions().set_index("region_code")
        code = self.params["region_code"]
        return str(reg.loc[code, "region_name_short"]) if code in reg.index else code

    def _years(self) -> list[int]:
        return list(range(self.params["start_year"], self.params["end_year"] + 1))

    def _save(self, key: str, fig: plt.Figure, table: pd.DataFrame, counts: list[str]) -> dict[str, Path]:
        files = save_figure(
            fig, table, f"{key}", self.output_dir / "figures", count_cols=counts,
            min_count=self.min_count, language=self.language,
        )
        self.tables[key] = table
        return files

    def introduction(self) -> str:
        """Title and a paragraph on the data, region and period."""
        sv = self.language == "sv"
        src = self.data.meta.get("source", "")
        source = label("source_synthetic", self.language) if src == "synthetic" else str(src)
        munis = self.params.get("municipality_codes") or []
        scope = (
            (f"kommunerna {', '.join(munis)}" if sv else f"municipalities {', '.join(munis)}")
            if munis
            else ("hela regionen" if sv else "the whole region")
        )
        period = f"{self.params['start_year']}–{self.params['end_year']}"
        body = (
            f"Rapporten beskriver {scope} under {period}. {source} "
            f"{label('suppression_note', self.language, min_count=self.min_count)}"
            if sv
            else f"This report covers {scope} in {period}. {source} "
            f"{label('suppression_note', self.language, min_count=self.min_count)}"
        )
        return f"# {_t('title', self.language, region=self.region_name)}\n\n{body}"

    def section(self, key: str) -> Section:
        """Build (once) and return the section ``key`` (one of :data:`SECTIONS`)."""
        if key not in SECTIONS:
            raise ParameterError(f"unknown section {key!r}; expected one of {', '.join(SECTIONS)}")
        if key not in self.sections:
            builder: Callable[[], Section] = getattr(self, f"_build_{key}")
            self.sections[key] = builder()
        return self.sections[key]

    # ----------------------------------------------------------------- sections
    def _build_overview(self) -> Section:
        lang = self.language
        rows = []
        for name, df in self.data.tables.items():
            if name == "population":
                continue
            rows.append({"table": name, "n": int(len(df))})
        persons = self.data.persons
        if persons is not None:
            rows.append({"table": "persons_65plus_alive_at_end", "n": int(
                ((pd.Timestamp(f"{self.params['end_year']}-12-31") - persons["birth_date"]).dt.days // 365.25 >= 65)
                .where(persons["death_date"].isna(), False).sum()
            )})
        table = suppress(pd.DataFrame(rows), ["n"], min_count=self.min_count, secondary=False)
        self.tables["overview"] = table
        n = dict(zip(table["table"], table["n"], strict=True))

        def num(key: str) -> str:
            return format_number(n.get(key), lang)

        sv = lang == "sv"
        text = (
            f"## {_t('overview', lang)}\n\n"
            + (
                f"Underlaget omfattar {num('persons')} personer, {num('admissions')} vårdtillfällen "
                f"i slutenvård och {num('contacts')} öppenvårdskontakter."
                if sv
                else f"The data hold {num('persons')} persons, {num('admissions')} inpatient stays "
                f"and {num('contacts')} outpatient contacts."
            )
        )
        return Section("overview", _t("overview", lang), text, table)

    def _build_continuity(self) -> Section:
        from naravard_analysis.indicators.continuity import kontinuitetsindex

        lang = self.language
        k = kontinuitetsindex(self.data.contacts, baseline_year=self.params["baseline_year"])
        k = k[k["year"].isin(self._years())]
        cols = ["staff", "year", "n_persons", "n_eligible", "coc", "ci_low", "ci_high", "relative_change", "target_met"]
        table = suppress(k[cols].reset_index(drop=True), ["n_persons", "n_eligible"], min_count=self.min_count,
                         secondary=False)
        fig = plot_lines(table, x="year", y="coc", hue="staff", lower="ci_low", upper="ci_high",
                         language=lang, title=label("coc", lang))
        files = self._save("continuity", fig, table, ["n_persons", "n_eligible"])
        who = {"physician": ("läkare", "physicians"), "all": ("alla personalkategorier", "all staff")}
        sentences = []
        for staff, part in table.groupby("staff", sort=True):
            name = who.get(staff, (staff, staff))[0 if lang == "sv" else 1]
            what = f"COC ({name})"
            sentences.append(nar.describe_series(part, x="year", y="coc", what=what, language=lang,
                                                 lower="ci_low", upper="ci_high", decimals=3))
        base = self.params["baseline_year"]
        goal = (f"Målet är en ökning med 20 % jämfört med {base}." if lang == "sv"
                else f"The target is a 20 % increase over {base}.")
        text = f"## {_t('continuity', lang)}\n\n{goal} " + " ".join(sentences)
        return Section("continuity", _t("continuity", lang), text, table, files)

    def _build_named_doctor(self) -> Section:
        from naravard_analysis.indicators.continuity import fast_lakarkontakt_share

        lang = self.language
        dates = [f"{y}-12-31" for y in self._years()]
        share = fast_lakarkontakt_share(self.data.listings, self.data.persons, dates, target=0.55)
        share = share.assign(year=pd.to_datetime(share["date"]).dt.year)
        cols = ["year", "n_population", "n_named_doctor", "share_named_doctor_proxy", "target"]
        table = suppress(share[cols], ["n_population", "n_named_doctor"], min_count=self.min_count, secondary=False)
        fig = plot_lines(table, x="year", y="share_named_doctor_proxy", language=lang, target=0.55, percent=True,
                         title=label("named_doctor_share", lang), ylabel=label("named_doctor_share", lang))
        files = self._save("named_doctor", fig, table, ["n_population", "n_named_doctor"])
        what = label("named_doctor_share", lang)
        proxy = ("Andelen är ett registermått (listning med namngiven läkare), inte patientens egen uppfattning."
                 if lang == "sv" else
                 "The share is a register proxy (listing with a named doctor), not the patient's own view.")
        text = (f"## {_t('named_doctor', lang)}\n\n"
                + nar.describe_series(table, x="year", y="share_named_doctor_proxy", what=what, language=lang,
                                      target=0.55, percent=True) + " " + proxy)
        return Section("named_doctor", _t("named_doctor", lang), text, table, files)

    def _build_avoidable(self) -> Section:
        from naravard_analysis.indicators.avoidable import avoidable_rates, flag_avoidable

        lang = self.language
        flags = flag_avoidable(self.data.admissions, self.data.persons, definition="socialstyrelsen_chronic")
        rates = avoidable_rates(flags, self.data.population, by=("year",), standard="esp2013", min_age=20)
        rates = rates[rates["year"].isin(self._years())]
        cols = ["year", "events", "population", "crude_rate", "adjusted_rate", "lower", "upper"]
        table = suppress(rates[cols].reset_index(drop=True), ["events", "population"], min_count=self.min_count,
                         secondary=False)
        fig = plot_lines(table, x="year", y="adjusted_rate", lower="lower", upper="upper", language=lang,
                         title=label("avoidable", lang), ylabel=label("rate_per_100000", lang))
        files = self._save("avoidable", fig, table, ["events", "population"])
        per = " per 100 000" if lang == "sv" else " per 100,000"
        what = ("Åldersstandardiserad undvikbar slutenvård (20 år och äldre)" if lang == "sv"
                else "Age-standardised avoidable hospitalisation (aged 20+)")
        note = ("Kroniska tillstånd enligt Socialstyrelsens lista; standardbefolkning ESP 2013; "
                "intervall enligt Fay–Feuer." if lang == "sv" else
                "Chronic conditions of Socialstyrelsen's list; European Standard Population 2013; "
                "Fay–Feuer intervals.")
        n_excl = int(flags["excluded_reason"].notna().sum()) if "excluded_reason" in flags else 0
        excl = (f" {n_excl} vårdtillfällen uteslöts enligt definitionens regler." if lang == "sv"
                else f" {n_excl} stays were excluded by the definition's rules.")
        text = (f"## {_t('avoidable', lang)}\n\n"
                + nar.describe_series(table, x="year", y="adjusted_rate", what=what, language=lang,
                                      lower="lower", upper="upper", per=per) + f" {note}{excl}")
        return Section("avoidable", _t("avoidable", lang), text, table, files)

    def _build_readmission(self) -> Section:
        from naravard_analysis.indicators.readmission import flag_readmissions, readmission_rates

        lang = self.language
        flags = flag_readmissions(self.data.admissions, self.data.persons, variant="socialstyrelsen")
        flags = flags.assign(year=flags["discharge_date"].dt.year)
        rates = readmission_rates(flags, by="year")
        rates = rates[rates["year"].isin(self._years())].reset_index(drop=True)
        cols = ["year", "n_index", "eligible", "readmitted", "rate", "ci_lower", "ci_upper"]
        counts = ["n_index", "eligible", "readmitted"]
        table = suppress(rates[cols], counts, min_count=self.min_count, secondary=False,
                         rate_cols={"rate": ["readmitted", "eligible"]})
        fig = plot_lines(table, x="year", y="rate", lower="ci_lower", upper="ci_upper", language=lang,
                         percent=True, title=_t("readmission", lang), ylabel=label("readmission_rate", lang))
        files = self._save("readmission", fig, table, counts)
        what = ("Andel oplanerade återinskrivningar inom 1–30 dagar (65 år och äldre)" if lang == "sv"
                else "Share with an unplanned readmission within 1–30 days (aged 65+)")
        excluded = {c: int(rates[c].sum()) for c in rates.columns if c.startswith("excluded_")}
        n_excl = sum(excluded.values())
        note = (f"Vårdtillfällen som hänger ihop (överflyttningar, återkomst samma dag) räknas som en vårdepisod; "
                f"{n_excl} indexepisoder uteslöts (ålder, död vid utskrivning eller ofullständig uppföljning)."
                if lang == "sv" else
                f"Linked stays (transfers, same-day returns) form one care episode; {n_excl} index episodes "
                f"were excluded (age, death at discharge or incomplete follow-up).")
        text = (f"## {_t('readmission', lang)}\n\n"
                + nar.describe_series(table, x="year", y="rate", what=what, language=lang, lower="ci_lower",
                                      upper="ci_upper", percent=True) + f" {note}")
        return Section("readmission", _t("readmission", lang), text, table, files)

    def _build_ed_visits(self) -> Section:
        from naravard_analysis.indicators.avoidable import ed_visit_rates

        lang = self.language
        rates = ed_visit_rates(self.data.contacts, self.data.population, persons=self.data.persons, min_age=80)
        rates = rates[rates["year"].isin(self._years())]
        cols = ["year", "events", "population", "crude_rate", "lower", "upper"]
        table = suppress(rates[cols].reset_index(drop=True), ["events", "population"], min_count=self.min_count,
                         secondary=False)
        fig = plot_lines(table, x="year", y="crude_rate", lower="lower", upper="upper", language=lang,
                         title=_t("ed_visits", lang), ylabel=label("rate_per_1000", lang))
        files = self._save("ed_visits", fig, table, ["events", "population"])
        per = " per 1 000" if lang == "sv" else " per 1,000"
        what = "Akutbesök (80 år och äldre)" if lang == "sv" else "ED visits (aged 80+)"
        text = (f"## {_t('ed_visits', lang)}\n\n"
                + nar.describe_series(table, x="year", y="crude_rate", what=what, language=lang,
                                      lower="lower", upper="upper", per=per))
        return Section("ed_visits", _t("ed_visits", lang), text, table, files)

    def _build_its(self) -> Section:
        from naravard_analysis.methods.its import fit_its, monthly_series

        lang = self.language
        p = self.params
        unplanned = self.data.admissions[~self.data.admissions["planned"].to_numpy(dtype=bool)]
        series = monthly_series(unplanned, self.data.population, date="admission_date",
                                start=f"{p['start_year']}-01-01", end=f"{p['end_year']}-12-01")
        result = fit_its(series, outcome="events", time="period", interruption=p["interruption"],
                         family="quasipoisson", exposure="population", harmonics=2,
                         exclude=(p["covid_start"], p["covid_end"]))
        fitted = result.predict()
        cf = result.predict(counterfactual=True)
        table = series.assign(
            fitted=fitted["predicted"].to_numpy(),
            counterfactual=cf["predicted"].to_numpy(),
            excluded=fitted["excluded"].to_numpy(),
        )
        table = suppress(table, ["events", "population"], min_count=self.min_count, secondary=False)
        fig = result.plot(language=lang)
        files = self._save("its", fig, table, ["events", "population"])
        eff = result.effects
        what_level = "Nivåförändring vid avbrottet" if lang == "sv" else "Level change at the interruption"
        what_slope = "Förändring av månatlig trend" if lang == "sv" else "Change in monthly trend"
        cum = result.cumulative_effect()
        sentences = [
            nar.describe_ratio(what_level, eff.loc["level_change", "ratio"], eff.loc["level_change", "ratio_lower"],
                               eff.loc["level_change", "ratio_upper"], language=lang),
            nar.describe_ratio(what_slope, eff.loc["slope_change", "ratio"], eff.loc["slope_change", "ratio_lower"],
                               eff.loc["slope_change", "ratio_upper"], language=lang),
            nar.describe_ratio(
                "Hela efterperioden, observerat mot kontrafaktiskt" if lang == "sv"
                else "Whole post period, observed vs counterfactual",
                1 + float(cum["relative"].iloc[0]), 1 + float(cum["relative_lower"].iloc[0]),
                1 + float(cum["relative_upper"].iloc[0]), language=lang),
        ]
        model = (f"Kvasi-Poisson-regression med befolkningen som offset, två par Fourier-termer för säsong; "
                 f"avbrott {p['interruption']}; månaderna {p['covid_start']} – {p['covid_end']} (covid-19) "
                 f"ingår inte i skattningen." if lang == "sv" else
                 f"Quasi-Poisson regression with the population as offset and two Fourier pairs for season; "
                 f"interruption {p['interruption']}; the months {p['covid_start']} – {p['covid_end']} "
                 f"(COVID-19) are left out of the fit.")
        text = f"## {_t('its', lang)}\n\n{model} " + " ".join(sentences)
        return Section("its", _t("its", lang), text, table, files)

    def _build_mobile_teams(self) -> Section:
        from naravard_analysis.methods.evaluation import evaluate_enrolments

        lang = self.language
        sv = lang == "sv"
        if self.data.enrolments is None or self.data.enrolments.empty:
            text = (f"## {_t('mobile_teams', lang)}\n\n"
                    + ("Data innehåller inga inskrivningar i mobila team." if sv
                       else "The data hold no mobile-team enrolments."))
            return Section("mobile_teams", _t("mobile_teams", lang), text)
        matched = evaluate_enrolments(self.data, intervention="mobile_team", design="matched_did", seed=0)
        est = matched.estimates.reset_index()
        table = est.assign(naive_ratio=1 + est["naive_change"])[
            ["outcome", "n_cases", "n_controls", "naive_ratio", "estimate", "lower", "upper", "p_value"]
        ]
        table = suppress(table, ["n_cases", "n_controls"], min_count=self.min_count, secondary=False)
        fig = plot_forest(table, label_col="outcome", estimate="estimate", lower="lower", upper="upper",
                          naive="naive_ratio", title=_t("mobile_teams", lang), language=lang,
                          xlabel=("Kvot (efter/före, jämfört med kontroller)" if sv
                                  else "Ratio (after/before, relative to controls)"))
        files = self._save("mobile_teams", fig, table, ["n_cases", "n_controls"])
        n_cases = table["n_cases"].iloc[0]
        intro = (
            f"Före–efter-jämförelsen bland de inskrivna (som rapporterna gör) visar minskningar på "
            f"{format_number(-100 * table['naive_ratio'].sub(1).max(), lang)}–"
            f"{format_number(-100 * table['naive_ratio'].sub(1).min(), lang)} %. Personer skrivs in strax efter "
            f"en topp i vårdkonsumtion och förbättras delvis ändå (regression mot medelvärdet). "
            f"Jämfört med matchade kontroller vid samma tidpunkt ({format_number(n_cases, lang)} inskrivna med "
            f"kontroller):"
            if sv else
            f"The before/after comparison among the enrolled (as the reports make it) shows drops of "
            f"{format_number(-100 * table['naive_ratio'].sub(1).max(), lang)}–"
            f"{format_number(-100 * table['naive_ratio'].sub(1).min(), lang)} %. People are enrolled just after a "
            f"spike in care and partly improve anyway (regression to the mean). Against matched controls at the "
            f"same date ({format_number(n_cases, lang)} enrolled with controls):"
        )
        ratios = [
            nar.describe_ratio(label(row.outcome, lang), row.estimate, row.lower, row.upper, language=lang)
            for row in table.itertuples()
        ]
        text = f"## {_t('mobile_teams', lang)}\n\n{intro}\n\n" + "\n".join(f"- {r}" for r in ratios)
        return Section("mobile_teams", _t("mobile_teams", lang), text, table, files)

    # ----------------------------------------------------------------- outputs
    def write_tables(self) -> Path:
        """Write every section's table to ``tables.xlsx`` with an about sheet."""
        lang = self.language
        about = {
            ("Region" if lang == "sv" else "Region"): f"{self.params['region_code']} {self.region_name}",
            ("Period" if lang == "sv" else "Period"): f"{self.params['start_year']}–{self.params['end_year']}",
            ("Källa" if lang == "sv" else "Source"): (
                label("source_synthetic", lang) if self.data.meta.get("source") == "synthetic"
                else str(self.data.meta.get("source", ""))
            ),
            ("Definitioner" if lang == "sv" else "Definitions"): (
                "Se naravard_analysis: continuity (DEFINITIONS 1), avoidable (3), readmission (4), "
                "standardisation (5), ITS (6), evaluation (7)."
            ),
        }
        return write_tables(self.tables, self.output_dir / "tables.xlsx", min_count=self.min_count,
                            language=lang, about=about)

    def closing(self) -> str:
        """Where the outputs are."""
        sv = self.language == "sv"
        return (
            "Figurerna finns som PNG och SVG med siffrorna bakom varje figur som CSV i mappen `figures/`; "
            "tabellerna finns i `tables.xlsx`." if sv else
            "Figures are in `figures/` as PNG and SVG, each with the CSV of the numbers behind it; "
            "the tables are in `tables.xlsx`."
        )
