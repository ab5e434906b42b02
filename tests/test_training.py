"""Training round trip: a tiny model trained in a temp dir publishes, verifies and loads.

Nothing here reads ``artifacts/``: every model is trained from a small labelled set.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import joblib
import numpy as np
import pytest

from service.artifacts import CURRENT_FILE, ArtifactError, load_verified, resolve_version, verify
from service.classifier import Classifier
from training.__main__ import main
from training.dataset import Dataset, Row, build_dataset, write_dataset
from training.evaluate import evaluate
from training.pipeline import staggered_folds
from training.publish import publish, train_to_dir

TINY_PARAMS = {"cv_folds": 3, "word_max_features": 2000, "char_max_features": 3000}
POSITIVES = {
    "1C902": ["samarium cobalt magnet 28 MGOe", "SmCo permanent magnet rings", "钐钴永磁体 28 MGOe",
              "samarium metal ingot 99.9%", "钐钴合金 磁环"],
    "3C002": ["germanium ingot 5N zone refined", "区熔锗锭 5N", "germanium dioxide powder",
              "germanium metal crystal", "锗单晶 衬底"],
    "1C351": ["botulinum toxin type A", "anthrax bacillus culture", "ricin toxin purified",
              "肉毒杆菌毒素", "ebola virus sample"],
}
NEGATIVES = ["cotton t-shirts", "wooden dining chair", "ceramic coffee mug", "棉质T恤", "steel bolts M8",
             "plastic toy car", "ballpoint pens", "木制餐桌", "leather shoes", "glass bottles 500 ml",
             "ferrite magnet for speakers 3 MGOe", "consumer drone 249 g", "paper notebooks",
             "rubber gloves", "毛巾", "LED light bulb 9 W", "bicycle helmet", "aluminium foil"]


def tiny_dataset() -> Dataset:
    """A handful of positives per entry (as list text and curated lines) and ordinary goods."""
    rows = []
    for code, texts in POSITIVES.items():
        for i, text in enumerate(texts):
            source = "curated" if i % 2 else "list_text"
            rows.append(Row(text, "zh" if not text.isascii() else "en", True, code, source, code, 1.0))
    for i, text in enumerate(NEGATIVES):
        source = "curated" if i % 3 == 0 else "hs_description"
        rows.append(Row(text, "zh" if not text.isascii() else "en", False, None, source,
                        f"neg{i % 4}", 1.0))
    return Dataset(rows, Counter())


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A work directory holding a tiny trained model (dataset, model.joblib, report.json)."""
    out = tmp_path_factory.mktemp("out")
    write_dataset(tiny_dataset(), out)
    train_to_dir(out, params=TINY_PARAMS)
    return out


@pytest.fixture
def published(trained: Path, tmp_path: Path) -> tuple[Path, str]:
    """The tiny model published into a fresh artifacts directory."""
    artifacts = tmp_path / "artifacts"
    return artifacts, publish(trained, artifacts, version="2026-01-01.1")


def test_publish_writes_an_immutable_version_and_moves_current(published: tuple[Path, str]) -> None:
    artifacts, version = published
    assert resolve_version(artifacts) == version
    names = {p.name for p in (artifacts / version).iterdir()}
    assert names == {"model.joblib", "manifest.json", "MODEL_CARD.md", "metrics.json"}
    manifest = verify(artifacts / version)
    assert set(manifest.files) == names - {"manifest.json"}
    assert manifest.training_data["sha256"] == tiny_dataset().sha256
    lo, hi = manifest.band
    assert 0.0 <= lo <= hi <= 1.0


def test_loaded_model_predicts_what_the_trained_one_did(
    trained: Path, published: tuple[Path, str]
) -> None:
    artifacts, version = published
    loaded, manifest = Classifier.load(artifacts)
    original = Classifier(joblib.load(trained / "model.joblib"), version)
    texts = ["samarium cobalt magnet 30 MGOe", "锗锭", "cotton socks"]
    assert loaded.classify_batch(texts) == original.classify_batch(texts)
    assert loaded.version == manifest.version == version


def test_tiny_model_learns_the_difference(published: tuple[Path, str]) -> None:
    classifier, _ = Classifier.load(published[0])
    magnet = classifier.classify("samarium cobalt permanent magnet 28 MGOe")
    shirt = classifier.classify("cotton t-shirts")
    assert magnet.dual_use["probability"] > shirt.dual_use["probability"]
    assert magnet.candidates[0]["code"] == "1C902"


def test_publishing_again_retires_the_old_version_but_keeps_its_manifest(
    trained: Path, published: tuple[Path, str]
) -> None:
    artifacts, first = published
    second = publish(trained, artifacts, version="2026-01-01.2")
    assert resolve_version(artifacts) == second
    assert not (artifacts / first).exists()
    kept = json.loads((artifacts / "history" / f"{first}.manifest.json").read_text())
    assert kept["version"] == first


def test_a_published_version_is_never_overwritten(
    trained: Path, published: tuple[Path, str]
) -> None:
    artifacts, version = published
    with pytest.raises(FileExistsError):
        publish(trained, artifacts, version=version)


@pytest.mark.parametrize("name", ["model.joblib", "MODEL_CARD.md", "metrics.json"])
def test_a_tampered_file_is_refused(published: tuple[Path, str], name: str) -> None:
    artifacts, version = published
    path = artifacts / version / name
    path.write_bytes(path.read_bytes() + b" ")
    with pytest.raises(ArtifactError, match=f"{name} has"):
        load_verified(artifacts / version)


def test_a_missing_file_is_refused(published: tuple[Path, str]) -> None:
    artifacts, version = published
    (artifacts / version / "metrics.json").unlink()
    with pytest.raises(ArtifactError, match="missing"):
        verify(artifacts / version)


@pytest.mark.parametrize("library", ["scikit-learn", "numpy", "scipy", "joblib", "python"])
def test_other_library_versions_are_refused(published: tuple[Path, str], library: str) -> None:
    artifacts, version = published
    path = artifacts / version / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["libraries"][library] = "0.0.1"
    path.write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match=f"{library} 0.0.1"):
        verify(artifacts / version)


def test_current_pointing_nowhere_or_at_junk_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="No model published"):
        resolve_version(tmp_path)
    (tmp_path / CURRENT_FILE).write_text("../../etc\n")
    with pytest.raises(ArtifactError, match="Invalid model version"):
        resolve_version(tmp_path)


def test_a_copied_version_under_another_name_is_refused(published: tuple[Path, str]) -> None:
    artifacts, version = published
    shutil.copytree(artifacts / version, artifacts / "2099-01-01.1")
    with pytest.raises(ArtifactError, match="names version"):
        verify(artifacts / "2099-01-01.1")


def test_evaluate_counts_review_as_flagged_and_codes_at_entry_level(published: tuple[Path, str]) -> None:
    classifier, _ = Classifier.load(published[0])
    lines = [
        {"text": "samarium cobalt magnet 28 MGOe", "dual_use": True, "code": "1C902.a"},
        {"text": "cotton t-shirts", "dual_use": False, "code": None},
    ]
    result = evaluate(classifier, lines)
    assert set(result) == {"n", "dual_use", "codes", "needs_review_rate"}
    assert set(result["dual_use"]) == {"precision", "recall", "f1", "accuracy", "roc_auc",
                                       "false_negatives", "false_positives"}
    assert result["n"] == 2
    assert result["codes"] == {"n": 1, "top1": 1.0, "top3": 1.0}


def test_evaluate_cli_prints_one_json_object(
    published: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "eval.jsonl"
    data.write_text(json.dumps({"text": "区熔锗锭 5N", "dual_use": True, "code": "3C002"}) + "\n"
                    + json.dumps({"text": "木制餐桌", "dual_use": False}) + "\n", encoding="utf-8")
    assert main(["evaluate", str(data), "--artifacts", str(published[0])]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 2 and result["codes"]["n"] == 1


def test_dataset_build_is_deterministic_and_never_holds_evaluation_lines() -> None:
    first, second = build_dataset(), build_dataset()
    assert first.sha256 == second.sha256
    texts = {" ".join(r.text.split()) for r in first.rows}
    for name in ("dev_products.jsonl", "holdout_products.jsonl"):
        path = Path(__file__).parent / "data" / name
        if path.is_file():
            lines = path.read_text(encoding="utf-8").splitlines()
            evaluation = {" ".join(json.loads(line)["text"].split()) for line in lines if line}
            assert not texts & evaluation
    sources = first.stats()["sources"]
    assert sources["list_text"]["positive"] == sources["list_text"]["rows"]
    assert sources["hs_description"]["positive"] == 0


def test_dataset_leaves_suspended_items_out_of_the_positives() -> None:
    rows = build_dataset(curated=[], reviews=[]).rows
    positive_codes = {r.code for r in rows if r.dual_use and r.code}
    # Ann. 57/2025 (holmium 1C909) and Ann. 58/2025 (battery equipment 3B901) are suspended.
    assert not {c for c in positive_codes if c.startswith(("1C909", "3B901", "2C902"))}
    assert any(c.startswith("1C902") for c in positive_codes)


def test_bad_curated_lines_are_dropped_and_counted(tmp_path: Path) -> None:
    curated = tmp_path / "bad.jsonl"
    lines = [
        "not json",
        json.dumps({"text": "", "dual_use": True}),
        json.dumps({"text": "gallium ingot", "dual_use": "yes"}),
        json.dumps({"text": "GPU 4A001 computer", "dual_use": True, "code": "4A001"}),
        json.dumps({"text": "holmium oxide 99.99%", "dual_use": True, "code": "1C909.b"}),
        json.dumps({"text": "Gallium metal ingot 6N, 1 kg", "dual_use": True, "code": None}),
    ]
    curated.write_text("\n".join(lines) + "\n", encoding="utf-8")
    dataset = build_dataset(curated=[curated], reviews=[])
    assert dataset.dropped["curated_invalid_json"] == 1
    assert dataset.dropped["curated_no_text"] == 1
    assert dataset.dropped["curated_no_bool_label"] == 1
    assert dataset.dropped["curated_positive_but_multilateral_only"] == 1
    assert dataset.dropped["curated_positive_but_suspended"] == 1
    assert [r.text for r in dataset.rows if r.source == "curated"] == ["Gallium metal ingot 6N, 1 kg"]


def test_training_twice_writes_the_same_model_bytes(tmp_path: Path) -> None:
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        write_dataset(tiny_dataset(), out)
        train_to_dir(out, params=TINY_PARAMS)
        runs.append((out / "model.joblib").read_bytes())
    assert runs[0] == runs[1]


def test_folds_stay_put_when_lines_come_and_go() -> None:
    groups = np.array([f"line:{i}" for i in range(300)] + ["1C902"] * 20 + ["3A001"] * 20)
    realistic = np.array([True] * 300 + [False] * 40)

    def fold_per_line(kept: np.ndarray) -> dict[int, int]:
        fold = np.empty(len(kept), dtype=int)
        for f, (_, test) in enumerate(staggered_folds(groups[kept], realistic[kept], 5)):
            fold[test] = f
        return dict(zip(kept.tolist(), fold.tolist(), strict=True))

    before = fold_per_line(np.arange(len(groups)))
    after = fold_per_line(np.delete(np.arange(len(groups)), [3, 50, 51, 299]))  # four lines dropped
    assert all(before[line] == fold for line, fold in after.items())
    assert len(set(before.values())) == 5
