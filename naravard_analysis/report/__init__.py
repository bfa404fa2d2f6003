"""Report: publishable figures, tables, text and whole regional reports, all after suppression.

Nothing leaves this layer without small-cell suppression; labels and numbers are Swedish by
default (:data:`~naravard_analysis.report.labels.DEFAULT_LANGUAGE`), English with ``language="en"``.

Disclosure control (:mod:`~naravard_analysis.report.disclosure`, :mod:`~naravard_analysis.report.scan`)
    suppress
        Hide small counts, the rates built on them and the cells that would reveal them.
    format_suppressed, suppression_note
        Display copy with ``<5`` / ``..`` marks, and the caption explaining them.
    DisclosureRegistry
        Joint suppression of every table of one report.
    check_outputs
        Scan a folder of outputs for small counts and personal identity numbers (``naravard check``).
Figures (:mod:`~naravard_analysis.report.figures`)
    plot_lines, plot_bars, plot_forest, plot_its
        Drawn from published tables; suppressed points are left out and captioned.
    plot_funnel, funnel_data
        Readmission O/E by hospital or municipality with 95 % / 99.8 % limits.
    plot_cumulative_incidence, cumulative_incidence_data
        Readmission and death after discharge.
    save_figure, write_csv, read_csv
        PNG + SVG + the CSV behind the figure (Swedish flavour ``;`` and ``,`` with ``language="sv"``).
Tables and text
    write_tables (:mod:`~naravard_analysis.report.tables`)
        Excel with labelled headers, suppression marks and an "Om data" sheet.
    describe_series, describe_change, describe_target ... (:mod:`~naravard_analysis.report.narrative`)
        Sentences for running text under the same suppression rule.
    label, format_number (:mod:`~naravard_analysis.report.labels`)
        Swedish and English labels and number formats.
Running notebooks and reports
    run_notebook, notebook_parameters (:mod:`~naravard_analysis.report.pipeline`)
        Papermill with validated parameters (``naravard run``, ``naravard params``).
    RegionalReport, run_reports (:mod:`~naravard_analysis.report.regional`, :mod:`~naravard_analysis.report.batch`)
        One region's report, or many (``naravard report``).
    reproduce_paper (:mod:`~naravard_analysis.report.reproduce`)
        Re-create a paper's figures and compare their data (``naravard reproduce``).
    write_acro_record, export_html, write_manifest
        Output-checking record, HTML export, manifest with checksums.
"""
