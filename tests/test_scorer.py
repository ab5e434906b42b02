"""The compiled scorer computes what the fitted scikit-learn pipelines compute, within 1e-6."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import TypeAdapter

from service.classifier import Classifier
from service.features import prepare
from service.schemas.classify import Classification
from service.scorer import Scorer
from training.dataset import build_dataset
from training.pipeline import train

TEXTS = [
    "Sm2Co17 samarium-cobalt permanent magnet rings, 28 MGOe, for servo motors",
    "区熔锗锭 5N, 3 kg",
    "consumer quadcopter 249 g, 4K camera",
    "Gallium arsenide wafers 6 inch, semi-insulating",
    "高纯氧化锑 99.99% 粉末",
    "cotton t-shirts, 100% cotton, size M",
    "硝酸铵化肥 50 kg袋装",
    "Centrifuge rotor, carbon fibre, 90,000 rpm, 300 m/s",
    "",
    "   ",
    "\x00\x01\x02 junk",
    "😀😀😀",
    "ＦＵＬＬ ＷＩＤＴＨ ５Ｎ　ＧＥＲＭＡＮＩＵＭ",
    "x" * 10_000,
    "zzzzqqqq unknown-words-only xyzzy",
    "1 2 3 4 5 6 7 8 9 0",
    "Valve, bellows-sealed, 316L, DN50 — for UF6 service 铀浓缩",
]


@pytest.fixture(scope="module")
def model() -> dict:
    """A model trained on every 6th row of the real corpus (all sources, both languages)."""
    rows = build_dataset().rows[::6]
    params = {"cv_folds": 3, "word_max_features": 5000, "char_max_features": 8000}
    return train(rows, params).model


@pytest.fixture(scope="module")
def scorer(model: dict) -> Scorer:
    """The scorer compiled from that model."""
    return Scorer(model["dual_use"], model["ranker"], model["index"])


def many_texts() -> list[str]:
    rows = build_dataset().rows
    return TEXTS + [r.text for r in rows[1::97]]


def test_probability_equals_the_calibrated_pipeline(model: dict, scorer: Scorer) -> None:
    texts = many_texts()
    expected = model["dual_use"].predict_proba(prepare(texts))[:, 1]
    single = np.array([scorer.probability(scorer.vector(t)) for t in texts])
    batched, _, _, _ = scorer.score_batch(texts)
    assert np.abs(single - expected).max() < 1e-6
    assert np.abs(batched - expected).max() < 1e-6


def test_ranker_decisions_equal_the_pipeline(model: dict, scorer: Scorer) -> None:
    texts = many_texts()
    expected = model["ranker"].decision_function(prepare(texts))
    single = np.array([scorer.rank_decision(scorer.vector(t)) for t in texts])
    assert list(model["ranker"].classes_) == scorer.codes
    assert np.abs(single - expected).max() < 1e-6


def test_feature_vectors_equal_the_pipeline_features(model: dict, scorer: Scorer) -> None:
    features = model["dual_use"].named_steps["features"]
    expected = features.transform(prepare(TEXTS)).toarray()
    got = scorer.matrix([scorer.vector(t) for t in TEXTS]).toarray()
    assert np.abs(got - expected).max() < 1e-9


def test_batched_code_scores_equal_single_ones(scorer: Scorer) -> None:
    _, batched, _, vectors = scorer.score_batch(TEXTS)
    single = np.array([scorer.code_scores(v)[0] for v in vectors])
    assert np.abs(single - batched).max() < 1e-9


def test_classifier_single_and_batch_agree(model: dict) -> None:
    classifier = Classifier(model, "test")
    texts = [t for t in TEXTS if t.strip()]
    assert classifier.classify_batch(texts) == [classifier.classify(t) for t in texts]


def test_results_conform_to_the_api_contract(model: dict) -> None:
    # The classifier builds results without validating them; every one of these must validate.
    classifier = Classifier(model, "test")
    results = classifier.classify_batch([t for t in many_texts() if t.strip()])
    validated = TypeAdapter(list[Classification]).validate_python([r.model_dump() for r in results])
    assert validated == results
    evidence = [c["evidence"] for r in results for c in r.candidates]
    for part in ("provision", "terms", "parameters", "comparisons"):  # every nested type is seen
        assert any(e[part] for e in evidence), part


def test_a_pipeline_with_an_unknown_feature_block_is_refused(model: dict) -> None:
    from sklearn.base import clone
    from sklearn.feature_extraction.text import CountVectorizer

    features = clone(model["dual_use"].named_steps["features"])
    features.transformers = [("count", CountVectorizer(), 0)]
    features.fit(prepare(TEXTS[:5]))
    dual = model["dual_use"]
    broken = type(dual)([("features", features), ("clf", dual.named_steps["clf"])])
    ranker = type(dual)([("features", features), ("clf", model["ranker"].named_steps["clf"])])
    with pytest.raises(TypeError, match="Cannot compile"):
        Scorer(broken, ranker, model["index"])


def test_fast_analysers_give_the_vectorisers_own_terms_and_ids(model: dict, scorer: Scorer) -> None:
    features = model["dual_use"].named_steps["features"]
    vectorisers = [v for name, v, _ in features.transformers_ if name != "remainder"]
    texts = [*TEXTS, "a", "ab", "abc", "  a  bb\tccc\n dddd  ", "Ω≈ç√ 锗 锗锭 区熔锗锭", *many_texts()]
    for block, vectoriser in zip(scorer.blocks, vectorisers, strict=True):
        sklearn_terms, vocabulary = vectoriser.build_analyzer(), vectoriser.vocabulary_
        for text in texts:
            column = prepare([text])[0, block.column]
            assert block.analyse(column) == sklearn_terms(column), (block.column, text)
            known = sorted(vocabulary[t] for t in sklearn_terms(column) if t in vocabulary)
            assert sorted(i for i in block.term_ids(column) if i >= 0) == known, (block.column, text)
