"""Methods: estimators for the effects of *nära vård* reforms, returning numbers and result objects.

Import from the module, e.g. ``from naravard_analysis.methods.its import fit_its``. Result objects
have ``summary()``, an HTML view in notebooks and (where it makes sense) ``plot(language=...)``;
text and figures default to Swedish (:data:`naravard_analysis.core.defaults.DEFAULT_LANGUAGE`).

Interrupted time series (:mod:`~naravard_analysis.methods.its`)
    monthly_series
        Events per period with the population at risk (``ages=``, ``where=`` filters).
    fit_its
        Segmented Poisson/quasi-Poisson/negative-binomial/Gaussian regression with offset,
        seasonality and counterfactual (:class:`ITSResult`); ``fit_its_many`` per group.
Evaluation of interventions (:mod:`~naravard_analysis.methods.evaluation`)
    evaluate_enrolments
        Effect of enrolment (e.g. mobile home-care teams) net of regression to the mean, with the
        naive before–after change beside it (:class:`EvaluationResult`).
    listing_effect (:mod:`~naravard_analysis.methods.listing_effect`)
        Effect of getting a named regular doctor.
    emulate_trials, trial_rate_ratio, trial_event_study, trial_checks
        (:mod:`~naravard_analysis.methods.trial`) Sequential target-trial emulation.
    entropy_balance (:mod:`~naravard_analysis.methods.balancing`)
        Entropy-balancing weights within exact strata (the trials' control weights).
    match_controls, standardised_differences (:mod:`~naravard_analysis.methods.matching`)
        Risk-set matching and balance.
    value_effects (:mod:`~naravard_analysis.methods.costs`)
        Effects valued in kronor.
    e_value, e_value_limit (:mod:`~naravard_analysis.methods.sensitivity`)
        VanderWeele & Ding (2017) E-values.
Panels of areas
    staggered_did (:mod:`~naravard_analysis.methods.did`)
        Callaway & Sant'Anna (2021) group-time effects and aggregations.
    synth_did (:mod:`~naravard_analysis.methods.synth`)
        Synthetic control, synthetic DiD (Arkhangelsky et al. 2021) and placebo tests.
    poisson_did (:mod:`~naravard_analysis.methods.rate_models`)
        Ratio of rate ratios with clustered errors.
Building blocks
    outcome_counts, person_frame, outcome_events (:mod:`~naravard_analysis.methods.outcome_counts`,
    :mod:`~naravard_analysis.methods.person_time`) Events per person window; residence spans.
"""
