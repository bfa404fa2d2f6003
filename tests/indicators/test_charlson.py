"""Charlson index, Swedish adaptation (Ludvigsson et al. 2021): code list, matching, hierarchy."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from naravard_analysis.errors import ParameterError, SchemaError
from naravard_analysis.indicators.charlson import (
    CHARLSON_GROUPS,
    apply_charlson_hierarchy,
    charlson_flags,
    charlson_score,
    charlson_score_from_flags,
    load_charlson_codelist,
)


def test_codelist_groups_weights_and_status():
    cl = load_charlson_codelist()
    assert tuple(dict.fromkeys(cl.condition_group)) == CHARLSON_GROUPS  # 19 groups incl. ascites
    w = cl.drop_duplicates("condition_group").set_index("condition_group").weight
    # Weights of the companion script's CCIw line (Charlson 1987 weights).
    assert w[["hemiplegia", "diabetes_with_complication", "renal_disease", "malignancy"]].tolist() == [2] * 4
    assert (w["severe_liver_disease"], w["metastatic_solid_tumor"], w["aids_hiv"], w["ascites"]) == (3, 6, 6, 0)
    assert w.sum() == 1 * 11 + 2 * 4 + 3 + 6 + 6  # eleven weight-1 groups
    assert not cl.verified.any()  # transcribed from the companion script, not the paper's table
    assert cl.source.str.contains("Clin Epidemiol 2021;13:21-41").all()
    assert not cl.duplicated(["condition_group", "icd10_prefix"]).any()


@pytest.mark.parametrize(
    ("codes", "group"),
    [("I219", "myocardial_infarction"), ("I252", "myocardial_infarction"),
     ("I110", "congestive_heart_failure"), ("K559", "peripheral_vascular_disease"),
     ("I639", "cerebrovascular_disease"), ("J441", "copd"), ("J459", "other_chronic_pulmonary_disease"),
     ("M059", "rheumatic_disease"), ("F051", "dementia"), ("G819", "hemiplegia"),
     ("E119", None), ("E110", "diabetes_without_complication"), ("E115", "diabetes_with_complication"),
     ("N184", "renal_disease"), ("K746", "mild_liver_disease"), ("I859", "severe_liver_disease"),
     ("K254", "peptic_ulcer_disease"), ("C189", "malignancy"), ("C787", "metastatic_solid_tumor"),
     ("B24", "aids_hiv"), ("I251", None), ("G830", "hemiplegia"), ("G834", None)],
)  # fmt: skip
def test_single_codes_map_to_their_group(codes, group):
    f = charlson_flags(pd.Series([codes]))
    hits = [g for g in f.columns if f[g].iloc[0]]
    assert hits == ([group] if group else [])


def test_prefix_matches_only_at_code_boundary():
    f = charlson_flags(pd.Series(["XI21 AI500", "E119 I21", " i500 "]))
    assert not f.iloc[0].any()  # "I21" inside "XI21" is not a code start
    assert f.myocardial_infarction.tolist() == [False, True, False]
    assert bool(f.congestive_heart_failure.iloc[2])  # lower case and padding normalised


def test_hierarchy_and_score_by_hand():
    codes = pd.Series(["I21 I50 E112 E110 K703 R18 C78 C189 B20", "K703", "R18", "", None])
    s = charlson_score(codes)
    # Row 0: MI 1 + CHF 1 + diabetes with complication 2 (without: superseded) + mild liver with
    # ascites -> severe 3 + metastatic 6 (malignancy superseded) + AIDS 6 = 19.
    assert s.tolist() == [19, 1, 0, 0, 0]
    assert charlson_score(codes, weighted=False).tolist() == [6, 1, 0, 0, 0]
    raw = charlson_flags(codes, hierarchy=False)
    assert bool(raw.malignancy.iloc[0]) and bool(raw.diabetes_without_complication.iloc[0])
    assert charlson_score_from_flags(raw).tolist() == s.tolist()
    once = apply_charlson_hierarchy(raw)
    pd.testing.assert_frame_equal(apply_charlson_hierarchy(once), once)  # idempotent


def test_errors():
    with pytest.raises(SchemaError, match="expected a pandas Series"):
        charlson_flags(["I21"])
    with pytest.raises(ParameterError):
        charlson_score(pd.Series(["I21"]), weighted="yes")
    bad = load_charlson_codelist()
    bad.loc[0, "icd10_prefix"] = "12"
    with pytest.raises(SchemaError, match="malformed dotless code prefix -- 1 row breaks it"):
        charlson_score(pd.Series(["I21"]), codelist=bad)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from(["I21", "I50", "E110", "E112", "K703", "R18", "I850", "C18", "C78",
                                 "B20", "N18", "J44", "Z000", "S720"]), max_size=8))  # fmt: skip
def test_score_is_order_free_and_bounded(codes):
    a = charlson_score(pd.Series([" ".join(codes)])).iloc[0]
    b = charlson_score(pd.Series([" ".join(reversed(codes))])).iloc[0]
    assert a == b
    assert 0 <= a <= charlson_score(pd.Series([" ".join(codes + ["I21"])])).iloc[0] <= 1 + 29
