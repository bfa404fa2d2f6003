"""Kernels shared by every indicator, each written once.

The layer sits between :mod:`naravard_analysis.data` (schema, readers) and
:mod:`naravard_analysis.indicators` and imports nothing above ``data``:

* :mod:`~naravard_analysis.core.dates` -- dates as day numbers, the civil calendar, ages;
* :mod:`~naravard_analysis.core.stays` -- the packed sort of inpatient stays and episode linking;
* :mod:`~naravard_analysis.core.text` -- text columns as dictionary codes, arrow helpers;
* :mod:`~naravard_analysis.core.icd` -- dotless ICD-10 / KVÅ prefix matching;
* :mod:`~naravard_analysis.core.intervals` -- Wilson, Garwood, Byar and Fay–Feuer intervals.
* :mod:`~naravard_analysis.core.labels` -- the one bilingual text store: labels, summary
  sentences, number formats (``label``, ``format_number``; the report layer re-exports it).
* :mod:`~naravard_analysis.core.defaults` -- named defaults: ``DEFINITION_DEFAULT``,
  ``DEFAULT_LANGUAGE`` (Swedish) and ``as_columns`` (a ``by=`` name or list).

The indicators call these kernels; a rule that two indicators share (how a date becomes a day,
when a stay joins an episode, what a code prefix matches) is changed here and nowhere else.
"""
