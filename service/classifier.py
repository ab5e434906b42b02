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
    Candidate,
    Classification,
    DualUse,
    Evidence,
    Label,
    ModelRef,
    ParameterComparison,
    ParameterValue,
    ProvisionMatch,
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
        self._model_ref = ModelRef(version=version)
        names = self.scorer.feature_names
        char_block = self.scorer.blocks[0]
        # Char n-grams explain little to a reader; terms come from the word and parameter blocks.
        self._readable = np.ones(len(names), dtype=bool)
        self._readable[char_block.offset : char_block.offset + len(char_block.idf)] = False
        self._names = [_CJK_GAP.sub("", str(n)) for n in names]

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
        return self._result(text, vector, probability, scores, sims)

    def classify_batch(self, texts: Sequence[str]) -> list[Classification]:
        """Classify many descriptions with one set of matrix products."""
        if not texts:
            return []
        probabilities, scores, vectors = self.scorer.score_batch(texts)
        return [
            self._result(text, vector, float(p), row, None)
            for text, vector, p, row in zip(texts, vectors, probabilities, scores, strict=True)
        ]

    def _result(
        self,
        text: str,
        vector: Vector,
        probability: float,
        scores: np.ndarray,
        sims: np.ndarray | None,
    ) -> Classification:
        top = np.argpartition(-scores, self.top_k)[: self.top_k]
        top = top[np.argsort(-scores[top])]
        shifted = SCORE_SHARPNESS * (scores - scores[top[0]])
        weights = np.exp(shifted)
        share = weights[top] / weights.sum()
        if sims is None:
            sims = self.scorer.similarities(vector)
        params = extract_parameters(text)
        contributions = vector.values[:, None] * self.scorer.rank_weights[vector.indices][
            :, top
        ].toarray()
        candidates = [
            self._candidate(int(c), float(s), vector, contributions[:, i], sims, params)
            for i, (c, s) in enumerate(zip(top, share, strict=True))
        ]
        # Rounded so that the single and batched paths (different summation order) agree.
        probability = round(probability, 6)
        return Classification(
            dual_use=DualUse(probability=probability, label=self.label(probability)),
            candidates=candidates,
            model=self._model_ref,
        )

    def _candidate(
        self,
        class_index: int,
        score: float,
        vector: Vector,
        contribution: np.ndarray,
        sims: np.ndarray,
        params: list[Parameter],
    ) -> Candidate:
        code = self.scorer.codes[class_index]
        provision = self._best_provision(class_index, sims)
        title, lists, status = self._describe(code, provision)
        order = np.argsort(-contribution)
        terms = [
            self._names[vector.indices[j]]
            for j in order[: MAX_TERMS * 3]
            if contribution[j] > 0 and self._readable[vector.indices[j]]
        ][:MAX_TERMS]
        comparisons = _compare(params, provision.text) if provision else []
        return Candidate(
            code=code,
            title=title,
            score=round(min(max(score, 0.0), 1.0), 4),
            lists=lists,
            status=status,
            evidence=Evidence(
                provision=provision,
                terms=terms,
                parameters=[ParameterValue(**p.as_dict()) for p in params],  # type: ignore[arg-type]
                comparisons=comparisons,
            ),
        )

    def _best_provision(self, class_index: int, sims: np.ndarray) -> ProvisionMatch | None:
        """The indexed list text of this code most similar to the description."""
        starts = self.scorer.index_starts
        begin = int(starts[class_index])
        end = int(starts[class_index + 1]) if class_index + 1 < len(starts) else len(sims)
        texts = self.scorer.index_texts
        best, best_sim = -1, -1.0
        for j in range(begin, end):
            if texts[j] and sims[j] > best_sim:
                best, best_sim = j, float(sims[j])
        if best < 0:
            return None
        return ProvisionMatch(
            code=self.scorer.index_codes[best], text=texts[best], similarity=round(best_sim, 4)
        )

    def _describe(
        self, code: str, provision: ProvisionMatch | None
    ) -> tuple[str, list[str], Any]:
        """Title, lists and China-scope status from the catalogue (the code itself if unknown)."""
        record = self.catalogue.get(code) if self.catalogue is not None else None
        if record is None:
            return (provision.text[:120] if provision else code), [], "not_listed"
        return record.title, list(record.lists), record.status


def _compare(params: list[Parameter], provision_text: str) -> list[ParameterComparison]:
    """Description parameters next to the provision's values of the same quantity."""
    if not params:
        return []
    found = extract_parameters(provision_text)
    out = []
    for param in params:
        for limit in found:
            if limit.quantity != param.quantity or limit.quantity == "percent":
                continue
            relation = (
                "above" if param.value > limit.value * (1 + 1e-9)
                else "below" if param.value < limit.value * (1 - 1e-9)
                else "equal"
            )
            out.append(ParameterComparison(
                quantity=param.quantity,
                description_value=param.value,
                provision_value=limit.value,
                provision_text=limit.text,
                relation=relation,
            ))
    return out[:8]
