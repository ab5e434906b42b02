"""A scorer compiled from the fitted pipelines: the same features and weights, none of the overhead.

scikit-learn spends most of a single prediction in input validation, sparse-matrix plumbing and
estimator dispatch. Here the fitted vectorisers' analysers, vocabularies and idf vectors and the
classifiers' coefficients are read out once; scoring a text is tokenising it, dictionary look-ups
and a few numpy gathers over the coefficient rows of the features it has.
``tests/test_scorer.py`` checks the results against the pipelines' own outputs within 1e-6.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import Pipeline

from service.features import COLUMNS, Parameter, prepare_with_parameters

_MAX_CACHED_WORDS = 50_000


@dataclass(frozen=True)
class _Block:
    """One vectoriser of the feature union, flattened."""

    column: int
    offset: int
    size: int
    analyse: Callable[[str], list[str]]
    term_ids: Callable[[str], Iterable[int]]  # vocabulary id per term occurrence, -1 if unknown
    vocabulary: dict[str, int]
    weight: float


@dataclass(frozen=True)
class Vector:
    """A description's sparse feature vector (sorted column indices) and the parameters read."""

    indices: np.ndarray  # ascending, so grouped by feature block in block order
    values: np.ndarray
    parameters: tuple[Parameter, ...] = ()
    indexed_from: int = 0  # position of the first feature the retrieval index covers


@dataclass(frozen=True)
class _Rows:
    """A CSR matrix whose rows are features, as plain arrays for fast gathers."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    n_columns: int

    @classmethod
    def of(cls, matrix: sparse.spmatrix) -> _Rows:
        m = sparse.csr_matrix(matrix)
        m.sort_indices()
        return cls(m.indptr.astype(np.int64), m.indices.astype(np.int64),
                   m.data.astype(np.float64), m.shape[1])

    def gather(self, rows: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(column, weight x value) for every stored entry of the given rows, row by row."""
        starts = self.indptr[rows]
        lengths = self.indptr[rows + 1] - starts
        total = int(lengths.sum())
        if total == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        # positions = concatenated ranges [start, end) of every row, without a Python loop
        shift = starts - (np.cumsum(lengths) - lengths)
        positions = np.repeat(shift, lengths) + np.arange(total)
        return self.indices[positions], self.data[positions] * np.repeat(weights, lengths)

    def dot(self, rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """``weights @ matrix[rows]`` as a dense vector over the columns."""
        columns, products = self.gather(rows, weights)
        return np.bincount(columns, weights=products, minlength=self.n_columns)


class Scorer:
    """P(dual-use), code scores and feature vectors, computed like the pipelines do.

    Code scores fuse the ranker's decision values with the best cosine similarity between the
    description and each code's indexed texts (provisions, national items, curated lines).
    """

    def __init__(self, dual_use: Pipeline, ranker: Pipeline, index: dict[str, Any]) -> None:
        features = dual_use.named_steps["features"]
        if ranker.named_steps["features"] is not features:
            raise ValueError("The dual-use model and the ranker must share one featurisation.")
        self.blocks, idf = _compile_features(features)
        self.idf = idf
        self.n_features = len(idf)
        self.feature_names = np.concatenate(
            [_names(b.vocabulary, b.size) for b in self.blocks]
        )
        self._block_starts = np.array([b.offset for b in self.blocks], dtype=np.int64)
        self._block_weights = np.array([b.weight for b in self.blocks])
        calibrated = _single_calibrated(dual_use.named_steps["clf"])
        base = calibrated.estimator
        self.coef = np.asarray(base.coef_, dtype=np.float64).ravel()
        self.intercept = float(base.intercept_[0])
        calibrator = calibrated.calibrators[0]
        self.a, self.b = float(calibrator.a_), float(calibrator.b_)
        clf = ranker.named_steps["clf"]
        self.codes: list[str] = [str(c) for c in clf.classes_]
        coef = sparse.csr_matrix(clf.coef_, dtype=np.float64)
        intercept = np.asarray(clf.intercept_, dtype=np.float64)
        if coef.shape[0] == 1 and len(self.codes) == 2:
            # A two-class SVM keeps one row for the second class; the first is its mirror.
            coef, intercept = sparse.vstack([-coef, coef]).tocsr(), np.r_[-intercept, intercept]
        self.rank_weights = _Rows.of(coef.T)  # features x codes
        self.rank_intercept = intercept
        self.index = _Rows.of(index["matrix_t"])  # features x indexed texts
        # Batches multiply whole matrices: the indexed rows and the ranker, built once.
        self.index_first = int(index["first_feature"])
        self._index_rows = sparse.csr_matrix(index["matrix_t"], dtype=np.float64)[self.index_first :]
        self._rank_matrix = sparse.csr_matrix(
            (self.rank_weights.data, self.rank_weights.indices, self.rank_weights.indptr),
            shape=(len(idf), self.rank_weights.n_columns),
        )
        self.index_codes: list[str] = index["codes"]
        self.index_texts: list[str] = index["texts"]
        self.index_starts = np.asarray(index["starts"], dtype=np.int64)
        self.fusion = float(index["fusion"])
        # The first block whose features the retrieval index covers (blocks are in column order).
        self._indexed_block = int(np.searchsorted(self._block_starts, self.index_first))
        if list(index["classes"]) != self.codes:
            raise ValueError("The retrieval index and the ranker disagree on the codes.")

    def vector(self, text: str) -> Vector:
        """The feature vector of one description (same values as the pipeline's features)."""
        return self._vectorise([text])[0][0]

    def vectorise(self, texts: Sequence[str]) -> tuple[list[Vector], sparse.csr_matrix]:
        """Feature vectors of many descriptions, and the same rows as a CSR matrix."""
        vectors, (val, idx, indptr) = self._vectorise(texts)
        return vectors, sparse.csr_matrix((val, idx, indptr), shape=(len(texts), self.n_features))

    def _vectorise(
        self, texts: Sequence[str]
    ) -> tuple[list[Vector], tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Feature vectors of many descriptions, and their (data, indices, indptr) arrays.

        Tokenising and vocabulary look-ups are per text; the arithmetic (sublinear tf, idf,
        l2 per block and text, block weights) runs once over the whole batch.
        """
        ids: list[int] = []
        sizes: list[int] = []
        parameters: list[tuple[Parameter, ...]] = []
        for text in texts:
            columns, found = prepare_with_parameters(text)
            parameters.append(tuple(found))
            for block in self.blocks:
                before = len(ids)
                ids += block.term_ids(columns[block.column])
                sizes.append(len(ids) - before)
        n_blocks = len(self.blocks)
        local = np.array(ids, dtype=np.int64)
        group = np.repeat(np.arange(len(texts) * n_blocks), sizes)  # text x block
        known = local >= 0
        group = group[known]
        # One sort counts the terms of the whole batch: key (text x block, column), column order.
        keys = group * self.n_features + local[known] + self._block_starts[group % n_blocks]
        keys, tf = np.unique(keys, return_counts=True)
        group, idx = np.divmod(keys, self.n_features)
        val = (np.log(tf) + 1.0) * self.idf[idx]
        # Each block of each text is l2-normalised on its own, then weighted (ColumnTransformer).
        squares = np.bincount(group, weights=val * val, minlength=len(texts) * n_blocks)
        weights = np.tile(self._block_weights, len(texts))
        scale = np.divide(weights, np.sqrt(squares), out=np.zeros(len(weights)), where=squares > 0)
        val *= scale[group]
        row = group // n_blocks
        indptr = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(np.bincount(row, minlength=len(texts)), out=indptr[1:])
        unindexed = np.bincount(row[group % n_blocks < self._indexed_block], minlength=len(texts))
        vectors = [
            Vector(idx[indptr[i] : indptr[i + 1]], val[indptr[i] : indptr[i + 1]],
                   parameters[i], int(unindexed[i]))
            for i in range(len(texts))
        ]
        return vectors, (val, idx, indptr)

    def matrix(self, vectors: Sequence[Vector]) -> sparse.csr_matrix:
        """Stack vectors into a CSR matrix."""
        indptr = np.zeros(len(vectors) + 1, dtype=np.int64)
        np.cumsum([len(v.indices) for v in vectors], out=indptr[1:])
        indices = np.concatenate([v.indices for v in vectors]) if vectors else np.zeros(0)
        data = np.concatenate([v.values for v in vectors]) if vectors else np.zeros(0)
        return sparse.csr_matrix(
            (data, indices, indptr), shape=(len(vectors), self.n_features), dtype=np.float64
        )

    def decision(self, vector: Vector) -> float:
        """The dual-use logistic regression's decision value."""
        return float(vector.values @ self.coef[vector.indices]) + self.intercept

    def probability(self, vector: Vector) -> float:
        """Calibrated P(dual-use), as ``CalibratedClassifierCV`` with a sigmoid computes it."""
        return _expit(-(self.a * self.decision(vector) + self.b))

    def rank_decision(self, vector: Vector) -> np.ndarray:
        """The ranker's decision value for each of ``self.codes``."""
        return self.rank_weights.dot(vector.indices, vector.values) + self.rank_intercept

    def similarities(self, vector: Vector) -> np.ndarray:
        """Cosine similarity of the description to every indexed text (indexed features only)."""
        start = vector.indexed_from
        indices, values = vector.indices[start:], vector.values[start:]
        norm = float(np.sqrt(values @ values)) or 1.0
        return self.index.dot(indices, values / norm)

    def code_scores(self, vector: Vector) -> tuple[np.ndarray, np.ndarray]:
        """Fused score per code (higher is better) and the similarities they used."""
        sims = self.similarities(vector)
        best = np.maximum.reduceat(sims, self.index_starts) if len(sims) else sims
        return self.rank_decision(vector) + self.fusion * best, sims

    def score_batch(
        self, texts: Sequence[str]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[Vector]]:
        """P(dual-use), fused code scores and similarities for many texts, as matrix products."""
        vectors, x = self.vectorise(texts)
        decision = x @ self.coef + self.intercept
        probabilities = 1.0 / (1.0 + np.exp(self.a * decision + self.b))
        indexed = self._indexed_matrix(vectors)
        sims = (indexed @ self._index_rows).toarray()
        best = np.maximum.reduceat(sims, self.index_starts, axis=1)
        ranked = (x @ self._rank_matrix).toarray()
        scores = ranked + self.rank_intercept + self.fusion * best
        return probabilities, scores, sims, vectors

    def _indexed_matrix(self, vectors: Sequence[Vector]) -> sparse.csr_matrix:
        """Rows of the indexed features only, each scaled to unit length (for cosines)."""
        parts_i, parts_v, indptr = [], [], [0]
        for v in vectors:
            values = v.values[v.indexed_from :]
            norm = float(np.sqrt(values @ values)) or 1.0
            parts_i.append(v.indices[v.indexed_from :] - self.index_first)
            parts_v.append(values / norm)
            indptr.append(indptr[-1] + len(values))
        return sparse.csr_matrix(
            (np.concatenate(parts_v) if parts_v else np.zeros(0),
             np.concatenate(parts_i) if parts_i else np.zeros(0, dtype=np.int64), np.array(indptr)),
            shape=(len(vectors), self._index_rows.shape[0]),
        )


def _compile_features(features: ColumnTransformer) -> tuple[list[_Block], np.ndarray]:
    """Read out the fitted column transformer's vectorisers, in output order."""
    weights = features.transformer_weights or {}
    blocks: list[_Block] = []
    idfs = []
    offset = 0
    for name, vectorizer, column in features.transformers_:
        if name == "remainder":
            continue
        if not isinstance(vectorizer, TfidfVectorizer) or vectorizer.norm != "l2":
            raise TypeError(f"Cannot compile feature block {name!r}: {type(vectorizer).__name__}")
        if (vectorizer.lowercase or vectorizer.binary or not vectorizer.use_idf
                or not vectorizer.sublinear_tf):
            raise TypeError(f"Feature block {name!r} uses options the scorer does not support.")
        idf = np.asarray(vectorizer.idf_, dtype=np.float64)
        analyse, term_ids = _analysers(vectorizer)
        blocks.append(_Block(
            column=_column_index(column),
            offset=offset,
            size=len(idf),
            analyse=analyse,
            term_ids=term_ids,
            vocabulary=vectorizer.vocabulary_,
            weight=float(weights.get(name, 1.0)),
        ))
        idfs.append(idf)
        offset += len(idf)
    return blocks, np.concatenate(idfs)


def _analysers(
    vectorizer: TfidfVectorizer,
) -> tuple[Callable[[str], list[str]], Callable[[str], Iterable[int]]]:
    """The vectoriser's analyser and a text's vocabulary ids (-1 for unknown terms).

    For the plain word and char_wb analysers the same terms are built without scikit-learn's
    chain of calls (``tests/test_scorer.py`` compares them); char_wb ids are also remembered
    per word: words recur across descriptions, so most of a text's ~100 n-grams are then one
    dictionary look-up per word away (bounded; reset when full).
    """
    vocabulary = vectorizer.vocabulary_
    pattern = re.compile(vectorizer.token_pattern) if vectorizer.token_pattern else None
    plain = (vectorizer.preprocessor is None and vectorizer.strip_accents is None
             and vectorizer.tokenizer is None and vectorizer.stop_words is None
             and vectorizer.input == "content")
    low, high = vectorizer.ngram_range
    if plain and vectorizer.analyzer == "word" and pattern is not None and pattern.groups <= 1:
        tokenize = pattern.findall

        def words(text: str) -> list[str]:
            tokens = tokenize(text)
            grams = list(tokens) if low == 1 else []
            for n in range(max(low, 2), min(high, len(tokens)) + 1):
                grams += [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
            return grams

        return words, lambda text: map(vocabulary.get, words(text), repeat(-1))
    if not plain or vectorizer.analyzer != "char_wb":
        analyse = vectorizer.build_analyzer()
        return analyse, lambda text: map(vocabulary.get, analyse(text), repeat(-1))

    def word_grams(word: str) -> list[str]:
        word = f" {word} "
        size = len(word)
        grams: list[str] = []
        for n in range(low, high + 1):
            if size <= n:  # a word no longer than n is counted once, as sklearn does
                grams.append(word)
                break
            grams += [word[i : i + n] for i in range(size - n + 1)]
        return grams

    def char_wb(text: str) -> list[str]:
        grams: list[str] = []
        for word in text.split():
            grams += word_grams(word)
        return grams

    known: dict[str, list[int]] = {}

    def char_wb_ids(text: str) -> list[int]:
        ids: list[int] = []
        for word in text.split():
            found = known.get(word)
            if found is None:
                if len(known) >= _MAX_CACHED_WORDS:
                    known.clear()
                found = known[word] = [
                    j for j in map(vocabulary.get, word_grams(word)) if j is not None
                ]
            ids += found
        return ids

    return char_wb, char_wb_ids


def _column_index(column: Any) -> int:
    if isinstance(column, (int, np.integer)):
        return int(column)
    if isinstance(column, str) and column in COLUMNS:
        return COLUMNS.index(column)
    raise TypeError(f"Unsupported column selector {column!r}.")


def _single_calibrated(clf: CalibratedClassifierCV) -> Any:
    if len(clf.calibrated_classifiers_) != 1:
        raise TypeError("Expected CalibratedClassifierCV(ensemble=False).")
    return clf.calibrated_classifiers_[0]


def _names(vocabulary: dict[str, int], n: int) -> np.ndarray:
    names = np.empty(n, dtype=object)
    for term, j in vocabulary.items():
        names[j] = term
    return names


def _expit(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + float(np.exp(-x)))
    z = float(np.exp(x))
    return z / (1.0 + z)
