"""Indicators: the measures of *nära vård*, computed from the canonical register tables.

Each function takes canonical tables (see :mod:`naravard_analysis.data`) and returns a DataFrame;
import them from their module, e.g. ``from naravard_analysis.indicators.continuity import
kontinuitetsindex``. Where a Swedish official measure and a research measure both exist, the
official one is named first.

Continuity of care (:mod:`~naravard_analysis.indicators.continuity`)
    kontinuitetsindex
        **Official Swedish measure**: Socialstyrelsen's kontinuitetsindex (COC) per year for
        physicians and all staff, against a baseline year (the national +20 % target).
    continuity_indices
        Research indices per person (COC, UPC, SECON, Bice–Boxerman ...), any grouping and period.
    summarise_continuity, continuity_distribution
        Aggregate person indices over groups; the counts behind a distribution plot.
    regular_doctor_rule
        Region Värmland's continuity-payment rule (unverified).
Named regular doctor (:mod:`~naravard_analysis.indicators.listing`)
    fast_lakarkontakt_share
        Share of residents listed with a named doctor (proxy for the official *fast
        läkarkontakt* measure; denominator: residents at the reference date).
    residence_spans
        Each person's resident days, ``[move_in, move_out)``.
Person attributes (:mod:`~naravard_analysis.indicators.person_attributes`)
    with_person_attributes, age_at
        Age at the event, sex and residence at the event joined onto any event table.
Avoidable hospitalisation (:mod:`~naravard_analysis.indicators.avoidable`)
    flag_avoidable
        Flag stays or episodes: ``"socialstyrelsen_chronic"`` (default, the **official Swedish**
        påverkbar slutenvård 20+), ``"socialstyrelsen"``, ``"pqi"`` (AHRQ), ``"oecd"``.
    avoidable_rates
        Crude and ESP2013-standardised rates per 100 000; age window from the flags' definition.
    exclusion_summary
        Units excluded, by reason.
Readmission (:mod:`~naravard_analysis.indicators.readmission`)
    flag_readmissions
        30-day readmission per index episode: ``"socialstyrelsen"`` (default, **official Swedish**
        oplanerade återinskrivningar 65+), ``"cms"``, ``"norway"``; age from birth dates or the
        stays' ALDER.
    readmission_rates
        Readmitted / eligible with a Wilson interval, by any grouping.
    risk_adjusted_readmission
        Observed/expected by hospital or municipality with funnel limits (:class:`RiskAdjustedResult`).
    readmission_cumulative_incidence
        Aalen–Johansen incidence of readmission with death competing (:class:`CumulativeIncidence`).
Episodes (:mod:`~naravard_analysis.indicators.episodes`)
    build_episodes, assign_episodes, link_episodes_cms
        Stays chained into care episodes (vårdepisoder).
Utilisation and standardisation
    ed_visit_rates, events_per_period (:mod:`~naravard_analysis.indicators.utilisation`)
        Emergency-department visits per 1 000 (80+ by default); events per month/quarter/year.
    direct_standardise, indirect_standardise, standard_population, band_population
        (:mod:`~naravard_analysis.indicators.standardise`) DSR with Fay–Feuer intervals, SMR.
    charlson_score, charlson_flags (:mod:`~naravard_analysis.indicators.charlson`)
        Charlson comorbidity index, Ludvigsson et al. (2021) Swedish adaptation.
    region_panel, municipality_panel (:mod:`~naravard_analysis.indicators.area_panel`)
        Area-by-period panels for synthetic control and DiD.
    Target (:mod:`~naravard_analysis.indicators.targets`)
        A policy target with its wording and source.

Every ``by=`` takes one column name or a list; age limits that depend on a definition default to
``DEFINITION_DEFAULT`` (:mod:`naravard_analysis.core.defaults`).
"""
