"""Text columns at 10^7 rows: dictionary codes, arrow strings, equality without Python objects.

Gathering millions of strings at random positions is the slow part of assembling indicator
tables (each string is copied from a random place); gathering int32 dictionary codes and decoding
from the small dictionary is two to four times faster. :class:`CodedText` holds a column that way.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from naravard_analysis.data.schema import STRING_DTYPE

__all__ = [
    "WHITESPACE",
    "CodedText",
    "bool_values",
    "equals_text",
    "is_arrow_text",
    "string_series",
    "text_arrow",
]

#: Whitespace as Python's ``str.split()``/``re`` ``\s`` see it, written for arrow's RE2.
WHITESPACE = r"[\t\n\x0b\f\r\x1c-\x1f\x85\p{Z}]+"


def is_arrow_text(s: pd.Series) -> bool:
    """Is ``s`` a pandas string column stored in arrow?"""
    return isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow"


def bool_values(s: pd.Series) -> np.ndarray:
    """Boolean column as numpy bool, missing -> False (no copy for plain ``bool``)."""
    if s.dtype == bool:
        return s.to_numpy()
    return s.astype("boolean").fillna(False).to_numpy(dtype=bool)


def equals_text(s: pd.Series, value: str) -> np.ndarray:
    """``s == value`` as a numpy bool array (missing -> False) without Python objects per row.

    Arrow-backed strings compare in C++; other dtypes are compared once per distinct value.
    """
    if isinstance(s.dtype, pd.StringDtype) or isinstance(s.dtype, pd.ArrowDtype):
        return (s == value).to_numpy(dtype=bool, na_value=False)
    codes, uniques = pd.factorize(s)
    hit = np.append(np.asarray(uniques, dtype=object) == value, False)
    return hit[codes]


def text_arrow(s: pd.Series) -> pa.ChunkedArray:
    """Text column as an arrow ``large_string`` array, ``''`` for missing.

    Same values as ``s.fillna("").astype(str)``, but arrow-backed strings are used as they are and
    any other dtype is converted once per distinct value, not once per row.
    """
    is_text = isinstance(s.dtype, pd.StringDtype) or (
        isinstance(s.dtype, pd.ArrowDtype)
        and (pa.types.is_string(s.dtype.pyarrow_dtype) or pa.types.is_large_string(s.dtype.pyarrow_dtype))
    )
    if is_text:
        arr = pa.chunked_array(s.array.__arrow_array__()).cast(pa.large_string())
        return pc.fill_null(arr, "")
    codes, uniques = pd.factorize(s)
    labels = pa.array([str(u) for u in uniques] + [""], type=pa.large_string())
    idx = np.where(codes < 0, len(labels) - 1, codes)
    return pa.chunked_array([labels.take(pa.array(idx))])


def string_series(arr: pa.ChunkedArray | pa.Array) -> pd.Series:
    """Arrow strings as a pandas Series of the canonical text dtype (no copy per row)."""
    return pd.Series(STRING_DTYPE.__from_arrow__(arr))


class CodedText:
    """A low-cardinality text column as int32 codes (−1 = missing) into a string dictionary.

    Arrow-backed columns are dictionary-encoded once; other dtypes are factorized on first use of
    :attr:`codes` (their values become ``str``). Rows are then taken as codes and decoded from
    the dictionary: :meth:`take` keeps the column's dtype, :meth:`decode` gives a categorical whose
    categories are in text order (so the output never depends on row order), :meth:`rank` gives
    the text order of each row's value (a tie-break key), :meth:`lookup`/:meth:`equals` turn a
    test per distinct value into one per row.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> c = CodedText(pd.Series(["b", None, "a", "b"], dtype="string[pyarrow]"))
    >>> c.equals("b").tolist(), c.rank().tolist(), c.take(np.array([3, 2])).tolist()
    ([True, False, False, True], [1, -1, 0, 1], ['b', 'a'])
    """

    def __init__(self, s: pd.Series):
        self.s = s
        self.arrow = is_arrow_text(s)
        self._codes: np.ndarray | None = None
        self._dictionary: pa.Array | None = None
        self.has_missing = False
        if self.arrow:
            enc = pc.dictionary_encode(pa.chunked_array(s.array.__arrow_array__()).combine_chunks())
            # Missing values get code -1 (numpy indices; the dictionary has no nulls).
            self._codes = np.asarray(pc.fill_null(enc.indices, -1), dtype=np.int32)
            self._dictionary = enc.dictionary
            self.has_missing = enc.indices.null_count > 0

    def _factorize(self) -> None:
        codes, uniques = pd.factorize(self.s, use_na_sentinel=True)
        self._codes = codes.astype(np.int32)
        self._dictionary = pa.array([str(u) for u in uniques], type=pa.string())
        self.has_missing = bool((codes < 0).any())

    @property
    def codes(self) -> np.ndarray:
        """int32 code of every row into :attr:`dictionary` (−1 = missing)."""
        if self._codes is None:
            self._factorize()
        return self._codes

    @property
    def dictionary(self) -> pa.Array:
        """The distinct values (no nulls)."""
        if self._dictionary is None:
            self._factorize()
        return self._dictionary

    def values(self) -> np.ndarray:
        """The dictionary as a numpy object array of ``str``."""
        return np.asarray(self.dictionary.to_pylist(), dtype=object)

    def take(self, pos: np.ndarray, *, allow_missing: bool = False) -> pd.Series:
        """Values at positions ``pos`` with the column's dtype (missing stays missing).

        With ``allow_missing``, ``pos == -1`` gives a missing value (e.g. a person not found).
        """
        if not self.arrow:
            if allow_missing:
                return pd.Series(self.s.array.take(pos, allow_fill=True))
            return self.s.take(pos).reset_index(drop=True)
        return pd.Series(self.s.dtype.__from_arrow__(self.take_arrow(pos)))

    def take_arrow(self, pos: np.ndarray) -> pa.Array:
        """Values at ``pos`` as arrow strings (``pos == -1`` -> null)."""
        if not self.arrow:
            return text_arrow(self.s.take(pos))
        codes = self.codes[pos]
        outside = pos.size > 0 and pos.min() < 0
        if outside:
            codes[pos < 0] = -1
        if self.has_missing or outside:
            return self.dictionary.take(pa.array(codes, mask=codes < 0))
        return self.dictionary.take(pa.array(codes))

    def rank(self, rows: np.ndarray | None = None) -> np.ndarray:
        """Text order of the value of ``rows`` (default all), independent of row order; missing −1."""
        codes = self.codes if rows is None else self.codes[rows]
        vals = self.values()
        if vals.size == 0:
            return np.full(codes.size, -1, dtype=np.int64)
        r = np.empty(vals.size + 1, dtype=np.int64)
        r[np.argsort(vals.astype(str), kind="stable")] = np.arange(vals.size)
        r[-1] = -1  # code −1 (missing) indexes the last slot
        return r[codes]

    def lookup(self, hit: np.ndarray) -> np.ndarray:
        """Boolean per row from a boolean per dictionary value (missing -> False)."""
        return np.append(np.asarray(hit, dtype=bool), False)[self.codes]

    def equals(self, value: str) -> np.ndarray:
        """``column == value`` per row (missing -> False)."""
        return self.lookup(self.values() == value)

    def decode(self, pos: np.ndarray, valid: np.ndarray | None = None) -> pd.Series:
        """Categorical of the values at ``pos`` (missing where not ``valid``), categories in text
        order: at 10^6–10^7 rows materialising strings costs seconds and gigabytes."""
        vals = self.values().astype(str)
        srt = np.argsort(vals, kind="stable")
        # Codes in the width pandas keeps for this many categories (no conversion copy later).
        width = np.int8 if vals.size < 127 else np.int16 if vals.size < 32_767 else np.int32
        remap = np.full(vals.size + 1, -1, dtype=width)  # last slot: code −1 (missing)
        remap[srt] = np.arange(vals.size, dtype=width)
        new = remap[self.codes[pos]]
        if valid is not None:
            new[~valid] = -1
        cats = pd.Index(vals[srt], dtype=STRING_DTYPE)
        return pd.Series(pd.Categorical.from_codes(new, categories=cats))
