"""The packed sort and episode linking against plain sorting and a per-person loop."""

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from naravard_analysis.core.stays import (
    episode_starts,
    latest_discharge,
    link_stays,
    reach_days,
    sort_stays,
)

stay = st.tuples(st.integers(0, 5), st.integers(0, 60), st.integers(0, 5), st.booleans())


def _naive_starts(rows, rule, gap):
    """New-episode flags in (person, admission, discharge, input) order, by an explicit loop."""
    order = sorted(range(len(rows)), key=lambda i: (rows[i][0], rows[i][1], rows[i][1] + rows[i][2], i))
    out, person, reach = [], None, None
    for i in order:
        p, a, los, transfer = rows[i]
        d = a + los
        r = d + max(gap, int(transfer)) if rule == "swedish" else d + (1 if transfer else -1)
        new = p != person or a > reach
        out.append(new)
        person, reach = p, r if new else max(reach, r)
    return order, out


@settings(max_examples=150, deadline=None)
@given(st.lists(stay, max_size=40), st.sampled_from(["swedish", "cms"]), st.sampled_from([0, 1]))
def test_link_equals_the_loop_for_every_id_kind(rows, rule, gap):
    gap = gap if rule == "swedish" else 0
    adm = np.array([r[1] for r in rows], dtype=np.int64)
    dis = adm + np.array([r[2] for r in rows], dtype=np.int64)
    transfer = np.array([r[3] for r in rows], dtype=bool)
    order, starts = _naive_starts(rows, rule, gap)
    ids = pd.Series([r[0] for r in rows], dtype=np.int64)
    # Small ints (packed key), ints too wide for the packed key, text ids (ranked first).
    for pid in (ids, ids * 2**50, ids.map(lambda p: f"P{p}")):
        stays, new = link_stays(pid, adm, dis, transfer, rule=rule, merge_gap_days=gap)
        assert stays.order.tolist() == order
        assert new.tolist() == starts
        assert stays.person_ids.tolist() == sorted(set(pid))


def test_tie_keys_reorder_only_exact_ties():
    pid = pd.Series([1, 1, 1, 2])
    adm = np.array([5, 5, 5, 0])
    dis = np.array([6, 6, 7, 1])
    s = sort_stays(pid, adm, dis, tie_keys=lambda rows: [-rows])  # reverse input order among ties
    assert s.order.tolist() == [1, 0, 2, 3]
    assert s.new_person.tolist() == [True, False, False, True]
    assert s.person_number().tolist() == [0, 0, 0, 1]


def test_reach_rules_and_empty_input():
    dis = np.array([10, 10, 10])
    transfer = np.array([True, False, False])
    assert reach_days(dis, transfer).tolist() == [11, 10, 10]
    assert reach_days(dis, transfer, merge_gap_days=1).tolist() == [11, 11, 11]
    assert reach_days(dis, transfer, rule="cms").tolist() == [11, 9, 9]
    assert reach_days(dis, None, rule="cms").tolist() == [9, 9, 9]
    empty = np.zeros(0, dtype=np.int64)
    assert episode_starts(np.zeros(0, dtype=bool), empty, empty).size == 0
    s = sort_stays(pd.Series([], dtype=np.int64), empty, empty, tie_keys=lambda rows: [rows])
    assert s.order.size == 0 and s.person_ids.size == 0


def test_latest_discharge_ties_go_to_the_later_sorted_stay():
    dis = np.array([9, 5, 9, 3, 4, 4])
    e_dis, last = latest_discharge(dis, np.array([0, 3, 4]))
    assert e_dis.tolist() == [9, 3, 4] and last.tolist() == [2, 3, 5]
    e_dis, last = latest_discharge(dis[:0], np.zeros(0, dtype=np.int64))
    assert e_dis.size == 0 and last.size == 0
