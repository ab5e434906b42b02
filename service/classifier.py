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
        self._model_dict = {"version": version}
        names = self.scorer.feature_names
        char_block = self.scorer.blocks[0]
        # Char n-grams explain little to a reader; terms come from the word and parameter blocks.
        self._readable = np.ones(len(names), dtype=bool)
        self._readable[char_block.offset : char_block.offset + char_block.size] = False
        self._names = [readable_term(str(n)) for n in names]
        starts = self.scorer.index_starts
        self._index_ends = np.r_[starts[1:], len(self.scorer.index_texts)]
        self._listed = np.array([bool(t) for t in self.scorer.index_texts])
        self._provision_parameters: dict[int, list[Parameter]] = {}
        self._descriptions: dict[str, tuple[str, tuple[str, ...], Any]] = {}
        # Per code, the indexed rows that carry list text (candidates for the evidence provision).
        self._listed_rows = [
            np.flatnonzero(self._listed[begin:end]) + begin
            for begin, end in zip(starts, self._index_ends, strict=True)
        ]

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
        return self._result(vector, probability, scores, sims)

    def classify_batch(self, texts: Sequence[str]) -> list[Classification]:
        """Classify many descriptions with one set of matrix products."""
        if not texts:
            return []
        probabilities, scores, sims, vectors = self.scorer.score_batch(texts)
        return [
            self._result(vector, float(p), scores[i], sims[i])
            for i, (vector, p) in enumerate(zip(vectors, probabilities, strict=True))
        ]

    def _result(
        self, vector: Vector, probability: float, scores: np.ndarray, sims: np.ndarray
    ) -> Classification:
        k = min(self.top_k, len(scores))
        top = np.argsort(-scores) if k == len(scores) else np.argpartition(-scores, k)[:k]
        top = top[np.argsort(-scores[top], kind="stable")][:k]
        weights = np.exp(SCORE_SHARPNESS * (scores - scores[top[0]]))
        share = weights[top] / weights.sum()
        parameters = [p.as_dict() for p in vector.parameters]
        features = self.scorer.contributions(vector, top)
        candidates = []
        for c, s, pushed in zip(top, share, features, strict=True):
            code = self.scorer.codes[c]
            provision, doc = self._best_provision(int(c), sims)
            title, lists, status = self._describe(code, provision)
            candidates.append({
                "code": code,
                "title": title,
                "score": round(min(max(float(s), 0.0), 1.0), 4),
                "lists": lists,
                "status": status,
                "evidence": {
                    "provision": provision,
                    "terms": [self._names[j] for j in pushed[: MAX_TERMS * 3]
                              if self._readable[j]][:MAX_TERMS],
                    "parameters": parameters,
                    "comparisons": self._compare(vector.parameters, doc) if provision else [],
                },
            })
        # Rounded so that the single and batched paths (different summation order) agree.
        probability = round(probability, 6)
        # One validation of the nested dicts is far cheaper than building each model in Python.
        return Classification.model_validate({
            "dual_use": {"probability": probability, "label": self.label(probability)},
            "candidates": candidates,
            "model": self._model_dict,
        })

    def _best_provision(
        self, class_index: int, sims: np.ndarray
    ) -> tuple[dict[str, Any] | None, int]:
        """The indexed list text of this code most similar to the description, and its row."""
        rows = self._listed_rows[class_index]
        if not len(rows):
            return None, -1
        best = int(rows[np.argmax(sims[rows])])
        match = {
            "code": self.scorer.index_codes[best],
            "text": self.scorer.index_texts[best],
            "similarity": round(float(sims[best]), 4),
        }
        return match, best

    def _compare(self, params: Sequence[Parameter], doc: int) -> list[dict[str, Any]]:
        """Description parameters next to the provision's values of the same quantity."""
        if not params:
            return []
        found = self._provision_parameters.get(doc)
        if found is None:
            found = extract_parameters(self.scorer.index_texts[doc])
            self._provision_parameters[doc] = found  # texts are immutable: a plain cache
        return _compare(params, found)

    def _describe(
        self, code: str, provision: dict[str, Any] | None
    ) -> tuple[str, list[str], Any]:
        """Title, lists and China-scope status from the catalogue (the code itself if unknown)."""
        known = self._descriptions.get(code)
        if known is not None:
            return known[0], list(known[1]), known[2]
        record = self.catalogue.get(code) if self.catalogue is not None else None
        if record is None:
            return (provision["text"][:120] if provision else code), [], "not_listed"
        # The catalogue is immutable for the life of the process: remember what it said.
        self._descriptions[code] = (record.title, tuple(record.lists), record.status)
        return record.title, list(record.lists), record.status


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


def _compare(params: Sequence[Parameter], found: list[Parameter]) -> list[dict[str, Any]]:
    """Description parameters next to a provision's values of the same quantity."""
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
            out.append({
                "quantity": param.quantity,
                "description_value": param.value,
                "provision_value": limit.value,
                "provision_text": limit.text,
                "relation": relation,
            })
    return out[:8]
