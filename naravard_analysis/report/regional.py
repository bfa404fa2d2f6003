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
mobile_teams  mobile-team evaluation: naive before/after vs target trial, with falsification checks
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from naravard_analysis.data import RegisterData
from naravard_analysis.errors import DataWarning, ParameterError, SchemaError
from naravard_analysis.report import narrative as nar
from naravard_analysis.report.disclosure import DisclosureRegistry
from naravard_analysis.report.figures import plot_forest, plot_its, plot_lines, save_figure
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
    "skipped": ("Avsnittet utelämnas: {reason}", "This section is left out: {reason}"),
    "no_table": ("data saknar tabellen {table}.", "the data hold no {table} table."),
    "no_years": (
        "data täcker inget helt kalenderår inom {period}.",
        "the data cover no whole calendar year within {period}.",
    ),
    "too_few": ("visas inte (bygger på för få personer eller händelser).",
                "not shown (it rests on too few persons or events)."),
    "data_rule": (
        "data uppfyller inte en regel som beräkningen kräver ({where}{rule}).",
        "the data do not meet a rule the calculation needs ({where}{rule}).",
    ),
}

#: Tables each section needs (a section whose table is missing or empty is left out, saying so).
_REQUIRES = {
    "overview": (),
    "continuity": ("contacts",),
    "named_doctor": ("listings", "persons"),
    "avoidable": ("admissions", "persons", "population"),
    "readmission": ("admissions", "persons"),
    "ed_visits": ("contacts", "persons", "population"),
    "its": ("admissions", "population"),
    "mobile_teams": (),
}
#: Fewest fitted periods on each side of the interruption (design choice: with two Fourier pairs
#: and a trend per segment, fewer than a year of months leaves the pre-period trend unsupported;
#: Lopez Bernal, Cummins & Gasparrini 2017 discuss the number of points needed).
_ITS_MIN_POINTS = {"MS": 12, "QS": 8}


def _t(key: str, language: str, **fmt: Any) -> str:
    text = _T[key][0 if language == "sv" else 1]
    return text.format(**fmt) if fmt else text


def _local(df: Any) -> pd.DataFrame:
    """A per-person result computed on Dask, gathered (it is one row per stay or episode)."""
    return df.compute() if hasattr(df, "compute") else df


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
    skipped: str | None = None

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
    engine
        ``"pandas"`` (default) or ``"dask"``: the per-person flags (avoidable hospitalisation,
        readmission) are computed on Dask -- on the ``dask.distributed`` cluster of the current
        client (:func:`naravard_analysis.engine.connect`) -- and only their rates come back; the
        other sections run in pandas. The numbers are the same with both engines.
    """

    def __init__(self, data: RegisterData, *, engine: str = "pandas", **params: Any) -> None:
        self.data = data
        self.engine = engine
        self.params = params
        self.language = check_language(params.get("language", "sv"))
        self.min_count = int(params.get("min_count", 5))
        self.output_dir = Path(params["output_dir"])
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.tables: dict[str, pd.DataFrame] = {}
        self.sections: dict[str, Section] = {}
        # every table and figure dataset of the report is published through one registry
        self.registry = DisclosureRegistry(self.min_count)
        self.period = self._period()

    # ----------------------------------------------------------------- helpers
    @property
    def region_name(self) -> str:
        from naravard_analysis.data.official import regions

        reg = regions().set_index("region_code")
        code = self.params["region_code"]
        return str(reg.loc[code, "region_name_short"]) if code in reg.index else code

    def _coverage(self) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        """The period the data cover: the bundle's recorded period (narrowed by a restriction),
        otherwise the first to the last event date of its event tables."""
        meta = self.data.meta
        lo = hi = None
        if meta.get("period"):
            lo, hi = (pd.Timestamp(x) for x in meta["period"][:2])
        else:
            dates = [
                df[col] for name, col in (("admissions", "admission_date"), ("contacts", "contact_date"))
                if (df := self.data.tables.get(name)) is not None and len(df)
            ]
            if dates:
                lo = min(pd.Timestamp(d.min()) for d in dates)
                hi = max(pd.Timestamp(d.max()) for d in dates)
        restricted = meta.get("restricted") or {}
        if lo is not None and restricted.get("start"):
            lo = max(lo, pd.Timestamp(restricted["start"]))
        if hi is not None and restricted.get("end"):
            hi = min(hi, pd.Timestamp(restricted["end"]))
        return None if lo is None else (lo, hi)

    def _period(self) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        """The report's period: the parameters' years within the data's coverage (None if empty)."""
        lo = pd.Timestamp(f"{self.params['start_year']}-01-01")
        hi = pd.Timestamp(f"{self.params['end_year']}-12-31")
        cover = self._coverage()
        if cover is not None:
            lo, hi = max(lo, cover[0]), min(hi, cover[1])
        return (lo, hi) if lo <= hi else None

    def _years(self) -> list[int]:
        """Whole calendar years in the report's period (a year is never counted from part of it)."""
        if self.period is None:
            return []
        lo, hi = self.period
        first = lo.year if (lo.month, lo.day) == (1, 1) else lo.year + 1
        last = hi.year if (hi.month, hi.day) == (12, 31) else hi.year - 1
        return list(range(first, last + 1))

    def _months(self) -> pd.DatetimeIndex:
        """Month starts from the first to the last month of the report's period."""
        if self.period is None:
            return pd.DatetimeIndex([])
        lo, hi = self.period
        return pd.date_range(lo.to_period("M").start_time, hi.to_period("M").start_time, freq="MS")

    def _publish(self, key: str, table: pd.DataFrame, counts: list[str], **kw: Any) -> pd.DataFrame:
        """Suppress ``table`` through the report's registry (jointly with the other outputs)."""
        kw.setdefault("secondary", False)
        safe = self.registry.publish(key, table.reset_index(drop=True), counts, language=self.language, **kw)
        self.tables[key] = safe
        return safe

    def _save(self, key: str, fig: plt.Figure, table: pd.DataFrame, counts: list[str]) -> dict[str, Path]:
        return save_figure(
            fig, table, f"{key}", self.output_dir / "figures", count_cols=counts,
            min_count=self.min_count, language=self.language, registry=self.registry,
        )

    def _count(self, n: object, table: pd.DataFrame | None = None) -> str:
        """A count for the text under the tables' rule; when ``table`` (the section's published
        table) hides any count, the number is not given at all, so text and table cannot be
        differenced."""
        hidden = table is not None and any(
            (table[c + "_suppressed"].astype(str) != "").any()
            for c in (table.attrs.get("disclosure") or {}).get("count_cols", [])
        )
        return nar.describe_count(None if hidden else n, self.min_count, language=self.language)

    def _skip(self, key: str, reason: str) -> Section:
        text = f"## {_t(key, self.language)}\n\n{_t('skipped', self.language, reason=reason)}"
        return Section(key, _t(key, self.language), text, skipped=reason)

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
        years = self._years()
        period = f"{years[0]}–{years[-1]}" if years else f"{self.params['start_year']}–{self.params['end_year']}"
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
            self.sections[key] = self._precondition(key) or self._guarded(key, builder)
        return self.sections[key]

    def _guarded(self, key: str, builder: Callable[[], Section]) -> Section:
        """Build a section; when the data break a rule its indicator needs (a ``SchemaError``),
        the section is left out naming the table, column and rule, and the report goes on.

        The error's own message is not published: its row counts and examples describe the data
        and may be small. Programming errors are not caught.
        """
        try:
            return builder()
        except SchemaError as err:
            self.tables.pop(key, None)
            where = ".".join(str(x) for x in (err.table, err.column) if x)
            rule = err.rule if not any(ch.isdigit() for ch in err.rule) else ""
            warnings.warn(f"report section {key!r} left out: {where}: {rule or 'a data rule'}",
                          DataWarning, stacklevel=3)
            return self._skip(key, _t("data_rule", self.language, where=where,
                                      rule=f": {rule}" if rule else ""))

    def _precondition(self, key: str) -> Section | None:
        """The section left out with its reason when a table it needs is missing or no whole
        year is covered; None when it can be built."""
        for name in _REQUIRES[key]:
            df = self.data.tables.get(name)
            if df is None or df.empty:
                return self._skip(key, _t("no_table", self.language, table=name))
        if key != "overview" and not self._years():
            period = f"{self.params['start_year']}–{self.params['end_year']}"
            return self._skip(key, _t("no_years", self.language, period=period))
        return None

    # ----------------------------------------------------------------- sections
    def _build_overview(self) -> Section:
        lang = self.language
        rows = []
        for name, df in self.data.tables.items():
            if name == "population":
                continue
            rows.append({"table": name, "n": int(len(df))})
        persons = self.data.persons
        if persons is not None and self.period is not None:
            rows.append({"table": "persons_65plus_alive_at_end", "n": int(
                ((self.period[1] - persons["birth_date"]).dt.days // 365.25 >= 65)
                .where(persons["death_date"].isna(), False).sum()
            )})
        table = self._publish("overview", pd.DataFrame(rows), ["n"])
        n = dict(zip(table["table"], table["n"], strict=True))

        def num(key: str) -> str:
            return nar.describe_count(n.get(key), self.min_count, language=lang)

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
        years = self._years()
        base = self.params["baseline_year"]
        if base not in years:
            return self._skip("continuity", (
                f"basåret {base} för målet ligger utanför de år data täcker ({years[0]}–{years[-1]})."
                if lang == "sv" else
                f"the target's baseline year {base} lies outside the years the data cover "
                f"({years[0]}–{years[-1]})."))
        contacts = self.data.contacts
        contacts = contacts[contacts["contact_date"].dt.year.isin(years)]
        k = kontinuitetsindex(contacts, baseline_year=base)
        k = k[k["year"].isin(years)]
        cols = ["staff", "year", "n_persons", "n_eligible", "coc", "lower", "upper", "relative_change", "target_met"]
        k = k[cols].reset_index(drop=True)
        # The change from the baseline year is a function of the baseline's COC as well: where
        # that is hidden (too few persons in the baseline year), coc / (1 + change) would give it
        # back, so the change and whether the target is met go with the baseline's counts too.
        base_counts = k[k["year"] == base].set_index("staff")[["n_persons", "n_eligible"]]
        hidden = {f"baseline_{c}": k["staff"].map(base_counts[c]).to_numpy(dtype=float) for c in base_counts}
        own = ["n_persons", "n_eligible"]
        table = self._publish("continuity", k, own, rate_cols={
            "coc": own, "relative_change": [*own, *hidden], "target_met": [*own, *hidden],
        }, interval_cols={"lower": "coc", "upper": "coc"}, hidden_counts=hidden)
        fig = plot_lines(table, x="year", y="coc", hue="staff", lower="lower", upper="upper",
                         language=lang, title=label("coc", lang))
        files = self._save("continuity", fig, table, ["n_persons", "n_eligible"])
        who = {"physician": ("läkare", "physicians"), "all": ("alla personalkategorier", "all staff")}
        sentences = []
        for staff, part in table.groupby("staff", sort=True):
            name = who.get(staff, (staff, staff))[0 if lang == "sv" else 1]
            what = f"COC ({name})"
            sentences.append(nar.describe_series(part, x="year", y="coc", what=what, language=lang,
                                                 lower="lower", upper="upper", decimals=3))
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
        table = self._publish("named_doctor", share[cols], ["n_population", "n_named_doctor"])
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
        flags = _local(flag_avoidable(self.data.admissions, self.data.persons,
                                      definition="socialstyrelsen_chronic", engine=self.engine))
        # A small area may have nobody in the oldest band some year (the standardised rate is then
        # undefined): merge the oldest bands (85+, then 80+) and say so, or leave the section out.
        for top_age in (None, 85, 80):
            try:
                rates = avoidable_rates(flags, self.data.population, by=("year",), standard="esp2013", min_age=20,
                                        top_age=top_age)
                break
            except SchemaError as err:
                if "population 0" not in str(err):
                    raise
        else:
            return self._skip("avoidable", (
                "befolkningen saknar personer i de äldsta åldersbanden (80+) något år, så den "
                "åldersstandardiserade takten är odefinierad." if lang == "sv" else
                "the population has nobody in the oldest age bands (80+) in some year, so the "
                "age-standardised rate is undefined."))
        rates = rates[rates["year"].isin(self._years())]
        cols = ["year", "events", "population", "crude_rate", "adjusted_rate", "lower", "upper"]
        table = self._publish("avoidable", rates[cols], ["events", "population"])
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
        if top_age is not None:
            note += (f" Åldersbanden från {top_age} år är sammanslagna (för få äldre i området)." if lang == "sv"
                     else f" Age bands from {top_age} are merged (too few older residents in the area).")
        years = flags["admission_date"].dt.year.isin(self._years()) if "admission_date" in flags else True
        n_excl = int((flags["excluded_reason"].notna() & years).sum()) if "excluded_reason" in flags else 0
        n_text = self._count(n_excl, table)
        excl = (f" {n_text[:1].upper() + n_text[1:]} vårdtillfällen uteslöts enligt definitionens regler."
                if lang == "sv" else f" {n_text[:1].upper() + n_text[1:]} stays were excluded by the definition's rules.")
        text = (f"## {_t('avoidable', lang)}\n\n"
                + nar.describe_series(table, x="year", y="adjusted_rate", what=what, language=lang,
                                      lower="lower", upper="upper", per=per) + f" {note}{excl}")
        return Section("avoidable", _t("avoidable", lang), text, table, files)

    def _build_readmission(self) -> Section:
        from naravard_analysis.indicators.readmission import flag_readmissions, readmission_rates

        lang = self.language
        flags = _local(flag_readmissions(self.data.admissions, self.data.persons,
                                         variant="socialstyrelsen", engine=self.engine))
        flags = flags.assign(year=flags["discharge_date"].dt.year)
        rates = readmission_rates(flags, by="year")
        rates = rates[rates["year"].isin(self._years())].reset_index(drop=True)
        cols = ["year", "n_index", "eligible", "readmitted", "rate", "lower", "upper"]
        counts = ["n_index", "eligible", "readmitted"]
        table = self._publish("readmission", rates[cols], counts, rate_cols={"rate": ["readmitted", "eligible"]})
        fig = plot_lines(table, x="year", y="rate", lower="lower", upper="upper", language=lang,
                         percent=True, title=_t("readmission", lang), ylabel=label("readmission_rate", lang))
        files = self._save("readmission", fig, table, counts)
        what = ("Andel oplanerade återinskrivningar inom 1–30 dagar (65 år och äldre)" if lang == "sv"
                else "Share with an unplanned readmission within 1–30 days (aged 65+)")
        excluded = {c: int(rates[c].sum()) for c in rates.columns if c.startswith("excluded_")}
        n_excl = self._count(sum(excluded.values()), table)
        note = (f"Vårdtillfällen som hänger ihop (överflyttningar, återkomst samma dag) räknas som en vårdepisod; "
                f"{n_excl} indexepisoder uteslöts (ålder, död vid utskrivning eller ofullständig uppföljning)."
                if lang == "sv" else
                f"Linked stays (transfers, same-day returns) form one care episode; {n_excl} index episodes "
                f"were excluded (age, death at discharge or incomplete follow-up).")
        text = (f"## {_t('readmission', lang)}\n\n"
                + nar.describe_series(table, x="year", y="rate", what=what, language=lang, lower="lower",
                                      upper="upper", percent=True) + f" {note}")
        return Section("readmission", _t("readmission", lang), text, table, files)

    def _build_ed_visits(self) -> Section:
        from naravard_analysis.indicators.avoidable import ed_visit_rates

        lang = self.language
        years = self._years()
        contacts = self.data.contacts
        contacts = contacts[contacts["contact_date"].dt.year.isin(years).to_numpy(dtype=bool)]
        population = self.data.population
        population = population[population["year"].isin(years).to_numpy(dtype=bool)]
        try:
            rates = ed_visit_rates(contacts, population, persons=self.data.persons, min_age=80)
        except SchemaError as err:
            if not err.rule.startswith("population 0 in every age band"):
                raise
            # The population counts residents on 31 December, the visits every day of the year:
            # in a small area the last person aged 80+ may have died or moved during a year.
            return self._skip("ed_visits", (
                "befolkningen har något år ingen invånare som är 80 år eller äldre den 31 december, så "
                "besökstakten är odefinierad." if lang == "sv" else
                "in some year nobody aged 80+ lives in the area on 31 December, so the visit rate is "
                "undefined."))
        rates = rates[rates["year"].isin(years)]
        cols = ["year", "events", "population", "crude_rate", "lower", "upper"]
        table = self._publish("ed_visits", rates[cols], ["events", "population"])
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
        """ITS of unplanned admissions on the finest grain whose every cell may be published.

        The fitted curve of a Poisson-type model is not harmless beside a hidden count: its score
        equations (sum of observed = sum of fitted, per design column) give sums of the hidden
        counts back. So the series is fitted and drawn monthly only when no month holds a count
        of 1 .. min_count - 1, else quarterly, else the section is left out with the reason.
        """
        from naravard_analysis.methods.its import monthly_series

        lang = self.language
        sv = lang == "sv"
        p = self.params
        months = self._months()
        first, last = months[0], months[-1]
        interruption = pd.Timestamp(p["interruption"])
        if not first < interruption <= last:
            return self._skip("its", (
                f"avbrottet {p['interruption']} ligger inte inom data ({first:%Y-%m}–{last:%Y-%m})."
                if sv else f"the interruption {p['interruption']} lies outside the data "
                f"({first:%Y-%m}–{last:%Y-%m})."))
        unplanned = self.data.admissions[~self.data.admissions["planned"].to_numpy(dtype=bool)]
        for freq in ("MS", "QS"):
            pfreq = "M" if freq == "MS" else "Q"
            start = pd.Period(first, pfreq).start_time
            if start < first:  # never a period the data cover only in part
                start = (pd.Period(first, pfreq) + 1).start_time
            end = pd.Period(last, pfreq)
            if end.end_time.to_period("M").start_time > last:  # the last period only in part
                end -= 1
            end = end.start_time
            series = monthly_series(unplanned, self.data.population, date="admission_date", freq=freq,
                                    start=start, end=end)
            if ((series["events"] > 0) & (series["events"] < self.min_count)).any():
                continue
            at = pd.Period(interruption, pfreq).start_time
            covid = (pd.Period(pd.Timestamp(p["covid_start"]), pfreq).start_time,
                     pd.Period(pd.Timestamp(p["covid_end"]), pfreq).start_time)
            fitted_periods = ~series["period"].between(*covid)
            n_pre = int((fitted_periods & (series["period"] < at)).sum())
            n_post = int((fitted_periods & (series["period"] >= at)).sum())
            need = _ITS_MIN_POINTS[freq]
            if min(n_pre, n_post) < need:
                unit = ("månader" if sv else "months") if freq == "MS" else ("kvartal" if sv else "quarters")
                return self._skip("its", (
                    f"för få {unit} att skatta före ({n_pre}) eller efter ({n_post}) avbrottet; minst {need} behövs."
                    if sv else f"too few {unit} to fit before ({n_pre}) or after ({n_post}) the interruption; "
                    f"at least {need} are needed."))
            # The overview publishes the number of stays; stays minus the series' sum is a count
            # too (planned stays, stays outside the series' periods) and must not be small.
            rest = len(self.data.admissions) - int(series["events"].sum())
            if 0 < rest < self.min_count:
                return self._skip("its", (
                    "tidsserien och antalet vårdtillfällen i översikten skulle tillsammans visa ett antal "
                    f"under {self.min_count} (övriga vårdtillfällen)." if sv else
                    "the series and the number of stays in the overview would together show a count below "
                    f"{self.min_count} (the other stays)."))
            return self._its_section(series, freq, at, covid)
        return self._skip("its", (
            f"för få händelser per månad och per kvartal: en tidsserie skulle visa antal under {self.min_count}."
            if sv else f"too few events per month and per quarter: a time series would show counts below "
            f"{self.min_count}."))

    def _its_section(self, series: pd.DataFrame, freq: str, at: pd.Timestamp,
                     covid: tuple[pd.Timestamp, pd.Timestamp]) -> Section:
        from naravard_analysis.methods.its import fit_its

        lang = self.language
        monthly = freq == "MS"
        result = fit_its(series, outcome="events", time="period", interruption=at,
                         family="quasipoisson", exposure="population", harmonics=2 if monthly else 1,
                         period=12 if monthly else 4, exclude=covid)
        fitted = result.predict()
        cf = result.predict(counterfactual=True)
        per = 100_000 / series["population"].to_numpy(dtype=float)
        post = cf["post"].to_numpy(dtype=bool)
        table = pd.DataFrame({
            "period": series["period"].to_numpy(),
            "events": series["events"].to_numpy(),
            "population": series["population"].to_numpy(),
            "rate": series["events"].to_numpy() * per,
            "fitted_rate": fitted["predicted"].to_numpy() * per,
            "counterfactual_rate": (cf["predicted"].to_numpy() * per),
            "counterfactual_lower": (cf["lower"].to_numpy() * per),
            "counterfactual_upper": (cf["upper"].to_numpy() * per),
            "excluded": fitted["excluded"].to_numpy(dtype=bool),
        })
        for c in ("counterfactual_rate", "counterfactual_lower", "counterfactual_upper"):
            table.loc[~post, c] = float("nan")
        table = self._publish("its", table, ["events", "population"],
                              rate_cols={"rate": ["events", "population"],
                                         "fitted_rate": ["events", "population"],
                                         "counterfactual_rate": ["events", "population"]},
                              interval_cols={"counterfactual_lower": "counterfactual_rate",
                                             "counterfactual_upper": "counterfactual_rate"})
        fig = plot_its(table, interruption=at, language=lang, title=_t("its", lang),
                       ylabel=label("rate_per_100000", lang))
        files = self._save("its", fig, table, ["events", "population"])
        eff = result.effects
        what_level = "Nivåförändring vid avbrottet" if lang == "sv" else "Level change at the interruption"
        what_slope = (("Förändring av månatlig trend" if monthly else "Förändring av trend per kvartal")
                      if lang == "sv" else ("Change in monthly trend" if monthly else "Change in quarterly trend"))
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
        first, last = table["period"].iloc[0], table["period"].iloc[-1]
        if monthly:
            grain = (f"Månadsdata {first:%Y-%m}–{last:%Y-%m}; två par Fourier-termer för säsong"
                     if lang == "sv" else f"Monthly data {first:%Y-%m}–{last:%Y-%m}; two Fourier pairs for season")
        else:
            grain = (f"Kvartalsdata {first:%Y-%m}–{last:%Y-%m} (för få händelser per månad för att visa "
                     f"månader); ett par Fourier-termer för säsong" if lang == "sv" else
                     f"Quarterly data {first:%Y-%m}–{last:%Y-%m} (too few events per month to show months); "
                     f"one Fourier pair for season")
        model = (f"Kvasi-Poisson-regression med befolkningen som offset. {grain}; "
                 f"avbrott {at:%Y-%m-%d}; perioderna {covid[0]:%Y-%m-%d} – {covid[1]:%Y-%m-%d} (covid-19) "
                 f"ingår inte i skattningen." if lang == "sv" else
                 f"Quasi-Poisson regression with the population as offset. {grain}; "
                 f"interruption {at:%Y-%m-%d}; the periods {covid[0]:%Y-%m-%d} – {covid[1]:%Y-%m-%d} "
                 f"(COVID-19) are left out of the fit.")
        text = f"## {_t('its', lang)}\n\n{model} " + " ".join(sentences)
        return Section("its", _t("its", lang), text, table, files)

    def _build_mobile_teams(self) -> Section:
        lang = self.language
        sv = lang == "sv"
        if self.data.enrolments is None or self.data.enrolments.empty:
            text = (f"## {_t('mobile_teams', lang)}\n\n"
                    + ("Data innehåller inga inskrivningar i mobila team." if sv
                       else "The data hold no mobile-team enrolments."))
            return Section("mobile_teams", _t("mobile_teams", lang), text)
        matched, outcomes, negative = _evaluate_mobile_teams(self.data)
        table = self._publish_mobile_teams(matched, outcomes)
        fig = plot_forest(table, label_col="outcome", estimate="estimate", lower="lower", upper="upper",
                          naive="naive_ratio", title=_t("mobile_teams", lang), language=lang,
                          xlabel=("Kvot (efter/före, jämfört med kontroller)" if sv
                                  else "Ratio (after/before, relative to controls)"))
        files = self._save("mobile_teams", fig, table, ["n_enrolled", "n_cases", "n_controls"])
        n_cases = self._count(table["n_cases"].iloc[0])
        drops = -100 * table["naive_ratio"].sub(1)
        naive_text = (f"{format_number(drops.min(), lang)}–{format_number(drops.max(), lang)} %"
                      if drops.notna().any() else
                      ("(visas inte: för få inskrivna eller händelser)" if sv
                       else "(not shown: too few enrolled or events)"))
        intro = (
            f"Före–efter-jämförelsen bland de inskrivna (som rapporterna gör) visar minskningar på "
            f"{naive_text}. Personer skrivs in strax efter "
            f"en topp i vårdkonsumtion och förbättras delvis ändå (regression mot medelvärdet). "
            f"Jämfört med matchade kontroller vid samma tidpunkt ({n_cases} inskrivna med "
            f"kontroller):"
            if sv else
            f"The before/after comparison among the enrolled (as the reports make it) shows drops of "
            f"{naive_text}. People are enrolled just after a "
            f"spike in care and partly improve anyway (regression to the mean). Against matched controls at the "
            f"same date ({n_cases} enrolled with controls):"
        )
        ratios = [
            nar.describe_ratio(label(row.outcome, lang), row.estimate, row.lower, row.upper, language=lang)
            if row.estimate_suppressed == "" else f"{label(row.outcome, lang)}: {_t('too_few', lang)}"
            for row in table.itertuples()
        ]
        text = f"## {_t('mobile_teams', lang)}\n\n{intro}\n\n" + "\n".join(f"- {r}" for r in ratios)
        text += "\n\n" + _mobile_team_checks(matched, table, negative, self.min_count, lang)
        return Section("mobile_teams", _t("mobile_teams", lang), text, table, files)

    def _publish_mobile_teams(self, matched: Any, outcomes: list[str]) -> pd.DataFrame:
        """The mobile-team table, each ratio tied to every count it is computed from.

        The naive before/after ratio comes from all analysable enrolled (``naive_change`` of the
        trial result, with its persons ``n_naive`` and its events before and after,
        ``naive_events_pre`` / ``naive_events_post``), the matched estimate from the cases and
        controls and their events after enrolment, the placebo-date estimate from the same cases
        and controls and their weighted events in the placebo window (``placebo_events_cases`` /
        ``placebo_events_controls`` of ``sensitivity``). None of these event counts is published,
        yet a ratio of 2/14 = 1/7 gives the after-count back: they go to the disclosure check as
        hidden counts (:func:`~naravard_analysis.report.disclosure.suppress`). A weighted count
        (the controls' events carry sampling weights) counts as small below ``min_count`` like a
        whole one: 4.5 events hide the ratio as 4 would.
        """
        est = matched.estimates.loc[outcomes]
        sens = matched.sensitivity.reindex(est.index)
        arms = _arm_events(matched).reindex(est.index)
        table = pd.DataFrame({
            "outcome": est.index.to_numpy(),
            "n_enrolled": int(matched.settings.get("n_enrolled", 0)),
            "n_cases": est["n_cases"].to_numpy(), "n_controls": est["n_controls"].to_numpy(),
            "naive_ratio": 1 + est["naive_change"].to_numpy(dtype=float),
            **{c: est[c].to_numpy(dtype=float) for c in ("estimate", "lower", "upper", "p_value")},
            **{c: sens[c].to_numpy(dtype=float) for c in ("placebo_estimate", "placebo_lower", "placebo_upper")},
        })
        hidden = {
            "naive_persons": est["n_naive"].to_numpy(dtype=float),
            "naive_events_before": est["naive_events_pre"].to_numpy(dtype=float),
            "naive_events_after": est["naive_events_post"].to_numpy(dtype=float),
            **{c: arms[c].to_numpy(dtype=float) for c in arms.columns},
            **{c: sens[c].to_numpy(dtype=float) for c in ("placebo_events_cases", "placebo_events_controls")},
        }
        matched_counts = ["n_cases", "n_controls", *arms.columns]
        return self._publish("mobile_teams", table, ["n_enrolled", "n_cases", "n_controls"], rate_cols={
            "naive_ratio": ["n_enrolled", "naive_persons", "naive_events_before", "naive_events_after"],
            "estimate": matched_counts, "p_value": matched_counts,
            "placebo_estimate": ["n_cases", "n_controls", "placebo_events_cases", "placebo_events_controls"],
        }, interval_cols={"lower": "estimate", "upper": "estimate", "placebo_lower": "placebo_estimate",
                          "placebo_upper": "placebo_estimate"}, hidden_counts=hidden)

    # ----------------------------------------------------------------- outputs
    def write_tables(self) -> Path:
        """Write every section's table to ``tables.xlsx`` as published: headers labelled in the
        report's language, hidden cells marked ``<5`` / ``..`` and the marks explained on the
        "Om data" / "About the data" sheet (:func:`~naravard_analysis.report.tables.write_tables`)."""
        lang = self.language
        about = {
            ("Region" if lang == "sv" else "Region"): f"{self.params['region_code']} {self.region_name}",
            ("Period" if lang == "sv" else "Period"): f"{self.params['start_year']}–{self.params['end_year']}",
            ("Källa" if lang == "sv" else "Source"): (
                label("source_synthetic", lang) if self.data.meta.get("source") == "synthetic"
                else str(self.data.meta.get("source", ""))
            ),
            ("Definitioner" if lang == "sv" else "Definitions"): (
                # no section numbers here: the output scan reads "3 avoidable" as a count
                "Se metodreferensen i naravard_analysis (docs/methods): kontinuitet, undvikbar "
                "slutenvård, återinskrivningar, standardisering, avbrutna tidsserier, utvärdering."
                if lang == "sv"
                else "See the naravard_analysis methods reference (docs/methods): continuity, "
                "avoidable hospitalisation, readmission, standardisation, interrupted time series, "
                "evaluation."
            ),
        }
        return write_tables(self.tables, self.output_dir / "tables.xlsx", min_count=self.min_count,
                            language=lang, about=about, registry=self.registry)

    def closing(self) -> str:
        """Where the outputs are."""
        sv = self.language == "sv"
        return (
            "Figurerna finns som PNG och SVG med siffrorna bakom varje figur som CSV i mappen `figures/`; "
            "tabellerna finns i `tables.xlsx`." if sv else
            "Figures are in `figures/` as PNG and SVG, each with the CSV of the numbers behind it; "
            "the tables are in `tables.xlsx`."
        )


def _evaluate_mobile_teams(data: RegisterData) -> tuple[Any, list[str], str | None]:
    """The matched (target-trial) evaluation with the negative-control outcome among its outcomes
    (so its counts are there to check; the result also carries the naive before/after change with
    its counts), the outcomes shown and the negative control's name."""
    from naravard_analysis.methods.evaluation import DEFAULT_OUTCOMES, evaluate_enrolments
    from naravard_analysis.methods.person_time import OUTCOMES

    outcomes = tuple(o for o in DEFAULT_OUTCOMES if getattr(data, OUTCOMES[o]) is not None)
    negative = "hip_fractures" if data.admissions is not None else None
    with warnings.catch_warnings():  # balance warnings: the numbers are in the checks below
        warnings.simplefilter("ignore")
        matched = evaluate_enrolments(data, intervention="mobile_team", seed=0,
                                      outcomes=(*outcomes, *([negative] if negative else [])))
    return matched, list(outcomes), negative


def _arm_events(result: Any) -> pd.DataFrame:
    """Events behind each outcome's estimate, by arm and window, from the result's analysis
    units: ``cases_after``, ``controls_after`` (and ``_before`` where the design has a
    pre-window). Sums of the weights the design gives each unit's follow-up, so near, not
    always equal to, whole numbers."""
    units = result.units
    treated = units["treated"].to_numpy(dtype=bool)
    rows = {}
    for o in result.estimates.index:
        row = {}
        for window, prefix in (("after", "post_"), ("before", "pre_")):
            col = f"{prefix}{o}"
            if col in units.columns:
                v = units[col].to_numpy(dtype=float)
                row[f"cases_{window}"] = float(v[treated].sum())
                row[f"controls_{window}"] = float(v[~treated].sum())
        rows[o] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def _mobile_team_checks(result: Any, table: pd.DataFrame, negative: str | None, min_count: int,
                        lang: str) -> str:
    """Falsification and sensitivity of the mobile-team estimate, as text (ratios only, no counts).

    Each check is a function of an estimate (an E-value gives the ratio back) and of counts of its
    own, so it is shown only where the estimate is and its own counts may be: E-values and the
    pre-trend test beside each shown estimate; the placebo-date estimate beside each shown estimate
    as ``table`` publishes it (hidden there when its cases' or controls' weighted events in the
    placebo window are below ``min_count``); the negative control when its cases and controls have
    ``min_count`` events or more.
    """
    sv = lang == "sv"
    shown = table.loc[table["estimate_suppressed"].eq(""), "outcome"].tolist()
    if not shown:
        return (f"{label('falsification_checks', lang)}: "
                + ("visas inte, eftersom skattningen bygger på för få personer eller händelser." if sv
                   else "not shown, since the estimate rests on too few persons or events."))
    lines = [label("falsification_checks", lang) + ":"]
    for o in shown:
        r = result.sensitivity.loc[o]
        p = format_number(r["pretrend_p_value"], lang, decimals=2)
        e, el = (format_number(r[c], lang, decimals=2) for c in ("e_value", "e_value_limit"))
        lines.append(f"- {label(o, lang)}: " + (f"förtrendtest p = {p}; E-värde {e} (konfidensgränsen {el})."
                                                if sv else f"pre-trend test p = {p}; E-value {e} "
                                                f"(confidence limit {el})."))
    placebo = label("placebo_dates", lang)
    placebo = placebo[:1].upper() + placebo[1:]
    level = format_number(100 * float(result.settings.get("level", 0.95)), lang, decimals=0)
    for row in table.loc[table["estimate_suppressed"].eq("")].itertuples():
        name = f"- {placebo} ({label(row.outcome, lang)})"
        if row.placebo_estimate_suppressed != "" or pd.isna(row.placebo_estimate):
            lines.append(f"{name}: {_t('too_few', lang)}")
            continue
        est, lo, hi = (format_number(x, lang, decimals=2)
                       for x in (row.placebo_estimate, row.placebo_lower, row.placebo_upper))
        lines.append(f"{name}: " + (f"kvot {est} ({level} % KI {lo}–{hi}); utan snedvridning nära 1." if sv
                                    else f"ratio {est} ({level}% CI {lo}–{hi}); near 1 without bias."))
    if negative and negative in result.negative_control.index:
        counts = _arm_events(result).reindex([negative])
        est = result.estimates.reindex([negative])
        need = [*counts.iloc[0].tolist(), *est[["n_cases", "n_controls"]].iloc[0].tolist(),
                # the weighted events behind the estimate itself (controls: not whole numbers)
                *result.negative_control.reindex(columns=["events_cases", "events_controls"])
                .loc[negative].tolist()]
        r = result.negative_control.loc[negative]
        name = f"{label('negative_control', lang)} ({label(negative, lang)})"
        if all(pd.notna(x) and (x == 0 or x >= min_count) for x in need):
            lines.append("- " + nar.describe_ratio(name, r["estimate"], r["lower"], r["upper"], language=lang))
        else:
            lines.append(f"- {name}: {_t('too_few', lang)}")
    return "\n".join(lines)
