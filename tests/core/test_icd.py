"""Dotless prefix matching: every path equals the rule written as a regular expression."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from naravard_analysis.core.icd import (
    CodeColumn,
    any_code_matches,
    clean_prefixes,
    match_distinct,
    normalise_codes,
)
from naravard_analysis.data.schema import STRING_DTYPE
from naravard_analysis.errors import ParameterError

code = st.sampled_from(["I50", "i50.9", "I5", "J44", "J441", "E11.2", "E119", "Z", "ä1", ".I10"])
text = st.one_of(st.none(), st.lists(code, max_size=4).map(" ".join), st.just(" J44\tE11 "))


@settings(max_examples=100, deadline=None)
@given(st.lists(text, min_size=1, max_size=20), st.booleans())
def test_groups_equal_single_matches_and_the_regex(texts, arrow):
    s = pd.Series(texts, dtype=STRING_DTYPE if arrow else object)
    groups = {"hf": ["I50", "I110"], "dm": ["E11"], "none": [], "z": ["Z"]}
    got = CodeColumn(s).matches_groups(groups)
    normed = normalise_codes(s)
    for g, prefixes in groups.items():
        expected = any_code_matches(normed, prefixes)
        assert got[g].tolist() == expected.tolist()
        assert CodeColumn(s).matches(None, prefixes).tolist() == expected.tolist()


def test_match_distinct_and_prefix_checks():
    uniques = pa.array(["I509", "J441", "I10"], type=pa.large_string())
    codes = np.array([0, 1, 2, 3, 0])  # 3 = missing
    assert match_distinct(codes, uniques, ["I50", "J4"]).tolist() == [True, True, False, False, True]
    assert match_distinct(codes, uniques, []).tolist() == [False] * 5
    assert clean_prefixes([" i50.", "I110"]) == ["I50", "I110"]
    with pytest.raises(ParameterError, match="index_diagnoses"):
        clean_prefixes(["50"], "index_diagnoses")
