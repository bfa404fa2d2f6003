"""Inpatient stays of many persons: the packed sort and episode linking, for every indicator.

Care episodes (vårdepisoder) chain the stays of one person (Ludvigsson et al. 2011, BMC Public
Health 11:450, on the Swedish inpatient register; the KIHeartFailure SwedeHF data-management
scripts shfdb3dm/shfdb4dm link stays with a gap of 1 and 0 days). With the stays of a person
sorted by admission (ties: earlier discharge first), stay k starts a new episode iff it is the
person's first stay or

    admission_k > max_{j<k} reach_j,

the maximum running over *all* earlier stays of the person (nested stays), where ``reach_j`` is
discharge_j plus the allowed gap. Two rules for the reach are used in the package:

* ``"swedish"``: reach = discharge + max(merge_gap_days, 1 if the stay ended in a transfer to
  another hospital, ``discharge_to == "hospital"``, else 0) -- same-day re-entry, overlaps and
  transfers are one episode (:func:`~naravard_analysis.indicators.episodes.build_episodes`);
* ``"cms"``: reach = discharge + 1 for a transfer and discharge − 1 otherwise -- overlaps and
  transfers chain, while an admission on the day of an ordinary discharge starts a new episode
  (a day-0 readmission; CMS Hospital-Wide Readmission measure, Yale CORE 2023).

Both the sort and the link are vectorised: the sort packs (person, admission, length of stay,
row position) into one int64 and sorts the values, the link is one ``maximum.accumulate`` on a
key offset per person (persons are contiguous once sorted) and a comparison.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from naravard_analysis.errors import ParameterError

__all__ = [
    "SortedStays",
    "episode_starts",
    "latest_discharge",
    "link_stays",
    "person_codes",
    "reach_days",
    "sort_stays",
]

#: Integer person ids whose range is below this are sorted as they are (no hashing).
_INT_ID_RANGE = 2**40


@dataclass
class SortedStays:
    """Stays in (person, admission, discharge) order.

    Attributes
    ----------
    order
        Row positions of the stays in sorted order.
    new_person
        Per sorted stay: the first stay of its person.
    person_ids
        The distinct person ids in sorted order (person number ``k`` is ``person_ids[k]``),
        taken from ``person_id`` when first asked for.
    """

    order: np.ndarray
    new_person: np.ndarray
    person_id: pd.Series
    ids: pd.Index | None = None

    @property
    def person_ids(self) -> pd.Index:
        if self.ids is None:
            self.ids = pd.Index(self.person_id.to_numpy()[self.order[self.new_person]])
        return self.ids

    def person_number(self) -> np.ndarray:
        """Dense person number (0, 1, …) of each sorted stay."""
        p = np.cumsum(self.new_person, dtype=np.int64)
        p -= 1
        return p


def person_codes(person_id: pd.Series) -> tuple[np.ndarray, pd.Index | None]:
    """Integer codes that sort like the person ids, and the distinct ids when codes are ranks.

    Integer ids of a moderate range sort as ``id − min(id)`` (no hashing; the distinct ids are
    then taken from the sorted order, ``None`` here); any other ids as their rank among the sorted
    distinct ids (:func:`pandas.factorize` with ``sort=True``).
    """
    if person_id.dtype.kind in "iu" and len(person_id):
        v = person_id.to_numpy()
        lo = int(v.min())
        if int(v.max()) - lo < _INT_ID_RANGE:
            codes = v.astype(np.int64)  # a copy
            codes -= lo
            return codes, None
    codes, uniques = pd.factorize(person_id, sort=True)
    return codes.astype(np.int64, copy=False), pd.Index(uniques)


def _packed_order(
    pcode: np.ndarray, adm: np.ndarray, dis: np.ndarray
) -> tuple[np.ndarray, np.ndarray | None] | None:
    """Stable order by (person, admission, length of stay) from one packed int64 key, or None.

    The key and the row position are packed into one int64 and the values sorted (an order of
    magnitude faster than an argsort); the position in the low bits keeps ties in input order.
    Returns the order and the sorted key without the position (for tie detection), or None when
    the key does not fit.
    """
    n = pcode.size
    los = dis - adm  # >= 0, checked by the callers; sorting by it equals sorting by discharge
    a0 = int(adm.min())
    ra = int(adm.max()) - a0 + 1
    rl = int(los.max()) + 1
    width = (int(pcode.max()) + 1) * ra * rl
    pos_bits = max(n - 1, 1).bit_length()
    if not (width < 2**62 and width << pos_bits < 2**63):
        return None
    # In-place arithmetic: one 8-byte temporary per row instead of five.
    key = pcode.astype(np.int64)  # a copy
    key *= ra
    key += adm
    key -= a0
    key *= rl
    key += los
    del los
    key <<= pos_bits
    key |= np.arange(n, dtype=np.int64)
    key.sort()
    order = key & ((1 << pos_bits) - 1)
    key >>= pos_bits
    return order, key


def sort_stays(
    person_id: pd.Series,
    adm: np.ndarray,
    dis: np.ndarray,
    tie_keys: Callable[[np.ndarray], Sequence[np.ndarray]] | None = None,
) -> SortedStays:
    """Order stays by person, admission day, discharge day, then ``tie_keys`` among exact ties.

    Parameters
    ----------
    person_id : Series
        Person of each stay (no missing values; integers or any sortable labels).
    adm, dis : ndarray of int
        Admission and discharge day numbers (``dis >= adm``).
    tie_keys : callable, optional
        Called with the row positions of stays tied on (person, admission, discharge) only; returns
        sort keys, most significant first. Without it (or for keys that tie too) ties keep their
        input order: the sort is stable.

    Returns
    -------
    SortedStays

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> s = sort_stays(pd.Series([2, 1, 1]), np.array([5, 7, 3]), np.array([6, 9, 4]))
    >>> s.order.tolist(), s.new_person.tolist(), s.person_ids.tolist()
    ([2, 1, 0], [True, False, True], [1, 2])
    """
    n = len(person_id)
    pcode, ids = person_codes(person_id)
    empty = np.zeros(0, dtype=np.int64)
    packed = _packed_order(pcode, adm, dis) if n else (empty, empty)
    if packed is None and ids is None:
        # Integer ids too spread for the packed key: their ranks are dense.
        codes, uniques = pd.factorize(person_id, sort=True)
        pcode, ids = codes.astype(np.int64, copy=False), pd.Index(uniques)
        packed = _packed_order(pcode, adm, dis)
    if packed is not None:
        order, key = packed
        same = key[1:] == key[:-1] if tie_keys is not None else None
        del key
    else:
        order = np.lexsort((dis, adm, pcode))
        same = None
        if tie_keys is not None:
            ps, as_, ds = pcode[order], adm[order], dis[order]
            same = (ps[1:] == ps[:-1]) & (as_[1:] == as_[:-1]) & (ds[1:] == ds[:-1])
            del ps, as_, ds
    if same is not None and same.any():
        # Re-sort only the tied blocks by the tie keys (a small share of rows).
        pos = np.flatnonzero(np.append(same, False) | np.append(False, same))
        block = np.cumsum(np.append(True, ~same))[pos]  # block number per tied sorted position
        rows = order[pos]
        sub = np.lexsort(tuple(reversed(tie_keys(rows))) + (block,))
        order[pos] = rows[sub]
    del same
    p_sorted = pcode[order]
    del pcode
    new_person = np.ones(n, dtype=bool)
    new_person[1:] = p_sorted[1:] != p_sorted[:-1]
    del p_sorted
    return SortedStays(order, new_person, person_id, ids)


def reach_days(
    dis: np.ndarray,
    transfer: np.ndarray | None,
    *,
    rule: str = "swedish",
    merge_gap_days: int = 0,
) -> np.ndarray:
    """The day up to which a stay links the next admission (int64, a new array).

    ``"swedish"``: discharge + max(merge_gap_days, transfer); ``"cms"``: discharge + 1 for a transfer
    and discharge − 1 otherwise (module docstring). ``transfer`` None means no transfers.
    """
    reach = dis.astype(np.int64)  # a copy
    if rule == "swedish":
        if merge_gap_days:
            reach += merge_gap_days  # a transfer's one day is within the gap
        elif transfer is not None:
            reach += transfer
    elif rule == "cms":
        reach -= 1
        if transfer is not None:
            reach += 2 * transfer.astype(np.int64)
    else:
        raise ParameterError(f"episode linking rule must be 'swedish' or 'cms', got {rule!r}")
    return reach


def episode_starts(new_person: np.ndarray, adm: np.ndarray, reach: np.ndarray) -> np.ndarray:
    """Per sorted stay: does it start a new episode? (``reach`` is consumed.)

    admission_k > max_{j<k} reach_j within the person, or the person's first stay. The per-person
    running maximum is one global ``maximum.accumulate`` on ``reach`` offset by person rank × span,
    a key that is monotone in the person (persons are contiguous after sorting); in-place
    arithmetic keeps the 8-byte temporaries per row few.

    Examples
    --------
    >>> import numpy as np
    >>> first = np.array([True, False, False, True])
    >>> episode_starts(first, np.array([0, 2, 9, 1]), np.array([5, 3, 9, 1])).tolist()
    [True, False, True, True]
    """
    n = new_person.size
    if n == 0:
        return np.zeros(0, dtype=bool)
    reach = reach.astype(np.int64, copy=False)
    r0 = int(reach.min())
    span = int(reach.max()) - r0 + 1
    base = np.cumsum(new_person, dtype=np.int64)  # person rank + 1
    base -= 1
    base *= span
    base -= r0
    reach += base  # the running-max key
    np.maximum.accumulate(reach, out=reach)
    prev = np.empty(n, dtype=np.int64)
    prev[0] = -1
    prev[1:] = reach[:-1]
    del reach
    base += adm  # the admission key (monotone in the person rank, as reach is)
    new_episode = base > prev
    new_episode |= new_person
    return new_episode


def link_stays(
    person_id: pd.Series,
    adm: np.ndarray,
    dis: np.ndarray,
    transfer: np.ndarray | None,
    *,
    rule: str = "swedish",
    merge_gap_days: int = 0,
    tie_keys: Callable[[np.ndarray], Sequence[np.ndarray]] | None = None,
) -> tuple[SortedStays, np.ndarray]:
    """Sort stays (:func:`sort_stays`) and flag the first stay of every episode (sorted order).

    ``transfer`` (per input row, or None) marks stays that ended in a transfer to another
    hospital. Returns the sorted stays and the new-episode flag per sorted stay.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> stays, new = link_stays(pd.Series([1, 1, 1]), np.array([0, 4, 9]), np.array([4, 6, 9]),
    ...                         np.array([False, False, False]))
    >>> new.tolist()
    [True, False, True]
    """
    stays = sort_stays(person_id, adm, dis, tie_keys)
    o = stays.order
    reach = reach_days(
        dis[o], None if transfer is None else transfer[o], rule=rule, merge_gap_days=merge_gap_days
    )
    return stays, episode_starts(stays.new_person, adm[o], reach)


def latest_discharge(dis: np.ndarray, first: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per episode: its latest discharge and the sorted position of the stay with it.

    ``dis`` are the discharge days of the sorted stays and ``first`` the sorted position of each
    episode's first stay (an episode's stays are contiguous). Ties go to the later-sorted stay: the
    stay whose discharge mode (``discharge_to``) the episode keeps.

    Examples
    --------
    >>> import numpy as np
    >>> e_dis, last = latest_discharge(np.array([9, 5, 9, 3]), np.array([0, 3]))
    >>> e_dis.tolist(), last.tolist()
    ([9, 3], [2, 3])
    """
    if first.size == 0:
        return dis[:0], first
    n = dis.size
    e_dis = np.maximum.reduceat(dis, first)
    cand = np.where(dis == np.repeat(e_dis, np.diff(np.append(first, n))), np.arange(n), -1)
    return e_dis, np.maximum.reduceat(cand, first)
