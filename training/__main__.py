"""``python -m training <command>``: build-dataset, train, evaluate, publish, all."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "training" / "out"
ARTIFACTS = REPO / "artifacts"
# Realistic descriptions never trained on: evaluated after training, for the record only.
# Realistic descriptions written independently from the legal texts, never trained on: the
# review band's two edges are chosen on it.
VALIDATION_SET = REPO / "tests" / "data" / "holdout_products.jsonl"
EVALUATION_SETS = {
    "dev": REPO / "tests" / "data" / "dev_products.jsonl",
    "validation": VALIDATION_SET,
}


def build_dataset_cmd(args: argparse.Namespace) -> int:
    """Assemble the labelled corpus into training/out/dataset.jsonl."""
    from training.dataset import build_dataset, write_dataset

    dataset = build_dataset()
    path = write_dataset(dataset, Path(args.out))
    stats = dataset.stats()
    print(json.dumps({k: stats[k] for k in ("sha256", "rows", "positive", "codes", "dropped")},
                     ensure_ascii=False))
    print(f"wrote {path}", file=sys.stderr)
    return 0


def train_cmd(args: argparse.Namespace) -> int:
    """Train on training/out/dataset.jsonl; write model.joblib and report.json beside it."""
    from training.publish import train_to_dir

    sets = {name: path for name, path in EVALUATION_SETS.items() if path.is_file()}
    report = train_to_dir(Path(args.out), sets, validation=VALIDATION_SET)
    evaluation = {name: e["metrics"] for name, e in report.get("evaluation", {}).items()}
    print(json.dumps({"band": report["band"], "timings": report["timings"], "oof": report["oof"],
                      "ranker_holdout": report["ranker_holdout"], "evaluation": evaluation},
                     ensure_ascii=False))
    return 0


def evaluate_cmd(args: argparse.Namespace) -> int:
    """Print one JSON object with the metrics of a model on a labelled JSONL file."""
    from training.evaluate import evaluate, read_labelled
    from training.publish import load_classifier

    classifier = load_classifier(args.model, Path(args.out), Path(args.artifacts))
    print(json.dumps(evaluate(classifier, read_labelled(Path(args.file)))))
    return 0


def publish_cmd(args: argparse.Namespace) -> int:
    """Publish training/out as an immutable artifacts/<version>/ and move CURRENT to it."""
    from training.publish import publish

    version = publish(Path(args.out), Path(args.artifacts))
    print(version)
    return 0


def all_cmd(args: argparse.Namespace) -> int:
    """build-dataset, train and publish in one go."""
    started = time.perf_counter()
    for step in (build_dataset_cmd, train_cmd, publish_cmd):
        if step(args):
            return 1
    print(f"total {time.perf_counter() - started:.1f}s", file=sys.stderr)
    return 0


def export_reviews_cmd(args: argparse.Namespace) -> int:
    """Turn reviews in the audit database into training/data/reviews/reviews-<date>.jsonl."""
    from training.reviews import main as export_reviews

    return export_reviews(Path(args.reviews_dir), args.database_url, args.organisation)


# One entry per subcommand: (handler, extra arguments). Adding a command is adding a line.
COMMANDS: dict[str, tuple[Callable[[argparse.Namespace], int], list[tuple[str, dict]]]] = {
    "build-dataset": (build_dataset_cmd, []),
    "train": (train_cmd, []),
    "evaluate": (evaluate_cmd, [("file", {"help": "labelled JSONL"}),
                                ("--model", {"default": None,
                                             "help": "published VERSION, or 'out' for "
                                                     "training/out (default: CURRENT)"})]),
    "publish": (publish_cmd, []),
    "all": (all_cmd, []),
    "export-reviews": (export_reviews_cmd, [
        ("--reviews-dir", {"default": str(REPO / "training" / "data" / "reviews"),
                           "help": "where reviews-<date>.jsonl is written"}),
        ("--database-url", {"default": None, "help": "audit database (default: DATABASE_URL)"}),
        ("--organisation", {"default": None, "help": "export only this organisation's reviews"}),
    ]),
}


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one subcommand."""
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (handler, extra) in COMMANDS.items():
        command = sub.add_parser(name, help=(handler.__doc__ or "").strip())
        command.add_argument("--out", default=str(OUT), help="work directory (training/out)")
        command.add_argument("--artifacts", default=str(ARTIFACTS), help="artifacts directory")
        for flag, options in extra:
            command.add_argument(flag, **options)
        command.set_defaults(handler=handler)
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
