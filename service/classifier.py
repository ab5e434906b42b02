"""The classifier the service uses: a verified artifact, compiled once, answering in microseconds.

``Classifier.classify(text)`` returns a ``Classification``: the calibrated P(dual-use) with its
label from the manifest's band, and the top candidate codes with their lists, status in China's
scope and evidence (best-matching provision, driving terms, parameters read from the text).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from service.artifacts import Manifest, load_verified, resolve_version
from service.catalogue import Catalogue
from service.features import Parameter, extract_parameters
from service.schemas.classify import (
    Classification,
    Label,
)
from service.scorer import Scorer, Vector

TOP_K = 5
# Softmax temperature turning fused ranker scores into a 0..1 score among all codes.
SCORE_SHARPNESS = 4.0
MAX_TERMS = 6
_CJK_GAP = re.compile(r"(?<=[\u3400-\u9fff]) (?=[\u3400-\u9fff])")


class Classifier:
    """A loaded, verified model: ``classify(text) -> Classification``."""

    def __init__(
        self,
        model: dict[str, Any],
        version: str,
        catalogue: Catalogue | None = None,
        top_k: int = TOP_K,
    ) -> None:
        self.version = version
        self.model = model
        self.catalogue = catalogue
        self.top_k = top_k
        lo, hi = model["band"]
        self.band = (float(lo), float(hi))
        self.scorer = Scorer(model["dual_use"], model["ranker"], model["index"])
        names = self.scorer.feature_names
        char_block = self.scorer.blocks[0]
        # Char n-grams explain little to a reader; terms come from the word and parameter blocks.
        self._readable = np.ones(len(names), dtype=bool)
        self._readable[char_block.offset : char_block.offset + char_block.size] = False
        self._names = [readable_term(str(n)) for n in names]
        starts = self.scorer.index_starts
        self._index_ends = np.r_[starts[1:], len(self.scorer.index_texts)]
        self._listed = np.array([bool(t) for t in self.scorer.index_texts])
        # Per provision row, its parameters by quantity (filled lazily: texts are immutable).
        self._provision_limits: dict[int, dict[str, list[Parameter]]] = {}
        # Per code, the indexed rows that carry list text (candidates for the evidence provision),
        # flattened so that a whole batch of candidates is searched in one numpy pass.
        listed_rows = [
            np.flatnonzero(self._listed[begin:end]) + begin
            for begin, end in zip(starts, self._index_ends, strict=True)
        ]
        self._listed_counts = np.array([len(r) for r in listed_rows], dtype=np.int64)
        self._listed_starts = np.cumsum(self._listed_counts) - self._listed_counts
        self._listed_flat = np.concatenate(listed_rows) if listed_rows else np.zeros(0, np.int64)
        self._names_array = np.array(self._names, dtype=object)
        # Title, lists and status per code from the (immutable) catalogue; None when not listed.
        self._code_info = [self._catalogue_entry(code) for code in self.scorer.codes]

    @classmethod
    def load(
        cls,
        artifacts_dir: Path,
        version: str | None = None,
        catalogue: Catalogue | None = None,
    ) -> tuple[Classifier, Manifest]:
        """Resolve, verify and load a published version (ArtifactError when it is not sound)."""
        name = resolve_version(artifacts_dir, version)
        model, manifest = load_verified(artifacts_dir / name)
        return cls(model, manifest.version, catalogue), manifest

    def label(self, probability: float) -> Label:
        """The label for a calibrated probability under the band [lo, hi)."""
        lo, hi = self.band
        if probability >= hi:
            return "likely_dual_use"
        if probability >= lo:
            return "needs_review"
        return "likely_not_controlled"

    def classify(self, text: str) -> Classification:
        """Classify one description."""
        vector = self.scorer.vector(text)
        probability = self.scorer.probability(vector)
        scores, sims = self.scorer.code_scores(vector)
        return self._results([vector], np.array([probability]), scores[None, :], sims[None, :])[0]

    def classify_batch(self, texts: Sequence[str]) -> list[Classification]:
        """Classify many descriptions with one set of matrix products."""
        if not texts:
            return []
        probabilities, scores, sims, vectors = self.scorer.score_batch(texts)
        return self._results(vectors, probabilities, scores, sims)

    def _results(
        self,
        vectors: Sequence[Vector],
        probabilities: np.ndarray,
        scores: np.ndarray,
        sims: np.ndarray,
    ) -> list[Classification]:
        """Full results for rows of scores and similarities, the evidence computed batch-wide."""
        n, n_codes = scores.shape
        k = min(self.top_k, n_codes)
        negative = -scores
        rows = np.arange(n)[:, None]
        top = (np.argsort(negative, axis=1) if k == n_codes
               else np.argpartition(negative, k, axis=1)[:, :k])
        top = top[rows, np.argsort(negative[rows, top], axis=1, kind="stable")][:, :k]
        weights = np.exp(SCORE_SHARPNESS * (scores - scores[rows, top[:, :1]]))
        share = weights[rows, top] / weights.sum(axis=1, keepdims=True)
        shares = [round(s, 4) for s in np.clip(share, 0.0, 1.0).ravel().tolist()]
        terms = self._terms(vectors, top)
        best, similarity = self._best_provisions(top, sims)
        codes, texts = self.scorer.index_codes, self.scorer.index_texts
        candidate_codes, known = self.scorer.codes, self._code_info
        results = []
        for i, (vector, raw) in enumerate(zip(vectors, probabilities.tolist(), strict=True)):
            params = vector.parameters
            parameters = [p.as_dict() for p in params]
            candidates = []
            for j, c in enumerate(top[i].tolist(), start=i * k):
                doc = best[j]
                code = candidate_codes[c]
                provision = None if doc < 0 else {
                    "code": codes[doc], "text": texts[doc], "similarity": similarity[j],
                }
                title, lists, status = known[c] or (
                    (texts[doc][:120] if provision else code), (), "not_listed"
                )
                candidates.append({
                    "code": code,
                    "title": title,
                    "score": shares[j],
                    "lists": list(lists),
                    "status": status,
                    "evidence": {
                        "provision": provision,
                        "terms": terms[j],
                        "parameters": parameters,
                        "comparisons": self._compare(params, doc) if provision and params else [],
                    },
                })
            # Rounded so that the single and batched paths (different summation order) agree.
            probability = round(raw, 6)
            # Built here from typed values, so not validated again (that cost a fifth of a batch);
            # tests/test_scorer.py validates a few hundred varied results against the contract.
            results.append(Classification.model_construct(
                dual_use={"probability": probability, "label": self.label(probability)},
                candidates=candidates,
                model={"version": self.version},
            ))
        return results

    def _terms(self, vectors: Sequence[Vector], top: np.ndarray) -> list[list[str]]:
        """Per (description, candidate), the readable features that raised its score most."""
        n, k = top.shape
        n_codes = len(self.scorer.codes)
        rank = self.scorer.rank_weights
        indices = np.concatenate([v.indices for v in vectors])
        values = np.concatenate([v.values for v in vectors])
        text = np.repeat(np.arange(n), [len(v.indices) for v in vectors])
        # Only word and parameter features are weighed: they are what a reader can check, and
        # a third of a vector (char n-grams are the rest).
        readable = self._readable[indices]
        indices, values, text = indices[readable], values[readable], text[readable]
        # Every (feature, code) weight of those features; products are only computed for the
        # few entries whose code is a returned candidate.
        starts = rank.indptr[indices]
        lengths = rank.indptr[indices + 1] - starts
        ends = np.cumsum(lengths)
        total = int(ends[-1]) if len(ends) else 0
        positions = np.repeat(starts - (ends - lengths), lengths) + np.arange(total)
        slot = np.full(n * n_codes, -1, dtype=np.int64)
        slot[(np.arange(n)[:, None] * n_codes + top).ravel()] = np.tile(np.arange(k), n)
        slots = slot[np.repeat(text * n_codes, lengths) + rank.indices[positions]]
        hit = np.flatnonzero(slots >= 0)
        entry = np.searchsorted(ends, hit, side="right")  # the feature each hit belongs to
        products = rank.data[positions[hit]] * values[entry]
        keep = products > 0
        pair = (text[entry] * k + slots[hit])[keep]
        products, feature = products[keep], indices[entry[keep]]
        # Strongest first; equal contributions in column order (a stable sort).
        order = np.lexsort((-products, pair))
        pair, feature = pair[order], feature[order]
        chosen = _rank_in_group(pair, n * k) < MAX_TERMS
        pair, names = pair[chosen], self._names_array[feature[chosen]].tolist()
        ends = np.cumsum(np.bincount(pair, minlength=n * k)).tolist()
        return [names[begin:end] for begin, end in zip([0, *ends[:-1]], ends, strict=True)]

    def _best_provisions(self, top: np.ndarray, sims: np.ndarray) -> tuple[list[int], list[float]]:
        """Per candidate, its listed row most similar to the description (-1 if none), and how similar."""
        n, k = top.shape
        codes = top.ravel()
        counts = self._listed_counts[codes]
        total = int(counts.sum())
        best = np.full(n * k, -1, dtype=np.int64)
        similarity = np.zeros(n * k)
        if total:
            seg = np.cumsum(counts) - counts
            positions = np.repeat(self._listed_starts[codes] - seg, counts) + np.arange(total)
            docs = self._listed_flat[positions]
            values = sims[np.repeat(np.arange(n * k) // k, counts), docs]
            some = counts > 0
            highest = np.maximum.reduceat(values, seg[some])
            # The first maximum of each candidate's rows, as np.argmax picks it.
            at = np.where(values == np.repeat(highest, counts[some]), np.arange(total), total)
            first = np.minimum.reduceat(at, seg[some])
            best[some] = docs[first]
            similarity[some] = values[first]
        return best.tolist(), [round(s, 4) for s in similarity.tolist()]

    def _compare(self, params: Sequence[Parameter], doc: int) -> list[dict[str, Any]]:
        """Description parameters next to the provision's values of the same quantity."""
        if not params:
            return []
        limits = self._provision_limits.get(doc)
        if limits is None:
            limits = {}
            for limit in extract_parameters(self.scorer.index_texts[doc]):
                if limit.quantity != "percent":
                    limits.setdefault(limit.quantity, []).append(limit)
            self._provision_limits[doc] = limits  # texts are immutable: a plain cache
        out = []
        for param in params:
            for limit in limits.get(param.quantity, ()):
                relation = (
                    "above" if param.value > limit.value * (1 + 1e-9)
                    else "below" if param.value < limit.value * (1 - 1e-9)
                    else "equal"
                )
                out.append({
                    "quantity": param.quantity,
                    "description_value": param.value,
                    "provision_value": limit.value,
                    "provision_text": limit.text,
                    "relation": relation,
                })
        return out[:8]

    def _catalogue_entry(self, code: str) -> tuple[str, tuple[str, ...], Any] | None:
        """Title, lists and China-scope status of a code in the catalogue, None if unknown."""
        record = self.catalogue.get(code) if self.catalogue is not None else None
        if record is None:
            return None
        return record.title, tuple(record.lists), record.status


def _rank_in_group(groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Position of each element within its run of equal (sorted) group ids."""
    counts = np.bincount(groups, minlength=n_groups)
    return np.arange(len(groups)) - (np.cumsum(counts) - counts)[groups]


def readable_term(feature: str) -> str:
    """A feature name as a reader would write it: ``__mass_g_lt_250g__`` -> ``mass < 250g``."""
    if not (feature.startswith("__") and feature.endswith("__")):
        return _CJK_GAP.sub("", feature)
    body = feature.strip("_")
    for op, sign in (("_ge_", " >= "), ("_lt_", " < ")):
        if op in body:
            quantity, label = body.split(op, 1)
            return f"{_QUANTITY_NAMES.get(quantity, quantity)}{sign}{label}"
    return f"{_QUANTITY_NAMES.get(body, body)} stated"


_QUANTITY_NAMES = {
    "purity_nines": "purity", "mass_g": "mass", "length_m": "size", "frequency_hz": "frequency",
    "power_w": "power", "energy_density_whkg": "energy density", "density_gcm3": "density",
    "pressure_pa": "pressure", "temperature_k": "temperature", "rotation_rpm": "speed",
    "speed_ms": "speed", "energy_product_mgoe": "energy product", "time_s": "time",
    "voltage_v": "voltage", "current_a": "current", "volume_l": "volume", "percent": "percentage",
}

