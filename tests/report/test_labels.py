"""Labels: one key per label in both languages, so a labelled header reads back to its name."""

from __future__ import annotations

import pytest

from naravard_analysis.report.labels import LABELS, label, label_key


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
