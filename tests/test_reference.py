"""Cleaning rules of service/reference.py, on crafted values and on the shipped files."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from service.reference import (
    CODE_RE,
    SERVICE_FILES,
    ReferenceData,
    clean_control_code,
    data_version,
    load_reference,
    split_hs,
)
from service.settings import Settings

REFERENCE_DIR = Settings().reference_dir


@pytest.fixture(scope="module")
def reference() -> ReferenceData:
    """The shipped reference data."""
    return load_reference(REFERENCE_DIR)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("3A001", "3A001"),
        ("3a001.A.5", "3A001.a.5"),
        (" 3A001. a. 5 ", "3A001.a.5"),
        ("3A001a5a1", "3A001.a.5.a.1"),  # dots lost in typing
        ("3A001-a-5", "3A001.a.5"),
        ("1C902.a.", "1C902.a"),
        ("（1C902.a）", "1C902.a"),  # full-width brackets
        ("2B350.b.2.a..", "2B350.b.2.a"),  # the doubled period of the US source
        ("1C350.24", "1C350.24"),
        ("0Y521", "0Y521"),
        ("9A012\u3000", "9A012"),  # ideographic space
    ],
)
def test_control_codes_are_normalised(raw: str, clean: str) -> None:
    assert clean_control_code(raw) == clean


@pytest.mark.parametrize(
    "junk",
    [
        None, "", "MPa", "L", "Gbps", "UF6", "N", "1", "7", "8413709980", "8401200000", "3F001",
        "ABCDE", "3A001 batteries", "3A001.abc",
    ],
)
def test_junk_codes_of_the_catalogue_are_dropped(junk: str | None) -> None:
    assert clean_control_code(junk) is None


def test_customs_codes_keep_digits_order_and_drop_duplicates_and_fragments() -> None:
    assert split_hs("2805301910; 3824.9999.22;2805301910;12;") == ("2805301910", "3824999922")
    assert split_hs("") == ()


def test_catalogue_keeps_the_712_well_formed_export_codes(reference: ReferenceData) -> None:
    codes = [row.code for row in reference.catalogue]
    assert len(codes) == len(set(codes)) == 712
    assert all(CODE_RE.match(code) for code in codes)
    assert len({code[:5] for code in codes}) == 188


def test_catalogue_rows_carry_no_product_name(reference: ReferenceData) -> None:
    # product_name_zh is misaligned with the codes upstream: the loader must not expose it.
    assert not hasattr(reference.catalogue[0], "product_name_zh")


def test_catalogue_hs_codes_are_digits(reference: ReferenceData) -> None:
    hs = [c for row in reference.catalogue for c in row.hs_codes]
    assert hs and all(c.isdigit() and len(c) == 10 for c in hs)
    row = next(r for r in reference.catalogue if r.code == "1C902.a.1")
    assert row.hs_codes == ("2805301910",)


def test_national_items_read_status_and_suspension_date(reference: ReferenceData) -> None:
    statuses = {item.status for item in reference.national_items}
    assert statuses == {"in_force", "suspended"}
    for item in reference.national_items:
        assert (item.status == "suspended") == (item.suspended_until is not None)
    suspended = {item.suspended_until for item in reference.national_items if item.suspended_until}
    assert suspended == {date(2026, 11, 10)}


def test_national_item_with_two_codes_is_split(reference: ReferenceData) -> None:
    item = next(i for i in reference.national_items if "1E004" in i.codes)
    assert item.codes == ("1E004", "1E101.b")


def test_national_items_without_a_stated_code_have_none(reference: ReferenceData) -> None:
    gallium = [i for i in reference.national_items if "镓相关物项" in i.item_zh]
    assert len(gallium) == 8 and all(i.codes == () for i in gallium)


def test_verified_flag_is_read(reference: ReferenceData) -> None:
    assert {i.verified for i in reference.national_items} == {True, False}


def test_list_entries_and_provisions_use_short_regime_names(reference: ReferenceData) -> None:
    assert {e.regime for e in reference.entries} == {"EU", "US"}
    assert {p.regime for p in reference.provisions} == {"EU", "US"}
    assert len(reference.entries) == 1021


def test_every_provision_sits_under_its_entry_and_parent(reference: ReferenceData) -> None:
    for p in reference.provisions:
        assert p.code.startswith(p.entry_code)
        assert p.parent_code is None or p.code.startswith(p.parent_code)


def test_us_lines_restating_an_exclusion_note_are_notes_not_items(reference: ReferenceData) -> None:
    us = {(p.code, p.text): p.kind for p in reference.provisions if p.regime == "US"}
    assert us[("1C237", "Medical applicators;")] == "note"
    assert us[("1C240", "Filamentary nickel powders;")] == "note"
    # Found through the spelling difference: EU "aluminium", CCL "aluminum".
    assert us[("1C230", "Beryl (silicate of beryllium and aluminum) in the form of emeralds or "
                        "aquamarines.")] == "note"
    # The controls themselves stay items, on both lists.
    assert us[("1C240.b", "Porous nickel metal produced from materials controlled by 1C240.a.")] == "item"
    assert us[("1C351.d.3", "Botulinum neurotoxins;")] == "item"  # named in a note, but controlled
    assert not any(p.regime == "US" and p.code in ("1C237.a", "1C237.b", "1C230.a", "1C230.c")
                   for p in reference.provisions)


def test_hs_nomenclature_levels_are_2_4_6(reference: ReferenceData) -> None:
    assert {h.level for h in reference.hs_codes} == {2, 4, 6}
    assert all(len(h.code) == h.level for h in reference.hs_codes)


def test_party_aliases_are_split(reference: ReferenceData) -> None:
    assert any(len(p.aliases) > 1 for p in reference.parties)
    assert all(a == a.strip() and a for p in reference.parties for a in p.aliases)


def test_data_version_hashes_the_service_files(tmp_path: Path) -> None:
    for name in SERVICE_FILES:
        shutil.copy(REFERENCE_DIR / name, tmp_path / name)
    version = data_version(tmp_path)
    assert version == data_version(REFERENCE_DIR) and version.startswith("sha256:")
    with (tmp_path / "cn_national_items.csv").open("a", encoding="utf-8") as handle:
        handle.write("\n")
    assert data_version(tmp_path) != version
