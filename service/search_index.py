"""A small in-memory BM25 index over short bilingual documents (English words, Chinese n-grams)."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from service.features import simplified

_TOKEN = re.compile(r"[a-z0-9]+|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[a-z0-9]+")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
STOPWORDS = frozenset((
    "a", "an", "and", "any", "are", "as", "at", "be", "by", "for", "from", "has", "have", "in",
    "into", "is", "it", "its", "of", "on", "or", "other", "than", "that", "the", "their",
    "therefor", "these", "this", "those", "to", "which", "with",
))
# Spellings (and one everyday word) read alike on both sides of the index.
_SPELLINGS = {
    "analogue": "analog", "aluminium": "aluminum", "sulphur": "sulfur", "fibre": "fiber", "drone": "uav",
}


@dataclass(frozen=True, slots=True)
class Document:
    """What the index reads for one key: a title field, a body field and the snippet source."""

    key: str
    title: str
    body: str
    display: str


@functools.lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    """Light English normalisation: -ise/-ize, plurals, then spelling variants."""
    if len(word) > 5:
        word = re.sub(r"is(e|ed|es|ing|ation|ations)$", r"iz\1", word)
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes")):
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    return _SPELLINGS.get(word, word)


def tokens(text: str) -> list[str]:
    """Index terms: stemmed English words and numbers; Chinese characters and their bigrams."""
    if text.isascii():  # most list text: NFKC would change nothing
        return [_stem(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS]
    text = unicodedata.normalize("NFKC", text).lower()
    if not _CJK.search(text):
        return [_stem(w) for w in _WORD.findall(text) if w not in STOPWORDS]
    text = simplified(text)  # Traditional input (氮化鎵) finds Simplified text (氮化镓)
    found: list[str] = []
    for piece in _TOKEN.findall(text):
        if _CJK.match(piece):
            found.extend(piece)
            found.extend(piece[i : i + 2] for i in range(len(piece) - 1))
        elif piece not in STOPWORDS:
            found.append(_stem(piece))
    return found


class SearchIndex:
    """BM25 over a title and a body field, title matches weighted up, with per-key boosts."""

    def __init__(
        self,
        documents: Sequence[Document],
        boosts: Sequence[float],
        title_weight: float = 3.0,
        k1: float = 1.2,
        b: float = 0.75,
    ) -> None:
        self._keys = tuple(d.key for d in documents)
        self._positions = {key: i for i, key in enumerate(self._keys)}
        self._display = tuple(d.display for d in documents)
        self._vocabulary: dict[str, int] = {}
        fields = [self._counts([d.title for d in documents]), self._counts([d.body for d in documents])]
        n_docs, n_terms = len(documents), len(self._vocabulary)
        shape = (n_docs, n_terms)
        (title_rows, title_cols, _), (body_rows, body_cols, _) = fields
        present = sparse.csr_matrix(
            (np.ones(len(title_rows) + len(body_rows)),
             (np.concatenate([title_rows, body_rows]), np.concatenate([title_cols, body_cols]))),
            shape,
        )  # duplicates are summed, so each (document, term) pair is stored once
        df = np.bincount(present.tocoo().col, minlength=n_terms)
        idf = np.log1p((n_docs - df + 0.5) / (df + 0.5))
        # Lengths are counted per script: a Chinese line yields about twice as many terms
        # (characters and bigrams) as its English rendering has words.
        chinese = np.array([bool(_CJK.match(t)) for t in self._vocabulary], dtype=bool)
        weights = sparse.csr_matrix(shape, dtype=np.float64)
        for weight, (rows, cols, tf) in zip((title_weight, 1.0), fields, strict=True):
            norms = []
            for script in (False, True):
                kept = chinese[cols] == script
                length = np.bincount(rows[kept], weights=tf[kept], minlength=n_docs)
                average = length[length > 0].mean() if length.any() else 1.0
                norms.append(k1 * (1 - b + b * length / average))
            norm = np.where(chinese[cols], norms[1][rows], norms[0][rows])
            bm25 = idf[cols] * tf * (k1 + 1) / (tf + norm)
            weights = weights + weight * sparse.csr_matrix((bm25, (rows, cols)), shape)
        matrix = weights.tocsc().astype(np.float32)
        matrix.sort_indices()
        self._indptr, self._indices, self._data = matrix.indptr, matrix.indices, matrix.data
        self._boosts = np.asarray(boosts, dtype=np.float32)
        for array in (self._indptr, self._indices, self._data, self._boosts):
            array.flags.writeable = False

    def _counts(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Term counts of one field as (row, column, count) arrays, growing the vocabulary."""
        vocabulary = self._vocabulary
        ids: list[int] = []
        lengths: list[int] = []
        for text in texts:
            terms = tokens(text)
            ids.extend([vocabulary.setdefault(t, len(vocabulary)) for t in terms])
            lengths.append(len(terms))
        rows = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
        pairs, counts = np.unique(rows * (1 << 32) + np.array(ids, dtype=np.int64), return_counts=True)
        return pairs >> 32, pairs & ((1 << 32) - 1), counts.astype(float)

    def __len__(self) -> int:
        return len(self._keys)

    def position(self, key: str) -> int:
        """The document number of a key."""
        return self._positions[key]

    def search(
        self, query: str, limit: int, mask: np.ndarray | None = None
    ) -> list[tuple[str, float, str]]:
        """Best ``limit`` (key, score, snippet) for a query; ``mask`` keeps only some documents."""
        terms = list(dict.fromkeys(tokens(query)))
        ids = [self._vocabulary[t] for t in terms if t in self._vocabulary]
        if not ids:
            return []
        spans = [slice(self._indptr[i], self._indptr[i + 1]) for i in ids]
        docs = np.concatenate([self._indices[s] for s in spans])
        scores = np.bincount(docs, weights=np.concatenate([self._data[s] for s in spans]),
                             minlength=len(self._keys))
        # Documents matching more of the query's terms rank above ones repeating a single term.
        matched = np.bincount(docs, minlength=len(self._keys)) / len(terms)
        scores *= self._boosts * matched**2
        if mask is not None:
            scores[~mask] = 0.0
        candidates = np.flatnonzero(scores > 0)
        if len(candidates) > limit:
            candidates = candidates[np.argpartition(-scores[candidates], limit - 1)[:limit]]
        ranked = sorted(candidates, key=lambda d: (-scores[d], d))
        return [(self._keys[d], float(scores[d]), snippet(self._display[d], terms)) for d in ranked]


def snippet(text: str, terms: Sequence[str], width: int = 180) -> str:
    """A window of ``text`` around the first query term it contains."""
    lowered = text.lower()
    if _CJK.search(lowered):
        folded = simplified(lowered)
        lowered = folded if len(folded) == len(lowered) else lowered
    positions = [
        m.start()
        for term in terms
        if (m := re.search((r"\b" if term.isascii() else "") + re.escape(term), lowered))
    ]
    start = max(min(positions, default=0) - width // 3, 0)
    if start:
        start = text.rfind(" ", 0, start) + 1 or start
    window = text[start : start + width].strip()
    return ("…" if start else "") + window + ("…" if start + width < len(text) else "")
