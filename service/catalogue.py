"""The classification-code catalogue: one model of a control code across China's, EU and US lists.

Built once from ``ReferenceData`` at start and immutable afterwards. China-scope status rules,
in order (the first that applies decides; see also ``data/reference/cn_lists_notes.md``):

1. ``licence_catalogue``: China's 2026 licence catalogue carries the code. A code matches when
   it equals a catalogue code, is its ancestor or descendant, or shares its 5-character entry.
   For numbers China reuses for its own items (``REUSED_NUMBERS``) only the first three count.
2. ``national_item``: a national item in ``cn_national_items.csv`` carries the code (equal,
   ancestor or descendant). Exception: a national item that reuses the number of an EU Annex I
   entry the catalogue does not carry (3A001, lithium-ion batteries, Ann. 58/2025) does not make
   the EU item China-listed; that code keeps the status of its EU meaning.
3. ``nuclear_list``: EU Annex I category 0 stands for China's separate Nuclear Export Control
   List, shown as the list ``CN-NUCLEAR``.
4. ``non_proliferation``: EU entries numbered x1xx, x2xx, x3xx (MTCR, NSG, Australia Group/CWC).
   The catalogue parse is incomplete, and China's list carries the multilateral
   non-proliferation entries (DESIGN §4), so e.g. 7A116, 9A112 and 1C238 count as China-listed.

Any of these gives ``cn_listed``; otherwise an EU Annex I entry gives ``multilateral_only`` and
anything else (US-only x9xx, 600-series...) ``not_listed``.

National items whose announcement states no control code (gallium, germanium, antimony,
graphite, superhard materials, UAV items...) get stable synthetic ids ``CN-NAT-<announcement
no.>-<year>-<row within the announcement>``, e.g. ``CN-NAT-023-2023-02`` for gallium nitride.
They are not attached to the catalogue's 3C001-3C004 by customs code: around those entries the
catalogue's HS lists are shifted onto neighbouring rows (PROVENANCE caveat), so the match would
be wrong as often as right.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Literal

import numpy as np
from rapidfuzz import fuzz, process

from service.reference import (
    CatalogueRow,
    HsCode,
    ListEntry,
    NationalItem,
    Provision,
    ReferenceData,
    clean_control_code,
)
from service.search_index import Document, SearchIndex

Status = Literal["cn_listed", "multilateral_only", "not_listed"]
CN, CN_NUCLEAR, EU, US = "CN", "CN-NUCLEAR", "EU", "US"
LISTS = (CN, CN_NUCLEAR, EU, US)
SYNTHETIC_RE = re.compile(r"^CN-NAT-\d{3}-\d{4}-\d{2}$")

# Numbers China's list uses for its own items, unlike the EU item with the same number
# (cn_licence_catalogue_2026.md, "Notes"; PROVENANCE "What could not be obtained"). The EU text
# under these numbers is never shown as China's wording.
REUSED_NUMBERS: Mapping[str, tuple[str, str | None]] = MappingProxyType({
    "3A001": ("Rechargeable lithium-ion batteries of at least 300 Wh/kg", None),
    "3C001": ("Gallium-related items", "镓相关物项"),
    "3C002": ("Germanium-related items", "锗相关物项"),
    "3C003": ("Antimony-related items", "锑相关物项"),
    "3C004": ("Indium-related items", None),
    "5A002": ("Commercial cryptography products", None),
    "6C001": ("Bismuth-related items", None),
    "6C002": ("Tellurium-related items", None),
    "9A012": ("Unmanned aerial vehicles and related items", None),
})
SOURCES = {
    EU: "EU Regulation 2021/821 Annex I (consolidated 02021R0821-20251115)",
    US: "US EAR Commerce Control List (15 CFR 774 Supp. 1)",
}
# Search favours China-listed items: the service answers for China's export controls.
STATUS_BOOST: Mapping[str, float] = MappingProxyType(
    {"cn_listed": 1.25, "multilateral_only": 1.0, "not_listed": 0.8}
)
_CHINA_BASES = ("licence_catalogue", "national_item", "non_proliferation")


@dataclass(frozen=True, slots=True)
class ListText:
    """What one list says under a code: title and full text, with its source."""

    list: str
    code: str  # the code whose text this is: an ancestor's when the code has none of its own
    title: str
    title_zh: str | None = None
    text_zh: str | None = None
    source: str | None = None
    verified: bool = True
    cn_proxy: bool = False  # this EU text stands in for China's (unavailable) wording
    note: str | None = None
    _text: str = field(default="", repr=False)
    _lines: tuple[Provision, ...] = field(default=(), repr=False)  # joined on demand: saves memory

    @property
    def text(self) -> str:
        """Full text: the entry's, or the provision's line(s) followed by its sub-items'."""
        if self._lines:
            return "\n".join(f"{p.code} {p.text}" for p in self._lines)
        return self._text


@dataclass(frozen=True, slots=True)
class CodeRecord:
    """One control code (entry or provision) or synthetic national-item id, across lists."""

    code: str
    entry_code: str
    title: str
    title_zh: str | None
    lists: tuple[str, ...]
    status: Status
    cn_basis: str | None  # which rule made it China-listed (module docstring), None if none
    cn_status: str | None  # "in_force" / "suspended" on China's list, None when not on it
    suspended_until: date | None
    hs_codes: tuple[str, ...]
    parent: str | None
    children: tuple[str, ...]
    category_name: str | None
    type_name: str | None
    texts: tuple[ListText, ...]
    note: str | None = None

    @property
    def synthetic(self) -> bool:
        """True for the service's own ids of national items that have no control code."""
        return self.code.startswith("CN-NAT-")


def normalise_code(raw: str) -> str | None:
    """Canonical form of a control code or synthetic id (``3a001.A.5`` -> ``3A001.a.5``)."""
    text = raw.strip()
    synthetic = re.sub(r"[^A-Z0-9]+", "-", text.upper()).strip("-")
    if SYNTHETIC_RE.match(synthetic):
        return synthetic
    return clean_control_code(text)


def code_key(code: str) -> tuple[tuple[int, int | str], ...]:
    """Natural sort key: ``3A001.a.9`` before ``3A001.a.10``."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in code.split("."))


def ancestors(code: str) -> Iterator[str]:
    """Proper ancestors, nearest first: ``3A001.a.5`` -> ``3A001.a``, ``3A001``."""
    parts = code.split(".")
    for n in range(len(parts) - 1, 0, -1):
        yield ".".join(parts[:n])


def _related(code: str, other: str) -> bool:
    """Equal, ancestor or descendant."""
    return code == other or other.startswith(code + ".") or code.startswith(other + ".")


def _clean_title(text: str) -> str:
    """A list line as a title: trailing ``; or``, ``;`` and commas dropped."""
    text = text.strip()
    if "[Editorial note:" in text:
        text = re.sub(r"\s*\[Editorial note:.*?\]\s*$", "", text, flags=re.S)
    return re.sub(r"\s*(?:;\s*(?:or|and)|[;,.。；])\s*$", "", text).strip()


def _lead_in(rows: list[str]) -> str:
    """A title for national-item rows: their common lead-in, else the rows' own headings."""
    first, last = min(rows), max(rows)
    same = (i for i, (a, b) in enumerate(zip(first, last, strict=False)) if a != b)
    common = first[: next(same, len(first))]
    common = re.split(r"[:：]", common, maxsplit=1)[0]
    common = re.sub(r"[\s,，、;；.．(（]*\d*[.．]?\s*$", "", common)
    if len(common) >= 4:
        return common
    return "; ".join(dict.fromkeys(re.sub(r"^\d+[.．]\s*", "", r) for r in rows[:4]))


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One ranked search result."""

    code: str
    title: str
    title_zh: str | None
    lists: tuple[str, ...]
    status: Status
    cn_status: str | None
    score: float
    snippet: str


@dataclass(frozen=True, slots=True)
class HsHeading:
    """An HS 2022 chapter, heading or subheading."""

    code: str
    level: int
    description: str


@dataclass(frozen=True, slots=True)
class HsMatch:
    """A control code whose customs codes match the queried HS code."""

    code: str
    title: str
    lists: tuple[str, ...]
    status: Status
    cn_status: str | None
    hs_codes: tuple[str, ...]  # the code's customs codes that matched


@dataclass(frozen=True, slots=True)
class HsResult:
    """Control codes for an HS code, with the HS description."""

    hs_code: str
    description: str | None
    headings: tuple[HsHeading, ...]
    matches: tuple[HsMatch, ...]


class Catalogue:
    """Lookup, status, search and customs-code index over every code; read-only after start."""

    def __init__(
        self,
        records: dict[str, CodeRecord],
        index: SearchIndex,
        customs: dict[str, tuple[str, ...]],
        nomenclature: dict[str, HsCode],
    ) -> None:
        self._records: Mapping[str, CodeRecord] = MappingProxyType(records)
        self._index = index
        self._codes = tuple(records)  # document number -> code, as in the search index
        # (customs code, control code) pairs sorted for prefix search with bisect
        self._customs = tuple(sorted((hs, code) for code, hss in customs.items() for hs in hss))
        self._nomenclature: Mapping[str, HsCode] = MappingProxyType(nomenclature)
        self._list_masks = {
            name: np.array([_on_list(r, name) for r in records.values()], dtype=bool)
            for name in LISTS
        }
        for mask in self._list_masks.values():
            mask.flags.writeable = False

    @classmethod
    def from_reference(cls, reference: ReferenceData) -> Catalogue:
        """Build the catalogue, its search index and customs-code index from the reference data."""
        builder = _Builder(reference)
        records = builder.records()
        index = SearchIndex(
            [builder.document(r, records) for r in records.values()],
            boosts=[STATUS_BOOST[r.status] for r in records.values()],
        )
        customs = {code: builder.direct_hs(code) for code in records}
        return cls(records, index, customs, {h.code: h for h in reference.hs_codes})

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[CodeRecord]:
        return iter(self._records.values())

    def get(self, code: str) -> CodeRecord | None:
        """The record for a code in any spelling, else for its nearest known ancestor, else None."""
        canonical = normalise_code(code)
        if canonical is None:
            return None
        for candidate in (canonical, *ancestors(canonical)):
            if candidate in self._records:
                return self._records[candidate]
        return None

    def status(self, code: str) -> Status:
        """China-scope status at the most specific known level; ``not_listed`` if no list has it."""
        record = self.get(code)
        return record.status if record is not None else "not_listed"

    def suggest(self, code: str, limit: int = 5) -> list[CodeRecord]:
        """Known codes close to an unknown one: nearest ancestor and its children, similar codes.

        Input that is no code at all (``gallium``) gets the best search hits instead.
        """
        canonical = normalise_code(code)
        if canonical is None:
            hits = [self._records[hit.code] for hit in self.search(code[:200], limit=limit)]
            if hits:
                return hits
            canonical = re.sub(r"\s+", "", code).upper()[:40]
        found = [r.code for r in [self.get(canonical)] if r is not None]
        if found:
            found += list(self._records[found[0]].children)[: max(limit - 2, 0)]
        close = process.extract(canonical, self._codes, scorer=fuzz.ratio, limit=limit, score_cutoff=60)
        found += [match for match, _, _ in close if match != canonical]
        return [self._records[c] for c in dict.fromkeys(found)][:limit]

    def search(self, q: str, list_: str | None = None, limit: int = 10) -> list[SearchHit]:
        """Ranked full-text search over titles and texts of every list, in English or Chinese.

        ``list_`` keeps one list (``CN`` includes ``CN-NUCLEAR``); a query that is a known code
        puts that code first.
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        if list_ and list_.upper() not in self._list_masks:
            raise ValueError(f"unknown list {list_!r}; use one of {', '.join(LISTS)}")
        mask = self._list_masks[list_.upper()] if list_ else None
        ranked = self._index.search(q, limit, mask)
        exact = self.get(q) if normalise_code(q) else None
        if exact is not None and (mask is None or mask[self._index.position(exact.code)]):
            top = ranked[0][1] + 1.0 if ranked else 1.0
            others = [(doc, score, where) for doc, score, where in ranked if doc != exact.code]
            ranked = [(exact.code, top, None), *others][:limit]
        hits = []
        for code, score, where in ranked:
            record = self._records[code]
            hits.append(SearchHit(
                code=code,
                title=record.title,
                title_zh=record.title_zh,
                lists=record.lists,
                status=record.status,
                cn_status=record.cn_status,
                score=round(float(score), 4),
                snippet=where or record.title,
            ))
        return hits

    def by_hs(self, hs: str) -> HsResult:
        """Control codes whose customs codes start with ``hs`` (or are a prefix of it)."""
        digits = re.sub(r"[\s.]", "", hs)
        if not re.fullmatch(r"\d{2,10}", digits):
            raise ValueError(f"HS code must be 2 to 10 digits, not {hs!r}")
        matched: dict[str, list[str]] = defaultdict(list)
        start = bisect.bisect_left(self._customs, (digits, ""))
        for customs, code in itertools.islice(self._customs, start, None):
            if not customs.startswith(digits):
                break
            matched[code].append(customs)
        for n in range(4, len(digits)):  # shorter customs codes that cover the queried one
            start = bisect.bisect_left(self._customs, (digits[:n], ""))
            for customs, code in itertools.islice(self._customs, start, None):
                if customs != digits[:n]:
                    break
                matched[code].append(customs)
        headings = tuple(
            HsHeading(h.code, h.level, h.description)
            for n in (2, 4, 6)
            if len(digits) >= n and (h := self._nomenclature.get(digits[:n])) is not None
        )
        records = sorted(
            (self._records[c] for c in matched),
            key=lambda r: (r.status != "cn_listed", r.synthetic, code_key(r.code)),
        )
        return HsResult(
            hs_code=digits,
            description=headings[-1].description if headings else None,
            headings=headings,
            matches=tuple(
                HsMatch(r.code, r.title, r.lists, r.status, r.cn_status, tuple(dict.fromkeys(hss)))
                for r in records
                if (hss := matched[r.code])
            ),
        )


class _Builder:
    """Turns the reference tables into records (used once, at start)."""

    def __init__(self, reference: ReferenceData) -> None:
        self.entries: dict[tuple[str, str], ListEntry] = {(e.regime, e.code): e for e in reference.entries}
        self.lines: dict[tuple[str, str], list[Provision]] = defaultdict(list)
        self.subtree_lines: dict[tuple[str, str], list[Provision]] = defaultdict(list)
        for p in sorted(reference.provisions, key=lambda p: (p.regime, p.entry_code, p.line_no)):
            self.lines[(p.regime, p.code)].append(p)
            for owner in (p.code, *ancestors(p.code)):
                self.subtree_lines[(p.regime, owner)].append(p)
        self.catalogue: dict[str, CatalogueRow] = {row.code: row for row in reference.catalogue}
        self.national: dict[str, list[NationalItem]] = defaultdict(list)
        self.synthetic: dict[str, NationalItem] = {}
        for key, items in _by_announcement(reference.national_items).items():
            for n, item in enumerate(items, start=1):
                for code in item.codes:
                    self.national[code].append(item)
                if not item.codes:
                    self.synthetic[f"CN-NAT-{key}-{n:02d}"] = item
        self.cat_by_stem = _by_stem(self.catalogue)
        self.nat_by_stem = _by_stem(self.national)
        self.codes: set[str] = {code for _, code in self.lines} | {c for _, c in self.entries}
        self.codes |= set(self.catalogue) | set(self.national)
        self.codes |= {c[:5] for c in self.codes}
        self.in_list = {
            EU: {c for r, c in [*self.lines, *self.entries] if r == EU},
            US: {c for r, c in [*self.lines, *self.entries] if r == US},
        }
        self.category_names: dict[str, str] = {}
        self.type_names: dict[str, str] = {}
        for e in sorted(reference.entries, key=lambda e: e.regime != EU):
            self.category_names.setdefault(e.code[0], e.category_name)
            self.type_names.setdefault(e.code[1], e.type_name)

    def records(self) -> dict[str, CodeRecord]:
        """Every record, keyed by code (control codes in natural order, then synthetic ids)."""
        ordered = sorted(self.codes, key=code_key)
        parents = {c: next((a for a in ancestors(c) if a in self.codes), None) for c in ordered}
        children: dict[str, list[str]] = defaultdict(list)
        for code in ordered:
            if parents[code] is not None:
                children[parents[code]].append(code)
        hs: dict[str, dict[str, None]] = defaultdict(dict)
        for code in ordered:
            direct = self.direct_hs(code)
            for owner in (code, *ancestors(code)):
                hs[owner].update(dict.fromkeys(direct))

        records: dict[str, CodeRecord] = {}
        # Deepest first, so an entry with no wording of its own can be titled from its children.
        for code in sorted(ordered, key=lambda c: -c.count(".")):
            records[code] = self._record(code, parents[code], children[code], tuple(hs[code]), records)
        records = {code: records[code] for code in ordered}
        for sid, item in self.synthetic.items():
            records[sid] = _synthetic_record(sid, item)
        return records

    def direct_hs(self, code: str) -> tuple[str, ...]:
        """Customs codes stated for exactly this code by the catalogue and national items."""
        if code in self.synthetic:
            return self.synthetic[code].hs_codes
        found = list(self.catalogue[code].hs_codes) if code in self.catalogue else []
        for item in self.national.get(code, ()):
            found.extend(item.hs_codes)
        return tuple(dict.fromkeys(found))

    def document(self, record: CodeRecord, records: Mapping[str, CodeRecord]) -> Document:
        """What search reads for a record: its titles, its own lines, its parent's and entry's titles.

        Provisions index their own lines, not their sub-items, so a hit points at the code
        whose wording matched; the parent's and entry's titles give the context a bare sub-item
        ("Having all of the following:") lacks.
        """
        # Only wording of the code itself counts as its title; a title it inherits (a reused
        # number's description, an ancestor's proxy text) would tie every sub-item with its entry.
        mine = [t for t in record.texts if t.code == record.code]
        titles = [t.title for t in mine] + [t.title_zh for t in mine if t.title_zh]
        if not record.texts:  # titled from its children's wording
            titles += [record.title, record.title_zh or ""]
        own = [p.text for regime in (EU, US) for p in self.lines.get((regime, record.code), ())]
        own = list({line.casefold(): line for line in own}.values())  # EU and US often agree
        own += [
            text
            for t in record.texts
            if t.list == CN and t.code == record.code
            for text in (t.text, t.text_zh or "")
        ]
        context = [record.title] if record.title not in titles else []
        for above in dict.fromkeys(c for c in (record.parent, record.entry_code) if c != record.code):
            if above in records:
                context += [records[above].title, records[above].title_zh or ""]
        return Document(
            key=record.code,
            title=" ".join(dict.fromkeys(titles)),
            body=" ".join([*own, *context]),
            display=" ".join(dict.fromkeys([*own[:3], record.title])),
        )

    def _cn_basis(self, code: str) -> str | None:
        entry = code[:5]
        reused = entry in REUSED_NUMBERS
        catalogued = self.cat_by_stem.get(entry, ())
        if catalogued and (not reused or any(_related(code, c) for c in catalogued)):
            return "licence_catalogue"
        reuses_eu_number = reused and (EU, entry) in self.entries
        if not reuses_eu_number and any(_related(code, c) for c in self.nat_by_stem.get(entry, ())):
            return "national_item"
        if (EU, entry) in self.entries:
            if entry[0] == "0":
                return "nuclear_list"
            if entry[2] in "123":
                return "non_proliferation"
        return None

    def _record(
        self,
        code: str,
        parent: str | None,
        children: list[str],
        hs_codes: tuple[str, ...],
        done: dict[str, CodeRecord],
    ) -> CodeRecord:
        entry = code[:5]
        basis = self._cn_basis(code)
        reused = REUSED_NUMBERS.get(entry)
        status: Status = (
            "cn_listed" if basis else "multilateral_only" if (EU, entry) in self.entries else "not_listed"
        )
        china_number = reused is not None and any(
            code == c or c.startswith(code + ".")
            for c in (*self.cat_by_stem.get(entry, ()), *self.nat_by_stem.get(entry, ()))
        )
        lists = [name for name, on in (
            (CN, basis in _CHINA_BASES or china_number),
            (CN_NUCLEAR, basis == "nuclear_list"),
            (EU, code in self.in_list[EU]),
            (US, code in self.in_list[US]),
        ) if on]

        cn_text = self._cn_text(code, reused) if CN in lists else None
        texts: list[ListText] = [cn_text] if cn_text else []
        proxy = status == "cn_listed" and cn_text is None and reused is None
        eu_code = code if code in self.in_list[EU] else None
        if eu_code is None and proxy:
            eu_code = next((a for a in ancestors(code) if a in self.in_list[EU]), None)
        if eu_code is not None:
            texts.append(self._list_text(EU, eu_code, proxy, reused))
        if code in self.in_list[US]:
            texts.append(self._list_text(US, code, False, None))
        if status != "cn_listed":  # the EU or US meaning decides: its title first
            texts.sort(key=lambda t: t.list == CN)

        title, title_zh = self._titles(code, texts, children, done)
        cn_status, until = self._cn_status(code, basis, CN in lists or CN_NUCLEAR in lists)
        entry_record = self.entries.get((EU, entry)) or self.entries.get((US, entry))
        category = entry_record.category_name if entry_record else self.category_names.get(code[0])
        if entry_record is None and code[0] == "0":
            category = "Other items (China's category 0)"
        return CodeRecord(
            code=code,
            entry_code=entry,
            title=title,
            title_zh=title_zh,
            lists=tuple(lists),
            status=status,
            cn_basis=basis,
            cn_status=cn_status,
            suspended_until=until,
            hs_codes=hs_codes,
            parent=parent,
            children=tuple(children),
            category_name=category,
            type_name=entry_record.type_name if entry_record else self.type_names.get(code[1]),
            texts=tuple(texts),
            note=self._note(code, basis, reused, CN in lists, cn_text),
        )

    def _cn_text(self, code: str, reused: tuple[str, str | None] | None) -> ListText | None:
        """China's own wording from national items (own, else the nearest ancestor's)."""
        for owner in (code, *ancestors(code)):
            if owner in self.national:
                return _national_text(owner, self.national[owner])
        if reused is not None:
            en, zh = reused
            return ListText(
                list=CN, code=code[:5], title=en, title_zh=zh,
                source="Dual-use Items Export Control List; 2026 licence catalogue",
                note="China's own item under this number; its full wording is not in the "
                "reference data.",
            )
        return None

    def _list_text(
        self, regime: str, code: str, proxy: bool, reused: tuple[str, str | None] | None
    ) -> ListText:
        own = self.lines.get((regime, code), [])
        entry = self.entries.get((regime, code))
        text, lines = "", ()
        if entry is not None:
            title, text = entry.title, entry.full_text
        else:
            title = next((p for p in own if p.kind in ("item", "heading")), own[0]).text
            lines = tuple(self.subtree_lines[(regime, code)])
        note = None
        if reused is not None and regime == EU:
            note = (
                f"China's list uses {code[:5]} for its own item ({reused[0]}); this EU text "
                "describes a different item and is not China's wording."
            )
        elif proxy:
            note = "China's list reuses this EU number; the EU text is the English proxy wording."
            if regime == EU and code[0] == "0":
                note = "EU Annex I category 0 is the proxy wording for China's Nuclear Export Control List."
        source = SOURCES[regime]
        return ListText(
            list=regime, code=code, title=_clean_title(title), source=source,
            cn_proxy=proxy, note=note, _text=text, _lines=lines,
        )

    def _titles(
        self, code: str, texts: list[ListText], children: list[str], done: dict[str, CodeRecord]
    ) -> tuple[str, str | None]:
        if texts:
            return texts[0].title, texts[0].title_zh
        worded = [done[c] for c in children if done[c].texts or done[c].children]
        titled = list(dict.fromkeys(r.title for r in worded if not r.title.startswith(code)))
        if titled:
            zh = list(dict.fromkeys(r.title_zh for r in worded if r.title_zh))
            return "; ".join(titled[:4]), "；".join(zh[:4]) or None
        return f"{code} on China's list (its wording is not in the reference data)", None

    def _cn_status(self, code: str, basis: str | None, on_cn: bool) -> tuple[str | None, date | None]:
        """In force or suspended on China's list: own national items first, then the rules."""
        if not on_cn:
            return None, None
        own = self.national.get(code)
        if own:
            return _item_status(own)
        if basis in ("licence_catalogue", "nuclear_list", "non_proliferation"):
            return "in_force", None
        for owner in ancestors(code):
            if owner in self.national:
                return _item_status(self.national[owner])
        below = [i for c, items in self.national.items() if c.startswith(code + ".") for i in items]
        return _item_status(below) if below else ("in_force", None)

    def _note(
        self,
        code: str,
        basis: str | None,
        reused: tuple[str, str | None] | None,
        on_cn: bool,
        cn_text: ListText | None,
    ) -> str | None:
        notes = []
        if reused is not None and on_cn and basis is None:
            notes.append(
                f"China's list uses {code[:5]} for a national item ({reused[0]}) that differs "
                "from the EU item; it does not make the EU item China-listed, so the status "
                "follows the EU meaning."
            )
        elif reused is not None and on_cn:
            notes.append(
                f"China reuses the number {code[:5]} for its own item ({reused[0]}); do not read "
                "the EU text under this number as China's wording."
            )
        if basis == "non_proliferation":
            notes.append(
                "Not in the parsed 2026 licence catalogue; China-listed by rule because China's "
                "list carries the multilateral non-proliferation entries (x1xx MTCR, x2xx NSG, "
                "x3xx Australia Group/CWC)."
            )
        if basis == "nuclear_list":
            notes.append(
                "EU Annex I category 0 stands for China's separate Nuclear Export Control List "
                "(CN-NUCLEAR); a licence is needed under that regulation."
            )
        if basis == "licence_catalogue" and cn_text is None and reused is None:
            notes.append("China's 2026 licence catalogue lists this code without usable wording.")
        if cn_text is not None and cn_text.code == code and code in self.in_list[EU]:
            notes.append(
                "China's list and the EU both word this code: compare the texts before assuming "
                "they describe the same item."
            )
        return " ".join(notes) or None


def _on_list(record: CodeRecord, name: str) -> bool:
    """Whether a list filter keeps a record; ``CN`` means China's scope, nuclear list included."""
    if name == CN:
        return CN in record.lists or CN_NUCLEAR in record.lists
    return name in record.lists


def _by_announcement(items: Iterable[NationalItem]) -> dict[str, list[NationalItem]]:
    """National items grouped by announcement key ``NNN-YYYY``, in file order."""
    groups: dict[str, list[NationalItem]] = defaultdict(list)
    for item in items:
        found = re.search(r"No\.\s*(\d+)\s+of\s+(\d{4})", item.announcement)
        key = f"{int(found[1]):03d}-{found[2]}" if found else "000-0000"
        groups[key].append(item)
    return groups


def _by_stem(codes: Iterable[str]) -> dict[str, tuple[str, ...]]:
    stems: dict[str, list[str]] = defaultdict(list)
    for code in codes:
        stems[code[:5]].append(code)
    return {stem: tuple(found) for stem, found in stems.items()}


def _item_status(items: Iterable[NationalItem]) -> tuple[str, date | None]:
    """In force if any item is; else suspended until the latest date."""
    items = list(items)
    if any(i.status != "suspended" for i in items):
        return "in_force", None
    return "suspended", max((i.suspended_until for i in items if i.suspended_until), default=None)


def _national_text(code: str, items: list[NationalItem]) -> ListText:
    """China's wording of a code from its national-item rows."""
    en = [i.item_en for i in items]
    zh = [i.item_zh for i in items]
    return ListText(
        list=CN,
        code=code,
        title=_clean_title(_lead_in([_clean_title(t) for t in en])),
        _text="\n".join(en),
        title_zh=_clean_title(_lead_in(zh)),
        text_zh="\n".join(zh),
        source="; ".join(dict.fromkeys(i.announcement for i in items)),
        verified=all(i.verified for i in items),
    )


def _synthetic_record(sid: str, item: NationalItem) -> CodeRecord:
    """A national item that has no control code, under the service's synthetic id."""
    status, until = _item_status([item])
    text = _national_text(sid, [item])
    return CodeRecord(
        code=sid,
        entry_code=sid,
        title=_clean_title(item.item_en),
        title_zh=item.item_zh,
        lists=(CN,),
        status="cn_listed",
        cn_basis="national_item",
        cn_status=status,
        suspended_until=until,
        hs_codes=item.hs_codes,
        parent=None,
        children=(),
        category_name=None,
        type_name=None,
        texts=(text,),
        note=f"{item.announcement} states no control code for this item; {sid} is this "
        "service's synthetic id, not a control code.",
    )
