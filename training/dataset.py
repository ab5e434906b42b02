"""Assemble the labelled corpus from reference data, curated lines and reviewer corrections.

Every row is ``{text, lang, dual_use, code, source, group, weight}``. ``code`` is the entry or
provision code the text belongs to (the ranker's label), ``group`` keeps one entry's texts on
one side of a grouped split, ``weight`` lets curated product wording count more than list text.
The build is deterministic: the same inputs give the same file and the same hash.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from service.catalogue import REUSED_NUMBERS, Catalogue, normalise_code
from service.reference import ReferenceData, clean_control_code, load_reference, read_rows

REPO = Path(__file__).resolve().parent.parent
CURATED_GLOB = "training/data/curated/*.jsonl"
REVIEWS_GLOB = "training/data/reviews/*.jsonl"
# Evaluation files: their texts never enter the training data.
EVALUATION_FILES = (
    REPO / "tests" / "data" / "dev_products.jsonl",
    REPO / "tests" / "data" / "holdout_products.jsonl",
)

# How much one row of each source counts in training (curated realistic wording matters most).
WEIGHTS = {
    "curated": 10.0,
    "review": 10.0,
    "national_item": 2.0,
    "list_text": 1.0,
    "list_text_us": 0.5,
    "wassenaar_only": 0.6,
    "us_x9xx": 0.4,
    "decontrol_note": 0.3,
    "hs_description": 0.3,
    "cn_goods_name": 0.2,
}
# Numbers China reuses for other items: the EU/US wording is no proxy for China's item, except
# for cryptography (5A002) and UAVs (9A012), where both lists describe the same kind of goods.
CN_SPECIFIC_STEMS = frozenset(REUSED_NUMBERS) - {"5A002", "9A012"}
PROVISION_KINDS = frozenset({"heading", "item"})
# HS headings that cover controlled goods whatever the catalogue says (PROVENANCE.md §5).
HS_NOT_NEGATIVE = ("93", "2844", "2845", "3601", "3602", "3603", "3604", "8401", "8710",
                   "8802", "8805", "8806", "8906")
# Chinese goods names naming controlled materials or items are not negatives.
CN_CONTROLLED_TERMS = (
    "镓", "锗", "锑", "铟", "铋", "碲", "钨", "钼", "钐", "钆", "铽", "镝", "镥", "钪", "钇", "钬",
    "铒", "铥", "铕", "镱", "稀土", "石墨", "金刚石", "氮化硼", "无人机", "无人驾驶", "铀", "钚",
    "钍", "锆", "铍", "氘", "氚", "重水", "核", "放射", "防弹", "炸药", "火药", "弹药", "毒剂",
    "毒素", "病毒", "细菌", "导弹", "火箭", "雷达", "激光", "加密", "密码", "军用", "武器", "枪",
    "炮", "雷管", "引信", "硝化", "氰", "磷酸三", "芥",
)
NOT_ITEM_TEXT = ("not used", "reserved", "note", "technical note", "n.b.", "nb:", "notes")
SYNTHETIC_PREFIX = "CN-NAT-"
# Commercial specifications (quantities, packing, sizes, mains ratings) that say nothing about
# control. Real descriptions carry them whatever the item; list text and goods names do not, so
# without this the model learns "has a quantity" as a sign of control. They are appended to a
# seeded share of list-text rows and of ordinary-goods rows alike, which makes them uninformative.
SPEC_SHARE = 0.35
SPECS_EN = ("{n} kg net", "packed in {n} kg drums", "{n} pcs", "qty {n} sets", "{n} MT",
            "size {a} x {b} mm", "length {a} mm", "{n} cartons", "220 V 50 Hz", "{n} L",
            "gross weight {n} kg", "{a} x {b} x {c} cm", "lot of {n} units", "{n} g sample")
SPECS_ZH = ("{n}公斤/袋", "{n}件", "数量{n}套", "{n}吨", "规格{a}×{b}mm", "长度{a}mm", "{n}箱",
            "220V 50Hz", "{n}升", "毛重{n}公斤", "{a}×{b}×{c}cm", "样品{n}克")
SPEC_SOURCES = frozenset({"list_text", "list_text_us", "national_item", "wassenaar_only",
                          "us_x9xx", "hs_description", "cn_goods_name"})
SEED = 20261128
CODE_IN_TEXT = re.compile(r"\b(\d[A-E]\d{3})(?:\.[a-z0-9]+)*")
EDITORIAL_NOTE = re.compile(r"\s*\[Editorial note:[^\]]*\]")


@dataclass(frozen=True, slots=True)
class Row:
    """One labelled training text."""

    text: str
    lang: str
    dual_use: bool
    code: str | None
    source: str
    group: str
    weight: float
    spec: str = ""  # neutral commercial specification appended for training only

    @property
    def training_text(self) -> str:
        """The text the model is trained on: the row's text with its specification, if any."""
        return f"{self.text}, {self.spec}" if self.spec else self.text


@dataclass
class Dataset:
    """The corpus with its statistics and content hash."""

    rows: list[Row]
    dropped: Counter[str]

    @property
    def sha256(self) -> str:
        """'sha256:<hex>' over the canonical JSON lines."""
        digest = hashlib.sha256()
        for line in self.lines():
            digest.update(line.encode())
        return "sha256:" + digest.hexdigest()

    def lines(self) -> Iterator[str]:
        """Canonical JSON lines, one per row."""
        for row in self.rows:
            yield json.dumps(asdict(row), ensure_ascii=False, sort_keys=True) + "\n"

    def stats(self) -> dict[str, object]:
        """Row counts per source and label, and drop reasons."""
        per_source: dict[str, dict[str, int]] = {}
        for row in self.rows:
            entry = per_source.setdefault(row.source, {"rows": 0, "positive": 0, "with_code": 0})
            entry["rows"] += 1
            entry["positive"] += row.dual_use
            entry["with_code"] += row.code is not None
        return {
            "sha256": self.sha256,
            "rows": len(self.rows),
            "positive": sum(r.dual_use for r in self.rows),
            "codes": len({stem(r.code) for r in self.rows if r.code}),
            "sources": dict(sorted(per_source.items())),
            "dropped": dict(sorted(self.dropped.items())),
        }


def stem(code: str) -> str:
    """The entry a code belongs to: its first five characters, or the whole synthetic id."""
    return code if code.startswith(SYNTHETIC_PREFIX) else code[:5].upper()


def lang_of(text: str) -> str:
    """'zh' when the text has CJK characters, else 'en'."""
    return "zh" if re.search(r"[\u4e00-\u9fff]", text) else "en"


def build_dataset(
    reference_dir: Path = REPO / "data" / "reference",
    curated: list[Path] | None = None,
    reviews: list[Path] | None = None,
    exclude_texts: set[str] | None = None,
) -> Dataset:
    """Build the corpus; ``exclude_texts`` (the evaluation lines) never enter it."""
    reference = load_reference(reference_dir)
    catalogue = Catalogue.from_reference(reference)
    curated = sorted(REPO.glob(CURATED_GLOB)) if curated is None else curated
    reviews = sorted(REPO.glob(REVIEWS_GLOB)) if reviews is None else reviews
    if exclude_texts is None:
        exclude_texts = _evaluation_texts()
    dropped: Counter[str] = Counter()
    rows: list[Row] = []
    rows += _list_rows(reference, catalogue)
    rows += _national_rows(reference, catalogue)
    rows += _near_miss_rows(reference_dir)
    rows += _hs_rows(reference, dropped)
    rows += _cn_goods_rows(reference_dir, dropped)
    for path in curated:
        rows += _labelled_lines(path, "curated", catalogue, exclude_texts, dropped)
    for path in reviews:
        rows += _labelled_lines(path, "review", catalogue, exclude_texts, dropped)
    return Dataset(_with_specs(_dedupe(rows, dropped)), dropped)


def write_dataset(dataset: Dataset, out_dir: Path) -> Path:
    """Write ``dataset.jsonl`` and ``dataset_stats.json``; returns the dataset path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "dataset.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        handle.writelines(dataset.lines())
    (out_dir / "dataset_stats.json").write_text(
        json.dumps(dataset.stats(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return path


def read_dataset(path: Path) -> list[Row]:
    """Rows of a ``dataset.jsonl``."""
    with path.open(encoding="utf-8") as handle:
        return [Row(**json.loads(line)) for line in handle if line.strip()]


def scope_of(catalogue: Catalogue, code: str) -> str:
    """The catalogue's China-scope status, with suspended-only items counted as not listed.

    Items whose only basis is an announcement suspended by Ann. 70/2025 are not currently
    listed for the labelled data (``suspended``); everything else is the catalogue's status.
    """
    record = catalogue.get(code)
    if record is None:
        return "not_listed"
    if record.status == "cn_listed" and record.cn_status == "suspended":
        return "suspended"
    return record.status


def _list_rows(reference: ReferenceData, catalogue: Catalogue) -> Iterator[Row]:
    """Provision lines: positives for China's scope, hard negatives for Wassenaar-only entries."""
    by_code = {(p.regime, p.code): p for p in reference.provisions}
    x9xx = {e.code for e in reference.entries if e.is_x9xx}
    eu_codes = {e.code for e in reference.entries if e.regime == "EU"}
    for p in reference.provisions:
        entry = p.entry_code
        if p.kind not in PROVISION_KINDS or entry in CN_SPECIFIC_STEMS or entry in x9xx:
            continue
        if p.regime == "US" and entry not in eu_codes:
            continue  # US-only numbers: x9xx and 600-series are handled as near misses
        status = scope_of(catalogue, p.code)
        positive = status == "cn_listed"
        if not positive and status != "multilateral_only":
            continue
        text = p.text
        if text.lower().startswith(NOT_ITEM_TEXT):
            continue
        parent = by_code.get((p.regime, p.parent_code or ""))
        if parent is not None and len(text) < 80:
            text = f"{parent.text} {text}"  # short sub-items read as their parent's lead-in
        if len(text) < 12 or text.lower().startswith(NOT_ITEM_TEXT):
            continue
        source = "wassenaar_only"
        if positive:
            source = "list_text" if p.regime == "EU" else "list_text_us"
        yield Row(text, "en", positive, p.code, source, entry, WEIGHTS[source])


def _national_rows(reference: ReferenceData, catalogue: Catalogue) -> Iterator[Row]:
    """China's national items in force, English and Chinese; suspended ones are left out.

    Items whose announcement states no code carry the catalogue's synthetic id (CN-NAT-...).
    """
    synthetic = {r.title_zh: r.code for r in catalogue if r.synthetic}
    for item in reference.national_items:
        if item.status == "suspended":
            continue  # Ann. 70/2025: not currently listed; don't teach a contradiction
        code = item.codes[0] if item.codes else synthetic.get(item.item_zh)
        group = stem(code) if code else f"national:{item.item_en[:24]}"
        for text in (EDITORIAL_NOTE.sub("", item.item_en), item.item_zh):
            text = text.strip()
            if len(text) >= 2:
                yield Row(text, lang_of(text), True, code, "national_item", group,
                          WEIGHTS["national_item"])


def _near_miss_rows(reference_dir: Path) -> Iterator[Row]:
    """Decontrol notes and US-only x9xx items: hard negatives for China's scope."""
    for row in read_rows(reference_dir / "near_miss_candidates.csv"):
        text = row["text"].strip()
        if len(text) < 12:
            continue
        source = "decontrol_note" if row["kind"] == "decontrol_note" else "us_x9xx"
        code = clean_control_code(row["code"]) or row["code"][:5].upper()
        yield Row(text, "en", False, None, source, stem(code), WEIGHTS[source])


def _hs_rows(reference: ReferenceData, dropped: Counter[str]) -> Iterator[Row]:
    """HS 2022 descriptions of ordinary goods, filtered against the lists' customs codes."""
    listed = {hs[:6] for row in reference.catalogue for hs in row.hs_codes}
    listed |= {hs[:6] for item in reference.national_items for hs in item.hs_codes}
    listed4 = {hs[:4] for hs in listed}
    for hs in reference.hs_codes:
        if hs.level not in (4, 6):
            continue
        if hs.code.startswith(HS_NOT_NEGATIVE):
            dropped["hs_controlled_heading"] += 1
        elif hs.code in listed or (hs.level == 4 and hs.code in listed4):
            dropped["hs_in_catalogue"] += 1
        elif len(hs.description) >= 6:
            yield Row(hs.description, "en", False, None, "hs_description", f"hs:{hs.code[:2]}",
                      WEIGHTS["hs_description"])


def _cn_goods_rows(reference_dir: Path, dropped: Counter[str]) -> Iterator[Row]:
    """Chinese goods names, without excluded classes and names of controlled materials."""
    for row in read_rows(reference_dir / "cn_goods_names_nice_classes_01_34.csv"):
        name = row["item_name_zh"].strip()
        if row["negative_use_flag"].startswith("exclude"):
            dropped["cn_goods_excluded_class"] += 1
        elif any(term in name for term in CN_CONTROLLED_TERMS):
            dropped["cn_goods_controlled_term"] += 1
        elif len(name) >= 2:
            yield Row(name, "zh", False, None, "cn_goods_name", f"cn:{row['similar_group']}",
                      WEIGHTS["cn_goods_name"])


def _labelled_lines(
    path: Path,
    source: str,
    catalogue: Catalogue,
    exclude_texts: set[str],
    dropped: Counter[str],
) -> Iterator[Row]:
    """Curated or reviewed JSONL lines; malformed or contradictory lines are dropped, counted."""
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                dropped[f"{source}_invalid_json"] += 1
                continue
            reason, row = _labelled_row(item, source, catalogue, exclude_texts, path, number)
            if reason:
                dropped[f"{source}_{reason}"] += 1
            elif row is not None:
                yield row


def _labelled_row(
    item: object,
    source: str,
    catalogue: Catalogue,
    exclude_texts: set[str],
    path: Path,
    number: int,
) -> tuple[str | None, Row | None]:
    if not isinstance(item, dict):
        return "not_an_object", None
    text, label, raw_code = item.get("text"), item.get("dual_use"), item.get("code")
    if not isinstance(text, str) or not text.strip():
        return "no_text", None
    if not isinstance(label, bool):
        return "no_bool_label", None
    text = " ".join(text.split())
    if text in exclude_texts:
        return "in_evaluation_set", None
    code = None
    if raw_code not in (None, ""):
        code = normalise_code(str(raw_code))
        if code is None or catalogue.get(code) is None:
            return "unknown_code", None
        status = scope_of(catalogue, code)
        if label and status != "cn_listed":
            return f"positive_but_{status}", None
    rationale = str(item.get("rationale") or "")
    found = CODE_IN_TEXT.search(rationale)
    group = stem(code) if code else (found.group(1) if found else f"{path.stem}:{number}")
    lang = item.get("lang") if item.get("lang") in ("en", "zh") else lang_of(text)
    return None, Row(text, lang, label, code, source, group, WEIGHTS[source])


def _with_specs(rows: list[Row]) -> list[Row]:
    """Give a seeded share of list and goods rows a neutral commercial specification."""
    rng = random.Random(SEED)
    out = []
    for row in rows:
        if row.source in SPEC_SOURCES and rng.random() < SPEC_SHARE:
            template = rng.choice(SPECS_ZH if row.lang == "zh" else SPECS_EN)
            spec = template.format(n=rng.choice((1, 2, 5, 10, 20, 25, 50, 100, 200, 500, 1000)),
                                   a=rng.randint(10, 900), b=rng.randint(10, 900),
                                   c=rng.randint(10, 900))
            row = replace(row, spec=spec)
        out.append(row)
    return out


def _dedupe(rows: list[Row], dropped: Counter[str]) -> list[Row]:
    """Drop repeated (text, label, code) rows; a text with both labels keeps the stronger source."""
    best: dict[str, Row] = {}
    for row in rows:
        key = " ".join(row.text.casefold().split())
        kept = best.get(key)
        if kept is None:
            best[key] = row
            continue
        if kept.dual_use != row.dual_use and row.weight > kept.weight:
            best[key] = row
            dropped["conflict_resolved_by_weight"] += 1
        elif kept.dual_use != row.dual_use and row.weight == kept.weight and row.dual_use:
            best[key] = row  # a tie goes to the positive: a missed control is the costly error
            dropped["conflict_resolved_positive"] += 1
        else:
            dropped["duplicate"] += 1
    return list(best.values())


def _evaluation_texts() -> set[str]:
    """Normalised texts of the evaluation files, so that none of them is ever trained on."""
    texts: set[str] = set()
    for path in EVALUATION_FILES:
        if path.is_file():
            with path.open(encoding="utf-8") as handle:
                texts |= {" ".join(json.loads(line)["text"].split()) for line in handle if line.strip()}
    return texts
