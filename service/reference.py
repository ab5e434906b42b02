"""Load the versioned reference data in ``data/reference`` once, cleaned and hashed."""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

# Files the service reads; their bytes make up the reference-data version.
SERVICE_FILES = (
    "control_list_entries.csv",
    "control_list_provisions.csv",
    "cn_licence_catalogue_2026.csv",
    "cn_national_items.csv",
    "cn_party_lists.csv",
    "hs2022_nomenclature.csv",
)
REGIMES = {"EU_2021_821_AnnexI": "EU", "US_EAR_CCL": "US"}
CODE_RE = re.compile(r"^(\d[A-EY]\d{3})((?:\.(?:[a-z]|\d{1,3}))*)$")  # segments: a letter or a number


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One entry (5-character code) of the EU or US control list."""

    regime: str
    code: str
    category_name: str
    type_name: str
    title: str
    reason_for_control: str
    control_basis: str
    is_x9xx: bool
    full_text: str


@dataclass(frozen=True, slots=True)
class Provision:
    """One line of an entry: an item, note or heading, with its dotted code."""

    regime: str
    entry_code: str
    code: str
    parent_code: str | None
    kind: str
    line_no: int
    text: str


@dataclass(frozen=True, slots=True)
class CatalogueRow:
    """A well-formed export row of China's 2026 licence catalogue (code and customs codes)."""

    seq: str
    code: str
    hs_codes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NationalItem:
    """One of China's national items, with its status and suspension date."""

    codes: tuple[str, ...]
    item_zh: str
    item_en: str
    hs_codes: tuple[str, ...]
    announcement: str
    effective_date: str
    status: str
    suspended_until: date | None
    source_url: str
    verified: bool


@dataclass(frozen=True, slots=True)
class HsCode:
    """One HS 2022 heading or subheading."""

    code: str
    level: int
    parent: str
    section: str
    description: str


@dataclass(frozen=True, slots=True)
class Party:
    """An entity on a MOFCOM Control or Watch List."""

    list: str
    announcement: str
    date: str
    country: str
    name_zh: str
    name_en: str
    name_ja: str
    aliases: tuple[str, ...]
    source_url: str
    verified: bool


@dataclass(frozen=True)
class ReferenceData:
    """Everything the service reads from ``data/reference``, immutable after loading."""

    version: str
    entries: tuple[ListEntry, ...]
    provisions: tuple[Provision, ...]
    catalogue: tuple[CatalogueRow, ...]
    national_items: tuple[NationalItem, ...]
    hs_codes: tuple[HsCode, ...]
    parties: tuple[Party, ...]


def clean_control_code(raw: str | None) -> str | None:
    """Normalise a control code (``3a001.A.5``, ``3A001a5`` -> ``3A001.a.5``), or None if not one.

    Drops the catalogue's junk codes such as ``MPa``, ``UF6``, bare digits and customs numbers.
    """
    if not raw:
        return None
    text = re.sub(r"[\s\u3000]+", "", raw).strip(".,;:()（）")
    if len(text) < 5:
        return None
    head, tail = text[:5].upper(), text[5:].lower()
    # Segments are all letters or all digits, so "a5a1" (dots lost in typing) reads as "a.5.a.1".
    tail = re.sub(r"(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z])", ".", tail)
    tail = re.sub(r"[^a-z0-9]+", ".", tail).strip(".")
    code = head + ("." + tail if tail else "")
    return code if CODE_RE.match(code) else None


def split_hs(raw: str) -> tuple[str, ...]:
    """Customs codes from a ``;``-joined field, digits only, order kept, duplicates dropped."""
    codes = (re.sub(r"\D", "", part) for part in raw.split(";"))
    return tuple(dict.fromkeys(c for c in codes if len(c) >= 4))


def data_version(directory: Path, files: tuple[str, ...] = SERVICE_FILES) -> str:
    """SHA-256 over the names and bytes of the reference files."""
    digest = hashlib.sha256()
    for name in files:
        digest.update(name.encode())
        digest.update((directory / name).read_bytes())
    return "sha256:" + digest.hexdigest()


def read_rows(path: Path) -> Iterator[dict[str, str]]:
    """Rows of a UTF-8 CSV with a header (fields may contain newlines)."""
    with path.open(encoding="utf-8", newline="") as handle:
        yield from csv.DictReader(handle)


def load_reference(directory: Path) -> ReferenceData:
    """Read, clean and hash the reference data."""
    return ReferenceData(
        version=data_version(directory),
        entries=tuple(_entries(directory)),
        provisions=tuple(_provisions(directory)),
        catalogue=tuple(_catalogue(directory)),
        national_items=tuple(_national_items(directory)),
        hs_codes=tuple(_hs_codes(directory)),
        parties=tuple(_parties(directory)),
    )


def _entries(directory: Path) -> Iterator[ListEntry]:
    for row in read_rows(directory / "control_list_entries.csv"):
        yield ListEntry(
            regime=REGIMES[row["regime"]],
            code=row["code"].strip().upper(),
            category_name=row["category_name"],
            type_name=row["type_name"],
            title=row["title"].strip(),
            reason_for_control=row["reason_for_control"],
            control_basis=row["control_basis_by_numbering"],
            is_x9xx=row["is_x9xx_catchall"] == "True",
            full_text=row["full_text"],
        )


def _provisions(directory: Path) -> list[Provision]:
    provisions = []
    for row in read_rows(directory / "control_list_provisions.csv"):
        code = clean_control_code(row["provision_code"])
        if code is None:
            continue
        provisions.append(Provision(
            regime=REGIMES[row["regime"]],
            entry_code=row["entry_code"].strip().upper(),
            code=code,
            parent_code=clean_control_code(row["parent_code"]),
            kind=row["kind"],
            line_no=int(row["line_no"]),
            text=row["text"].strip(),
        ))
    return _exclusions_as_notes(provisions)


# EU (British) and CCL (American) spellings of the same wording.
_SPELLINGS = (("aluminium", "aluminum"), ("sulphur", "sulfur"), ("fibre", "fiber"), ("metre", "meter"))


def _exclusions_as_notes(provisions: list[Provision]) -> list[Provision]:
    """US "items" that restate their entry's exclusion note, made notes of the entry again.

    The upstream parse of the CCL read the lettered list inside some "does not control" notes
    as items (1C237.a "Medical applicators;", 1C240.a "Filamentary nickel powders;"), which
    would make excluded goods look controlled. Such a line is recognised by its text: it sits
    inside the same entry's EU exclusion note and in none of the EU entry's items.
    """
    def squashed(text: str) -> str:
        text = text.lower()
        for british, american in _SPELLINGS:
            text = text.replace(british, american)
        return re.sub(r"[\W_]+", "", text)

    notes: dict[str, list[str]] = {}
    for p in provisions:
        if p.regime == "EU" and p.kind == "note" and "does not control" in p.text:
            notes.setdefault(p.entry_code, []).append(squashed(p.text))
    items: dict[str, list[str]] = {}  # only of entries with such a note: most have none
    for p in provisions:
        if p.regime == "EU" and p.kind in ("item", "heading") and p.entry_code in notes:
            items.setdefault(p.entry_code, []).append(squashed(p.text))
    out = []
    for p in provisions:
        if p.regime == "US" and p.kind == "item" and p.entry_code in notes:
            text = squashed(p.text).removesuffix("or").removesuffix("and")
            if (len(text) > 10 and any(text in note for note in notes[p.entry_code])
                    and not any(text in item for item in items.get(p.entry_code, ()))):
                p = replace(p, code=p.entry_code, parent_code=None, kind="note")
        out.append(p)
    return out


def _catalogue(directory: Path) -> Iterator[CatalogueRow]:
    # product_name_zh is left out on purpose: the upstream parse misaligns it with the codes.
    for row in read_rows(directory / "cn_licence_catalogue_2026.csv"):
        code = clean_control_code(row["control_code"])
        if row["list_type"] == "export" and code is not None:
            yield CatalogueRow(seq=row["seq"], code=code, hs_codes=split_hs(row["hs_codes"]))


def _national_items(directory: Path) -> Iterator[NationalItem]:
    for row in read_rows(directory / "cn_national_items.csv"):
        status = row["status"].strip()
        until = None
        if status.startswith("suspended_until:"):
            until = date.fromisoformat(status.split(":", 1)[1])
        codes = tuple(c for c in map(clean_control_code, re.split(r"[、,;]", row["code"])) if c)
        yield NationalItem(
            codes=codes,
            item_zh=row["item_zh"].strip(),
            item_en=row["item_en"].strip(),
            hs_codes=split_hs(row["hs_codes"]),
            announcement=row["announcement"],
            effective_date=row["effective_date"],
            status="suspended" if until else status,
            suspended_until=until,
            source_url=row["source_url"],
            verified=row["verified"].strip().lower() == "true",
        )


def _hs_codes(directory: Path) -> Iterator[HsCode]:
    for row in read_rows(directory / "hs2022_nomenclature.csv"):
        if not row["hscode"].strip().isdigit():  # the "TOTAL" root row is not a heading
            continue
        yield HsCode(
            code=row["hscode"].strip(),
            level=int(row["level"]),
            parent=row["parent"].strip(),
            section=row["section"],
            description=row["description"].strip(),
        )


def _parties(directory: Path) -> Iterator[Party]:
    for row in read_rows(directory / "cn_party_lists.csv"):
        yield Party(
            list=row["list"].strip(),
            announcement=row["announcement"],
            date=row["date"],
            country=row["country"],
            name_zh=row["name_zh"].strip(),
            name_en=row["name_en"].strip(),
            name_ja=row["name_ja"].strip(),
            aliases=tuple(a.strip() for a in row["aliases"].split(";") if a.strip()),
            source_url=row["source_url"],
            verified=row["verified"].strip().lower() == "true",
        )
