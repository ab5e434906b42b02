"""A scorer compiled from the fitted pipelines: the same features and weights, none of the overhead.

scikit-learn spends most of a single prediction in input validation, sparse-matrix plumbing and
estimator dispatch. Here the fitted vectorisers' analysers, vocabularies and idf vectors and the
classifiers' coefficients are read out once; scoring a text is tokenising it, a few dictionary
look-ups and two small dot products. ``tests/test_scorer.py`` checks that the results equal the
pipelines' own ``predict_proba`` within 1e-6.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC

from service.features import COLUMNS, prepare_one


@dataclass(frozen=True)
class _Block:
    """One vectoriser of the feature union, flattened."""

    column: int
    offset: int
    analyse: Callable[[str], list[str]]
    vocabulary: dict[str, int]
    idf: np.ndarray
    sublinear: bool
    weight: float


@dataclass(frozen=True)
class Vector:
    """A sparse feature vector: sorted column indices and values."""

    indices: np.ndarray
    values: np.ndarray


class Scorer:
    """P(dual-use), code scores and feature vectors, computed like the pipelines do.

    Code scores fuse the ranker's decision values with the best cosine similarity between the
    description and each code's indexed texts (provisions, national items, curated lines).
    """

    def __init__(self, dual_use: Pipeline, ranker: Pipeline, index: dict[str, Any]) -> None:
        features = dual_use.named_steps["features"]
        if ranker.named_steps["features"] is not features:
            raise ValueError("The dual-use model and the ranker must share one featurisation.")
        self.blocks = _compile_features(features)
        self.n_features = sum(len(b.idf) for b in self.blocks)
        self.feature_names = np.concatenate(
            [_names(b.vocabulary, len(b.idf)) for b in self.blocks]
        )
        calibrated = _single_calibrated(dual_use.named_steps["clf"])
        base: LogisticRegression = calibrated.estimator
        self.coef = np.asarray(base.coef_, dtype=np.float64).ravel()
        self.intercept = float(base.intercept_[0])
        calibrator = calibrated.calibrators[0]
        self.a, self.b = float(calibrator.a_), float(calibrator.b_)
        clf: LinearSVC = ranker.named_steps["clf"]
        self.codes: list[str] = [str(c) for c in clf.classes_]
        # Rows are features: a query's few hundred features gather a few hundred rows.
        self.rank_weights = sparse.csr_matrix(clf.coef_.T, dtype=np.float64)
        self.rank_intercept = np.asarray(clf.intercept_, dtype=np.float64)
        self.index_t: sparse.csr_matrix = index["matrix_t"]
        self.index_codes: list[str] = index["codes"]
        self.index_texts: list[str] = index["texts"]
        self.index_starts = np.asarray(index["starts"], dtype=np.int64)
        self.fusion = float(index["fusion"])
        self.index_first = int(index["first_feature"])
        if list(index["classes"]) != self.codes:
            raise ValueError("The retrieval index and the ranker disagree on the codes.")

    def vector(self, text: str) -> Vector:
        """The feature vector of one description (same values as the pipeline's features)."""
        return self.vector_prepared(prepare_one(text))

    def vector_prepared(self, columns: Sequence[str]) -> Vector:
        """The feature vector of one prepared row (see ``service.features.prepare``)."""
        idx_parts: list[np.ndarray] = []
        val_parts: list[np.ndarray] = []
        for block in self.blocks:
            counts: dict[int, int] = {}
            vocabulary = block.vocabulary
            for term in block.analyse(columns[block.column]):
                j = vocabulary.get(term)
                if j is not None:
                    counts[j] = counts.get(j, 0) + 1
            if not counts:
                continue
            idx = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
            tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
            if block.sublinear:
                tf = np.log(tf) + 1.0
            val = tf * block.idf[idx]
            val *= block.weight / np.sqrt(val @ val)
            order = np.argsort(idx)
            idx_parts.append(idx[order] + block.offset)
            val_parts.append(val[order])
        if not idx_parts:
            return Vector(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))
        return Vector(np.concatenate(idx_parts), np.concatenate(val_parts))

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
        rows = self.rank_weights[vector.indices]
        return np.asarray(rows.T @ vector.values) + self.rank_intercept

    def similarities(self, vector: Vector) -> np.ndarray:
        """Cosine similarity of the description to every indexed text (indexed features only)."""
        start = int(np.searchsorted(vector.indices, self.index_first))
        indices, values = vector.indices[start:], vector.values[start:]
        norm = float(np.sqrt(values @ values)) or 1.0
        rows = self.index_t[indices]
        return np.asarray(rows.T @ (values / norm), dtype=np.float64).ravel()

    def code_scores(self, vector: Vector) -> tuple[np.ndarray, np.ndarray]:
        """Fused score per code (higher is better) and the similarities they used."""
        sims = self.similarities(vector)
        best = np.maximum.reduceat(sims, self.index_starts) if len(sims) else sims
        return self.rank_decision(vector) + self.fusion * best, sims

    def score_batch(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, list[Vector]]:
        """P(dual-use) and fused code scores for many descriptions, as sparse matrix products."""
        vectors = [self.vector(text) for text in texts]
        x = self.matrix(vectors)
        decision = x @ self.coef + self.intercept
        probabilities = 1.0 / (1.0 + np.exp(self.a * decision + self.b))
        indexed = x[:, self.index_first :]
        norms = np.sqrt(np.asarray(indexed.multiply(indexed).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        sims = (sparse.diags(1.0 / norms) @ indexed @ self.index_t[self.index_first :]).toarray()
        best = np.maximum.reduceat(sims, self.index_starts, axis=1)
        scores = (x @ self.rank_weights).toarray() + self.rank_intercept + self.fusion * best
        return probabilities, scores, vectors


def _compile_features(features: ColumnTransformer) -> list[_Block]:
    """Read out the fitted column transformer's vectorisers, in output order."""
    weights = features.transformer_weights or {}
    blocks: list[_Block] = []
    offset = 0
    for name, vectorizer, column in features.transformers_:
        if name == "remainder":
            continue
        if not isinstance(vectorizer, TfidfVectorizer) or vectorizer.norm != "l2":
            raise TypeError(f"Cannot compile feature block {name!r}: {type(vectorizer).__name__}")
        if vectorizer.lowercase or vectorizer.binary or not vectorizer.use_idf:
            raise TypeError(f"Feature block {name!r} uses options the scorer does not support.")
        idf = np.asarray(vectorizer.idf_, dtype=np.float64)
        blocks.append(_Block(
            column=_column_index(column),
            offset=offset,
            analyse=vectorizer.build_analyzer(),
            vocabulary=vectorizer.vocabulary_,
            idf=idf,
            sublinear=bool(vectorizer.sublinear_tf),
            weight=float(weights.get(name, 1.0)),
        ))
        offset += len(idf)
    return blocks


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
