"""Dotless prefix matching of ICD-10(-SE) and KVÅ codes.

Swedish registers write ICD-10-SE codes without the dot and with a variable number of characters
(Socialstyrelsen, *Klassifikation av sjukdomar och hälsoproblem 1997*, ICD-10-SE; the
Patientregistret variables HDIA, DIA1–DIA30 and OP, Socialstyrelsen 2023). A code list entry is a
*prefix*: ``I50`` matches ``I50``, ``I500``, ``I509``. The normalisation rule used everywhere in the
package: upper case, dots removed, surrounding space stripped; a text of several codes matches when
any of its whitespace-separated codes starts with one of the prefixes (the regular expression
``(?:^|\\s)prefix`` on the normalised text).

The work is done per distinct value: registers hold a few thousand distinct codes and code
strings, so they are normalised and matched once and the answer is gathered by integer indexing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from naravard_analysis.core.text import WHITESPACE, text_arrow
from naravard_analysis.errors import ParameterError

__all__ = [
    "CodeColumn",
    "any_code_matches",
    "clean_prefixes",
    "match_distinct",
    "normalise_codes",
    "starts_with_any",
]

_PREFIX = re.compile(r"[A-Z][0-9A-Z]{0,5}")


def normalise_codes(s: pd.Series) -> pd.Series:
    """Upper-case, dotless, stripped code strings (``''`` for missing).

    Examples
    --------
    >>> import pandas as pd
    >>> normalise_codes(pd.Series([" i50.9", None])).tolist()
    ['I509', '']
    """
    return (
        s.astype(object)
        .where(s.notna(), "")
        .astype(str)
        .str.upper()
        .str.replace(".", "", regex=False)
        .str.strip()
    )


def clean_prefixes(prefixes: Sequence[str], parameter: str = "prefixes") -> list[str]:
    """Normalised prefixes, each checked to be a dotless ICD-10 prefix such as ``I50`` or ``I110``.

    Raises :class:`~naravard_analysis.errors.ParameterError` naming ``parameter`` otherwise.
    """
    clean = [str(p).strip().upper().replace(".", "") for p in prefixes]
    bad = [p for p in clean if not _PREFIX.fullmatch(p)]
    if bad or not clean:
        raise ParameterError(
            f"{parameter} must be dotless ICD-10 prefixes such as 'I50', got {bad or prefixes!r}"
        )
    return clean


def starts_with_any(strings: pa.Array | pa.ChunkedArray, prefixes: Sequence[str]) -> np.ndarray:
    """``s.startswith(tuple(prefixes))`` for every string, as arrow kernels (one per prefix)."""
    hit = np.zeros(len(strings), dtype=bool)
    for p in dict.fromkeys(prefixes):
        hit |= np.asarray(pc.fill_null(pc.starts_with(strings, p), False))
    return hit


def match_distinct(codes: np.ndarray, uniques: pa.Array, prefixes: Sequence[str]) -> np.ndarray:
    """Prefix match per row, evaluated once per distinct normalised code.

    ``codes`` index ``uniques`` (the normalised distinct codes); ``len(uniques)`` or −1 = missing.
    """
    if not prefixes:
        return np.zeros(len(codes), dtype=bool)
    hit = np.append(starts_with_any(uniques, prefixes), False)  # missing -> last element
    return hit[codes]


def _prefix_regex(prefixes: Sequence[str]) -> str:
    """Regex matching any whitespace-separated code that starts with one of ``prefixes``."""
    alt = "|".join(sorted({re.escape(p) for p in prefixes}, key=len, reverse=True))
    return rf"(?:^|\s)(?:{alt})"


def any_code_matches(text: pd.Series, prefixes: Sequence[str]) -> np.ndarray:
    """Regex form of the rule on already normalised text (used for prefixes holding spaces)."""
    if len(text) == 0 or not prefixes:
        return np.zeros(len(text), dtype=bool)
    return text.str.contains(_prefix_regex(prefixes), regex=True).fillna(False).to_numpy(dtype=bool)


class CodeColumn:
    """A column of whitespace-separated codes, matched by normalised prefix per distinct value.

    A row matches when any of its codes, normalised (upper case, dots removed), starts with one of
    the prefixes. The distinct strings of the rows asked about are split into codes with arrow, the
    distinct codes are normalised and matched, and the answer is mapped back by integer indexing.

    Parameters
    ----------
    s : Series or None
        The codes (None: a column that is absent, i.e. no codes anywhere).
    codes, uniques : optional
        A factorisation of ``s`` (missing = ``len(uniques)``): rows are answered from the distinct
        values alone (used for the main diagnosis, one code per row).

    Examples
    --------
    >>> import pandas as pd
    >>> CodeColumn(pd.Series(["E11.2 i10", "", None])).matches(None, ["I10"]).tolist()
    [True, False, False]
    """

    def __init__(
        self,
        s: pd.Series | None,
        *,
        codes: np.ndarray | None = None,
        uniques: np.ndarray | None = None,
    ):
        self.s = s
        self.codes, self.uniques = codes, uniques
        self._norm: dict[str, str] = {}
        self._raw: pa.ChunkedArray | None = None
        self._ascii = self._dots = False

    def matches(self, idx: np.ndarray | None, prefixes: Sequence[str]) -> np.ndarray:
        """Bool per row of ``idx`` (all rows when None)."""
        m = (len(self.s) if self.s is not None else 0) if idx is None else len(idx)
        prefixes = list(prefixes)
        if m == 0 or not prefixes:
            return np.zeros(m, dtype=bool)
        if any(p == "" for p in prefixes):
            return np.ones(m, dtype=bool)  # an empty prefix matches every text, even ''
        if self.s is None:
            return np.zeros(m, dtype=bool)  # '' has no code
        if idx is None and self.codes is None:
            cand = self._candidates(prefixes)
            if cand is not None:
                # Exact test on the few rows whose text can hold such a code.
                out = np.zeros(m, dtype=bool)
                idx = np.flatnonzero(cand)
                out[idx] = self.matches(idx, prefixes)
                return out
        codes, u = self._distinct(idx)
        return np.append(self._hits(u, prefixes), False)[codes]

    def matches_groups(self, groups: Mapping[str, Sequence[str]]) -> dict[str, np.ndarray]:
        """:meth:`matches` on every row for several prefix lists, splitting the codes once."""
        if self.s is None or len(self.s) == 0:
            return {g: self.matches(None, p) for g, p in groups.items()}
        codes, u = self._distinct(None)
        text = text_arrow(u)
        tokens = self._tokens(text)
        out = {}
        for g, prefixes in groups.items():
            prefixes = list(prefixes)
            if not prefixes or any(p == "" or any(ch.isspace() for ch in p) for p in prefixes):
                out[g] = self.matches(None, prefixes)
            else:
                out[g] = np.append(self._token_hits(tokens, tuple(prefixes)), False)[codes]
        return out

    def _distinct(self, idx: np.ndarray | None) -> tuple[np.ndarray, pd.Series]:
        if self.codes is not None:
            codes = self.codes if idx is None else self.codes[idx]
            return codes, pd.Series(self.uniques, dtype=object)
        codes, uniques = pd.factorize(self.s if idx is None else self.s.take(idx))
        return codes, pd.Series(uniques)

    def _hits(self, u: pd.Series, prefixes: list[str]) -> np.ndarray:
        if any(ch.isspace() for p in prefixes for ch in p):
            return any_code_matches(normalise_codes(u), prefixes)  # regex on whole strings
        return self._token_hits(self._tokens(text_arrow(u)), tuple(prefixes))

    def _candidates(self, prefixes: Sequence[str]) -> np.ndarray | None:
        """Rows whose raw text may hold a code starting with a prefix (a superset), or None.

        For ASCII text a normalised code starts with ``P1 P2 ... Pk`` only if the upper-cased
        raw text contains ``P1``, ``P2``, ... ``Pk`` in that order, separated by dots at most:
        one arrow substring scan per prefix, instead of splitting every row. Used for rules that
        look at every row (the PQI 16 amputation procedures).
        """
        s = self.s
        if not (isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow"):
            return None
        if not all(p.isascii() for p in prefixes):
            return None
        if self._raw is None:
            raw = pa.chunked_array(s.array.__arrow_array__())
            self._ascii = pc.all(pc.string_is_ascii(raw)).as_py() is not False
            self._raw = pc.ascii_upper(raw)  # ASCII upper case is Python's for ASCII text
            self._dots = pc.any(pc.match_substring(raw, ".")).as_py() is True
        if not self._ascii:
            return None
        hit = np.zeros(len(s), dtype=bool)
        for p in dict.fromkeys(q.upper() for q in prefixes):
            if self._dots:
                pattern = r"\.*".join(re.escape(ch) for ch in p)
                h = pc.match_substring_regex(self._raw, pattern)
            else:
                h = pc.match_substring(self._raw, p)
            hit |= pc.fill_null(h, False).to_numpy()
        return hit

    def _tokens(self, text: pa.ChunkedArray) -> tuple[np.ndarray, pa.Array, np.ndarray]:
        """(offsets of each string's codes, normalised distinct codes, code index per code)."""
        lists = pc.split_pattern_regex(text, WHITESPACE).combine_chunks()
        offsets = np.asarray(lists.offsets)
        enc = pc.dictionary_encode(lists.values)
        tokens = enc.dictionary
        if pc.all(pc.string_is_ascii(tokens)).as_py() is not False:
            # ASCII: arrow's upper case is Python's; remove dots.
            normed = pc.replace_substring(pc.ascii_upper(tokens), ".", "")
        else:
            norm = self._norm
            normed = pa.array(
                [norm.setdefault(t, t.upper().replace(".", "")) for t in tokens.to_pylist()],
                type=pa.large_string(),
            )
        return offsets, normed, np.asarray(enc.indices)

    @staticmethod
    def _token_hits(
        tokens: tuple[np.ndarray, pa.Array, np.ndarray], prefixes: tuple[str, ...]
    ) -> np.ndarray:
        offsets, normed, index = tokens
        hit_tok = starts_with_any(normed, prefixes)
        c = np.zeros(index.size + 1, dtype=np.int64)
        if index.size:
            np.cumsum(hit_tok[index], out=c[1:])
        return c[offsets[1:]] > c[offsets[:-1]]
