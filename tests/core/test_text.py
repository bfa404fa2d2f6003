"""Dictionary-coded text columns: the same values whatever the storage and the row order."""

import numpy as np
import pandas as pd
import pytest

from naravard_analysis.core.text import CodedText, bool_values, equals_text, text_arrow
from naravard_analysis.data.schema import STRING_DTYPE

VALUES = ["home", None, "hospital", "died", "home"]


@pytest.mark.parametrize("dtype", [object, STRING_DTYPE])
def test_coded_text_takes_decodes_and_ranks(dtype):
    s = pd.Series(VALUES, dtype=dtype)
    c = CodedText(s)
    assert c.equals("home").tolist() == [True, False, False, False, True]
    assert c.rank().tolist() == [1, -1, 2, 0, 1]  # died < home < hospital; missing -1
    pos = np.array([2, 0, 1])
    assert c.take(pos).astype(object).where(lambda x: x.notna(), None).tolist() == ["hospital", "home", None]
    got = c.take(np.array([0, -1]), allow_missing=True)
    assert got.iloc[0] == "home" and pd.isna(got.iloc[1])
    d = c.decode(pos, valid=np.array([True, True, False]))
    assert d.cat.categories.tolist() == ["died", "home", "hospital"]  # text order, not row order
    assert d.astype(object).where(d.notna(), None).tolist() == ["hospital", "home", None]
    # The same categories whatever the row order.
    rev = CodedText(s.iloc[::-1].reset_index(drop=True)).decode(np.arange(5))
    assert rev.cat.categories.tolist() == d.cat.categories.tolist()


def test_equals_text_text_arrow_and_bool_values():
    for dtype in (object, STRING_DTYPE, "category"):
        s = pd.Series(VALUES, dtype=dtype)
        assert equals_text(s, "home").tolist() == [True, False, False, False, True]
        assert text_arrow(s).to_pylist() == ["home", "", "hospital", "died", "home"]
    assert bool_values(pd.Series([True, None, False], dtype="boolean")).tolist() == [True, False, False]
