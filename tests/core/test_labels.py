"""Labels: one key per label in both languages, so a labelled header reads back to its name."""

from __future__ import annotations

import string

import pytest

from naravard_analysis.core import labels as store
from naravard_analysis.core.labels import LABELS, format_level, label, label_key


def test_every_label_names_one_key_across_both_languages():
    # the output scan reads a header without knowing the report's language
    seen: dict[str, str] = {}
    for key, pair in LABELS.items():
        for text in pair:
            assert seen.setdefault(text.strip().casefold(), key) == key, (text, key)


@pytest.mark.parametrize("language", ["sv", "en"])
def test_label_key_inverts_label(language):
    for key in LABELS:
        assert label_key(label(key, language), language) == key
        assert label_key(label(key, language).upper()) == key  # either language, any case
    # a column without a translation: the fallback label read back
    for key in ["n_enrolled_2019", "municipality_name", "COC_2019"]:
        assert key not in LABELS and label_key(label(key, language)) == key
    assert label_key("  antal ") == "n" and label_key("Number", "sv") == "number"


def test_report_labels_is_the_same_store():
    # the report layer's import path names the kernel's objects: one dictionary, not a copy
    from naravard_analysis.report import labels as report_labels

    for name in report_labels.__all__:
        assert getattr(report_labels, name) is getattr(store, name), name


def test_a_template_fills_the_same_fields_in_both_languages():
    # a summary sentence must not lose a number when the language changes
    def fields(text: str) -> set[str]:
        return {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}

    for key, (sv, en) in LABELS.items():
        assert fields(sv) == fields(en), key


@pytest.mark.parametrize(("level", "sv", "en"), [(0.95, "95 %", "95%"), (0.975, "97,5 %", "97.5%"),
                                                 (0.8, "80 %", "80%")])
def test_format_level(level, sv, en):
    assert (format_level(level, "sv"), format_level(level, "en")) == (sv, en)
