"""Swedish and English labels, sentence templates and number formats: the one bilingual text store.

One dictionary holds every label the package writes, so a figure, a table or a result's summary
says the same thing in both languages. It lives in the kernel layer so that every layer renders
from the same words: the report layer's tables and figures, and the ``summary()`` of the result
objects the methods return (:mod:`naravard_analysis.report.labels` is the report layer's name for
the same objects). Sentence templates of a summary are entries too, keyed by the result they
belong to (``evaluation_*``, ``listing_effect_*``) and filled by :func:`label`'s keyword
arguments.

Unknown keys fall back to the key itself with underscores as spaces, so a new column never
breaks a report; add the translation here when it appears. Every label names one key in both
languages together, so a labelled header can be read back to its key (:func:`label_key`): the
output scan and readers of a published workbook recognise ``Antal`` or ``Index episodes`` as the
counts ``n`` and ``eligible``.

Examples
--------
>>> label("rate_per_100000", "sv")
'Per 100 000 invånare'
>>> label_key("Indexvårdtillfällen")
'eligible'
>>> format_number(1234.5, "sv", decimals=1)
'1\\xa0234,5'
>>> format_level(0.95, "sv"), format_level(0.9, "en")
('95 %', '90%')
"""

from __future__ import annotations

import math

from naravard_analysis.core.defaults import DEFAULT_LANGUAGE
from naravard_analysis.core.results import LANGUAGES, check_language

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "LABELS",
    "label",
    "label_key",
    "format_number",
    "format_level",
    "check_language",
]


#: key -> (Swedish, English)
LABELS: dict[str, tuple[str, str]] = {
    "year": ("År", "Year"),
    "month": ("Månad", "Month"),
    "quarter": ("Kvartal", "Quarter"),
    "sex": ("Kön", "Sex"),
    "F": ("Kvinnor", "Women"),
    "M": ("Män", "Men"),
    "all": ("Alla", "All"),
    "staff": ("Personal", "Staff"),
    "physician": ("Läkare", "Physicians"),
    "period": ("Period", "Period"),
    "total": ("Totalt", "Total"),
    "age": ("Ålder", "Age"),
    "age_group": ("Åldersgrupp", "Age group"),
    "region": ("Region", "Region"),
    "region_code": ("Regionkod", "Region code"),
    "municipality": ("Kommun", "Municipality"),
    "municipality_code": ("Kommunkod", "Municipality code"),
    "unit": ("Vårdcentral", "Primary-care unit"),
    "admissions": ("Vårdtillfällen", "Admissions"),
    "unplanned_admissions": ("Oplanerade vårdtillfällen", "Unplanned admissions"),
    "episodes": ("Vårdepisoder", "Care episodes"),
    "ed_visits": ("Akutbesök", "Emergency-department visits"),
    "bed_days": ("Vårddagar", "Bed days"),
    "hip_fractures": ("Höftfrakturer", "Hip fractures"),
    "falsification_checks": ("Falsifierings- och känslighetskontroller", "Falsification and sensitivity checks"),
    "placebo_dates": ("placebo-indexdatum 12 månader tidigare", "placebo index dates 12 months earlier"),
    "negative_control": ("Negativ kontroll", "Negative control"),
    "deaths": ("Döda", "Deaths"),
    "population": ("Befolkning", "Population"),
    "persons": ("Personer", "Persons"),
    "n": ("Antal", "Number"),
    "events": ("Händelser", "Events"),
    "rate": ("Andel", "Rate"),
    "rate_per_100000": ("Per 100 000 invånare", "Per 100,000 inhabitants"),
    "rate_per_1000": ("Per 1 000 invånare", "Per 1,000 inhabitants"),
    "crude_rate": ("Ojusterad takt", "Crude rate"),
    "adjusted_rate": ("Åldersstandardiserad takt", "Age-standardised rate"),
    "lower": ("Nedre gräns", "Lower limit"),
    "upper": ("Övre gräns", "Upper limit"),
    "ci": ("95 % konfidensintervall", "95% confidence interval"),
    "suppressed": ("Röjandeskyddat", "Suppressed"),
    "suppression_note": (
        "Värden som bygger på färre än {min_count} personer eller händelser visas inte.",
        "Values based on fewer than {min_count} persons or events are not shown.",
    ),
    "source_synthetic": (
        "Källa: syntetiska registerdata (naravard_analysis), inte verkliga patienter.",
        "Source: synthetic register data (naravard_analysis), not real patients.",
    ),
    "about_sheet": ("Om data", "About the data"),
    "admissions_per_month": ("Vårdtillfällen per månad", "Admissions per month"),
    "continuity": ("Kontinuitet", "Continuity"),
    "coc": ("Kontinuitetsindex (COC)", "Continuity of care index (COC)"),
    "upc": ("Andel besök hos vanligaste vårdgivare (UPC)", "Usual provider continuity (UPC)"),
    "named_doctor_share": ("Andel med fast läkarkontakt", "Share with a named doctor"),
    "target": ("Mål", "Target"),
    "readmission_rate": (
        "Andel oplanerade återinskrivningar inom 30 dagar",
        "Unplanned readmissions within 30 days",
    ),
    "avoidable": ("Undvikbar slutenvård", "Avoidable hospitalisation"),
    "observed": ("Observerat", "Observed"),
    "fitted": ("Skattat", "Fitted"),
    "counterfactual": ("Kontrafaktiskt", "Counterfactual"),
    "interruption": ("Intervention", "Interruption"),
    "estimate": ("Skattning", "Estimate"),
    "naive": ("Före–efter (naiv)", "Before–after (naive)"),
    "event_month": ("Månader från inskrivning", "Months from enrolment"),
    "relative": ("Kvot mot perioden före", "Ratio to the period before"),
    "matched": ("Matchade kontroller", "Matched controls"),
    "expected": ("Förväntat antal", "Expected number"),
    "expected_readmissions": ("Förväntat antal återinskrivningar", "Expected readmissions"),
    "oe_ratio": ("Observerat / förväntat", "Observed / expected"),
    "funnel_title": ("Riskjusterad återinskrivning", "Risk-adjusted readmission"),
    "limit_95": ("95 % kontrollgräns", "95% control limit"),
    "limit_998": ("99,8 % kontrollgräns", "99.8% control limit"),
    "day": ("Dagar efter utskrivning", "Days after discharge"),
    "cumulative_incidence": ("Kumulativ incidens", "Cumulative incidence"),
    "readmission": ("Återinskrivning", "Readmission"),
    "death": ("Död", "Death"),
    "eligible": ("Indexvårdtillfällen", "Index episodes"),
    "readmitted": ("Återinskrivna", "Readmitted"),
    "points_suppressed": (
        "Punkter som saknas bygger på färre än {min_count} personer eller händelser och visas inte.",
        "Missing points are based on fewer than {min_count} persons or events and are not shown.",
    ),
    "suppression_mark": ("Markering", "Mark"),
    # columns of the regional report's tables (tables.xlsx)
    "table": ("Tabell", "Table"),
    "n_persons": ("Personer med besök", "Persons with visits"),
    "n_eligible": ("Personer i indexet", "Persons in the index"),
    "relative_change": ("Förändring mot basåret", "Change from the baseline year"),
    "target_met": ("Målet nått", "Target met"),
    "n_population": ("Invånare", "Residents"),
    "n_named_doctor": ("Med fast läkarkontakt", "With a named doctor"),
    "share_named_doctor_proxy": (
        "Andel med fast läkarkontakt (registermått)",
        "Share with a named doctor (register proxy)",
    ),
    "n_index": ("Indexepisoder före uteslutningar", "Index episodes before exclusions"),
    "fitted_rate": ("Skattad takt", "Fitted rate"),
    "counterfactual_rate": ("Kontrafaktisk takt", "Counterfactual rate"),
    "counterfactual_lower": ("Kontrafaktisk nedre gräns", "Counterfactual lower limit"),
    "counterfactual_upper": ("Kontrafaktisk övre gräns", "Counterfactual upper limit"),
    "excluded": ("Utanför skattningen", "Left out of the fit"),
    "outcome": ("Utfall", "Outcome"),
    "n_enrolled": ("Inskrivna", "Enrolled"),
    "n_cases": ("Inskrivna med kontroller", "Enrolled with controls"),
    "n_controls": ("Kontroller", "Controls"),
    "naive_ratio": ("Kvot efter/före (naiv)", "After/before ratio (naive)"),
    "p_value": ("p-värde", "p-value"),
    "placebo_estimate": ("Kvot vid placebo-indexdatum", "Ratio at placebo index dates"),
    "placebo_lower": ("Placebo: nedre gräns", "Placebo: lower limit"),
    "placebo_upper": ("Placebo: övre gräns", "Placebo: upper limit"),
    # summary of methods.evaluation.EvaluationResult
    "evaluation_title": ("Utvärdering av {intervention}", "Evaluation of {intervention}"),
    "evaluation_design_pre_post": (
        "före–efter bland inskrivna (naiv, visar regression mot medelvärdet)",
        "before–after among the enrolled (naive; shows regression to the mean)",
    ),
    "evaluation_design_trial": (
        "sekventiell målförsöksemulering: nyinskrivna mot ännu ej inskrivna i samma kommun "
        "och månad med samma tidigare vårdkonsumtion (per protokoll, censureringsvikter)",
        "sequential target-trial emulation: newly enrolled vs not yet enrolled in the same "
        "area and month with the same earlier use of care (per protocol, censoring weights)",
    ),
    "evaluation_design_matched_did": (
        "matchade kontroller med pseudo-indexdatum, skillnad-i-skillnader på kvotskala",
        "matched controls with pseudo-index dates, difference-in-differences on the rate scale",
    ),
    "evaluation_window": (
        "Fönster: {m} månader före och efter inskrivning.",
        "Window: {m} months before and after enrolment.",
    ),
    "evaluation_cases": (
        "{n} inskrivna analyserade, {k} kontrollfönster.",
        "{n} enrolled analysed, {k} control windows.",
    ),
    "evaluation_unmatched": (
        "{n} inskrivna utan kontroll eller med för kort historik (se matchningsrapporten).",
        "{n} enrolled without a control or with too short a history (see the matching report).",
    ),
    "evaluation_row": (
        "{o}: naiv förändring {naive}, skattad effekt {est} ({lv} KI {lo} till {hi})",
        "{o}: naive change {naive}, estimated effect {est} ({lv} CI {lo} to {hi})",
    ),
    "evaluation_note_trial": (
        "Effekten är en kvot av händelsetakter efter inskrivning: 0,80 betyder 20 % färre "
        "händelser än utan insatsen.",
        "The effect is a ratio of event rates after enrolment: 0.80 means 20% fewer events "
        "than without the intervention.",
    ),
    "evaluation_evalue": (
        "{o}: E-värde {e} (för konfidensgränsen {l}).",
        "{o}: E-value {e} ({l} for the confidence limit).",
    ),
    "evaluation_negctrl": (
        "Negativ kontroll ({o}): kvot {est} ({lv} KI {lo} till {hi}).",
        "Negative control ({o}): ratio {est} ({lv} CI {lo} to {hi}).",
    ),
    "evaluation_placebo": (
        "{o}: placebo-indexdatum {m} månader tidigare, kvot {est} ({lv} KI {lo} till {hi}); "
        "förtrendtest p = {p}.",
        "{o}: placebo index dates {m} months earlier, ratio {est} ({lv} CI {lo} to {hi}); "
        "pre-trend test p = {p}.",
    ),
    "evaluation_note": (
        "Effekten är en kvot av kvoter: 0,80 betyder 20 % färre händelser än utan insatsen.",
        "The effect is a ratio of rate ratios: 0.80 means 20% fewer events than without the "
        "intervention.",
    ),
    "evaluation_balance": (
        "Största absoluta standardiserade skillnad efter matchning: {v}.",
        "Largest absolute standardised mean difference after matching: {v}.",
    ),
    "evaluation_deaths": (
        "Döda under uppföljningen: kvot {est} ({lv} KI {lo} till {hi}).",
        "Deaths during follow-up: rate ratio {est} ({lv} CI {lo} to {hi}).",
    ),
    # axes of EvaluationResult.plot, by plotted column
    "evaluation_axis_relative": ("Kvot mot förperioden", "Ratio to pre-window"),
    "evaluation_axis_ratio": ("Kvot inskrivna/kontroller", "Enrolled/controls"),
    "evaluation_axis_rate_cases": ("Per personår", "Per person-year"),
    # summary of methods.listing_effect.ListingEffect, by design
    "listing_effect_trial": (
        "{o} under {w} månader efter att en fast läkarkontakt getts, jämfört med ännu inte "
        "(samma vårdcentral och månad, samma tidigare vårdkonsumtion): kvot {est} "
        "({lv} KI {lo}–{hi}; avsikt att behandla {itt}).",
        "{o} over {w} months after getting a named doctor vs not yet (same unit and month, "
        "same earlier use of care): rate ratio {est} ({lv} CI {lo}-{hi}; intention to treat {itt}).",
    ),
    "listing_effect_poisson": (
        "{o}: kvot med/utan fast läkarkontakt {est} ({lv} KI {lo}–{hi}; ojusterad {crude}), "
        "justerat för år och {adjust}. Ett samband, inte en bevisad effekt.",
        "{o}: rate ratio with/without a named doctor {est} ({lv} CI {lo}-{hi}; crude {crude}), "
        "adjusted for year and {adjust}. An association, not a proven effect.",
    ),
    "listing_effect_adjust_none": ("inget annat", "nothing else"),
}


def label(key: str, language: str = DEFAULT_LANGUAGE, **fmt: object) -> str:
    """Label for ``key`` in ``language`` (``"sv"`` or ``"en"``), formatted with ``fmt``."""
    check_language(language)
    if key in LABELS:
        text = LABELS[key][0 if language == "sv" else 1]
    else:
        text = str(key).replace("_", " ")
        text = text[:1].upper() + text[1:]
    return text.format(**fmt) if fmt else text


def _fallback_key(text: str) -> str:
    """Inverse of :func:`label`'s fallback (``"N enrolled"`` -> ``"n_enrolled"``); an acronym
    (``"COC"``) keeps its capitals."""
    key = text.strip().replace(" ", "_")
    if len(key) > 1 and key[1].isupper():
        return key
    return key[:1].lower() + key[1:]


_KEYS_BY_LABEL: dict[str, str] = {}


def label_key(text: object, language: str | None = None) -> str:
    """The key whose label is ``text``: the inverse of :func:`label`.

    A header of a published table is read back to the column name it was written from: a label
    of :data:`LABELS` (in ``language``, or in either language when None; case and surrounding
    space ignored) gives its key, any other text the inverse of the fallback (spaces to
    underscores, first letter lower case), so a column without a translation comes back too.

    >>> label_key("Antal"), label_key("Lower limit", "en"), label_key("N enrolled")
    ('n', 'lower', 'n_enrolled')
    """
    if language is not None:
        check_language(language)
    if len(_KEYS_BY_LABEL) != 2 * len(LABELS):  # built once; again when a label is added
        _KEYS_BY_LABEL.clear()
        for key, pair in LABELS.items():
            for lang, text_ in zip(("sv", "en"), pair, strict=True):
                _KEYS_BY_LABEL[f"{lang}:{text_.strip().casefold()}"] = key
    folded = str(text).strip().casefold()
    for lang in (language,) if language else LANGUAGES:
        key = _KEYS_BY_LABEL.get(f"{lang}:{folded}")
        if key is not None:
            return key
    return _fallback_key(str(text))


def format_number(value: float | int | None, language: str = DEFAULT_LANGUAGE, *, decimals: int = 0) -> str:
    """Format a number with the language's conventions.

    Swedish: decimal comma and a non-breaking space as thousands separator (Språkrådet);
    English: decimal point and a comma. Missing values render as an en dash.
    """
    check_language(language)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    text = f"{value:,.{decimals}f}"
    if language == "sv":
        text = text.replace(",", "\u00a0").replace(".", ",")
    return text


def format_level(level: float, language: str = DEFAULT_LANGUAGE) -> str:
    """A confidence level (a fraction, ``0.95``) as the percentage written before "KI"/"CI".

    Swedish puts a space before the per cent sign and a decimal comma (``"97,5 %"``), English
    neither (``"97.5%"``).
    """
    check_language(language)
    text = f"{100 * level:g}"
    return f"{text.replace('.', ',')} %" if language == "sv" else f"{text}%"
