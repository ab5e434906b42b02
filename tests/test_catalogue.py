"""The code catalogue built from the shipped reference data: lookup, status, search, HS lookup.

One catalogue is built per module (it is immutable), from the real data in data/reference.
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.catalogue import Catalogue, CodeRecord, normalise_code
from service.reference import load_reference
from service.search_index import tokens
from service.settings import Settings


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    """The catalogue over the shipped reference data."""
    return Catalogue.from_reference(load_reference(Settings().reference_dir))


def record(catalogue: Catalogue, code: str) -> CodeRecord:
    found = catalogue.get(code)
    assert found is not None, code
    return found


# --- lookup -----------------------------------------------------------------------------------


def test_entry_code_resolves_with_lists_children_and_category(catalogue: Catalogue) -> None:
    rec = record(catalogue, "3A001")
    assert rec.code == rec.entry_code == "3A001"
    assert {"EU", "US"} <= set(rec.lists)
    assert "3A001.a" in rec.children and rec.parent is None
    assert rec.category_name == "Electronics"


def test_provision_code_resolves_with_its_parent_and_own_text(catalogue: Catalogue) -> None:
    rec = record(catalogue, "3A001.a.5.a.1")
    assert rec.entry_code == "3A001"
    assert rec.parent == "3A001.a.5.a"
    eu = next(t for t in rec.texts if t.list == "EU")
    assert eu.code == "3A001.a.5.a.1"
    assert eu.text.startswith("3A001.a.5.a.1 ")


@pytest.mark.parametrize("spelling", ["3a001.A.5", " 3A001.a.5 ", "3A001a5", "3A001-a-5", "3A001.a.5."])
def test_codes_are_case_and_punctuation_tolerant(catalogue: Catalogue, spelling: str) -> None:
    assert record(catalogue, spelling).code == "3A001.a.5"


def test_unknown_sub_item_falls_back_to_nearest_known_ancestor(catalogue: Catalogue) -> None:
    assert record(catalogue, "1C902.a.9.z").code == "1C902.a"


@pytest.mark.parametrize("junk", ["", "hello", "MPa", "UF6", "12345", "8541410010", "9Z999"])
def test_unknown_or_junk_codes_resolve_to_nothing(catalogue: Catalogue, junk: str) -> None:
    assert catalogue.get(junk) is None
    assert catalogue.status(junk) == "not_listed"


def test_suggestions_for_an_unknown_code_start_at_its_nearest_ancestor(catalogue: Catalogue) -> None:
    codes = [r.code for r in catalogue.suggest("3A001.a.99")]
    assert codes[0] == "3A001.a" and "3A001.a.1" in codes


def test_suggestions_for_words_come_from_search(catalogue: Catalogue) -> None:
    assert any("Samarium" in r.title for r in catalogue.suggest("samarium"))


def test_every_parent_and_child_link_points_at_a_record(catalogue: Catalogue) -> None:
    for rec in catalogue:
        assert rec.parent is None or catalogue.get(rec.parent).code == rec.parent  # type: ignore[union-attr]
        for child in rec.children:
            assert record(catalogue, child).parent == rec.code


# --- China-scope status -------------------------------------------------------------------------


def test_samarium_entry_is_china_listed_with_customs_codes(catalogue: Catalogue) -> None:
    rec = record(catalogue, "1C902")
    assert rec.lists == ("CN",)
    assert (rec.status, rec.cn_basis, rec.cn_status) == ("cn_listed", "licence_catalogue", "in_force")
    assert "Samarium" in rec.title and "钐" in (rec.title_zh or "")
    assert "2805301910" in rec.hs_codes  # samarium metal


@pytest.mark.parametrize("code", ["3A001", "3A002", "4A001", "6A003", "1C010", "3A001.a.5"])
def test_wassenaar_only_entries_are_multilateral_only(catalogue: Catalogue, code: str) -> None:
    assert catalogue.status(code) == "multilateral_only"


@pytest.mark.parametrize("code", ["3A991", "5A992", "3A090", "0A501"])
def test_us_only_entries_are_not_listed(catalogue: Catalogue, code: str) -> None:
    rec = record(catalogue, code)
    assert rec.status == "not_listed" and rec.lists == ("US",)


@pytest.mark.parametrize("code", ["7A116", "9A112", "1C101", "2B116"])
def test_eu_non_proliferation_entries_are_china_listed_by_rule(catalogue: Catalogue, code: str) -> None:
    rec = record(catalogue, code)
    assert (rec.status, rec.cn_basis) == ("cn_listed", "non_proliferation")
    assert "CN" in rec.lists and "non-proliferation" in (rec.note or "")


def test_eu_nuclear_category_stands_for_chinas_nuclear_list(catalogue: Catalogue) -> None:
    rec = record(catalogue, "0B001.b")
    assert rec.status == "cn_listed" and rec.cn_basis == "nuclear_list"
    assert "CN-NUCLEAR" in rec.lists and "CN" not in rec.lists


def test_catalogue_matches_at_provision_and_entry_level(catalogue: Catalogue) -> None:
    assert record(catalogue, "1B101.e").cn_basis == "licence_catalogue"  # a catalogue provision
    assert catalogue.status("1C350") == "cn_listed"  # its entry, from provisions like 1C350.a
    assert catalogue.status("2B350.a.1") == "cn_listed"


def test_status_of_a_provision_is_decided_at_the_most_specific_level(catalogue: Catalogue) -> None:
    # China's 3A001 (batteries) does not make EU 3A001.a.5 (ADCs) China-listed.
    assert catalogue.status("3A001.a.5.a.1") == "multilateral_only"
    assert catalogue.status("1C902.a.3.b") == "cn_listed"


def test_suspended_national_items_carry_their_date(catalogue: Catalogue) -> None:
    for code in ("1C909", "1C909.a", "2B902.c", "3B901.a"):
        rec = record(catalogue, code)
        assert rec.status == "cn_listed"
        assert (rec.cn_status, rec.suspended_until) == ("suspended", date(2026, 11, 10)), code


def test_own_suspension_wins_over_an_entry_in_force(catalogue: Catalogue) -> None:
    assert record(catalogue, "2B005").cn_status == "in_force"
    assert record(catalogue, "2B005.b").cn_status == "suspended"  # DCPCVD, Ann. 55/2025


def test_in_force_national_items_have_no_suspension(catalogue: Catalogue) -> None:
    rec = record(catalogue, "1C902.a")
    assert (rec.cn_status, rec.suspended_until) == ("in_force", None)


# --- wording: China's own, EU proxy, reused numbers --------------------------------------------


def test_catalogue_code_without_chinese_text_uses_the_eu_text_as_proxy(catalogue: Catalogue) -> None:
    rec = record(catalogue, "1C238")
    eu = next(t for t in rec.texts if t.list == "EU")
    assert eu.cn_proxy and "Chlorine trifluoride" in eu.text
    assert rec.title.startswith("Chlorine trifluoride")


def test_catalogue_sub_item_unknown_to_the_eu_takes_its_eu_ancestor_as_proxy(catalogue: Catalogue) -> None:
    eu = next(t for t in record(catalogue, "1B101.e").texts if t.list == "EU")
    assert (eu.code, eu.cn_proxy) == ("1B101", True)


@pytest.mark.parametrize("code", ["3C001", "3C001.a", "3C002", "3C003.b", "6C002"])
def test_reused_numbers_never_show_the_eu_text_as_chinas(catalogue: Catalogue, code: str) -> None:
    rec = record(catalogue, code)
    assert rec.status == "cn_listed"
    assert not any(t.cn_proxy for t in rec.texts)
    assert "reuses" in (rec.note or "")
    assert rec.texts[0].list == "CN"  # China's meaning comes first and gives the title


def test_gallium_number_says_what_china_means(catalogue: Catalogue) -> None:
    rec = record(catalogue, "3C001")
    assert rec.title == "Gallium-related items" and rec.title_zh == "镓相关物项"


def test_chinas_battery_3a001_is_shown_but_does_not_list_the_eu_item(catalogue: Catalogue) -> None:
    rec = record(catalogue, "3A001")
    cn = next(t for t in rec.texts if t.list == "CN")
    assert "lithium-ion" in cn.text and "锂离子电池" in (cn.text_zh or "")
    assert rec.status == "multilateral_only" and rec.cn_basis is None
    assert rec.title.startswith("Electronic items")  # the EU meaning decides
    assert rec.cn_status == "suspended"


def test_national_item_text_is_chinese_and_english_with_its_announcement(catalogue: Catalogue) -> None:
    cn = record(catalogue, "1C902.b").texts[0]
    assert cn.list == "CN" and not cn.cn_proxy
    assert cn.title == "Samarium oxide and its mixtures" and cn.title_zh == "氧化钐及其混合物"
    assert cn.source == "MOFCOM/GACC Announcement No. 18 of 2025"


def test_chinese_product_names_of_the_catalogue_are_never_used(catalogue: Catalogue) -> None:
    # product_name_zh of 1B003.c is "其他镭及镭盐" (misaligned): it must not appear anywhere.
    rec = record(catalogue, "1B003.c")
    assert "镭" not in rec.title + (rec.title_zh or "") + "".join(t.text for t in rec.texts)


def test_codeless_national_items_get_stable_synthetic_ids(catalogue: Catalogue) -> None:
    rec = record(catalogue, "cn-nat-023-2023-02")
    assert rec.code == "CN-NAT-023-2023-02" and rec.synthetic
    assert "Gallium nitride" in rec.title and "氮化镓" in (rec.title_zh or "")
    assert rec.lists == ("CN",) and rec.status == "cn_listed"
    assert "2850001901" in rec.hs_codes
    assert "synthetic id" in (rec.note or "")


def test_synthetic_ids_cover_every_codeless_national_item(catalogue: Catalogue) -> None:
    reference = load_reference(Settings().reference_dir)
    codeless = sum(1 for item in reference.national_items if not item.codes)
    synthetic = [r for r in catalogue if r.synthetic]
    assert len(synthetic) == codeless
    assert all(normalise_code(r.code) == r.code for r in synthetic)


def test_records_are_immutable(catalogue: Catalogue) -> None:
    rec = record(catalogue, "1C902")
    with pytest.raises(AttributeError):
        rec.status = "not_listed"  # type: ignore[misc]
    with pytest.raises(TypeError):
        catalogue._records["1C902"] = rec  # type: ignore[index]


# --- search ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("gallium nitride", "CN-NAT-023-2023-02"),
        ("氮化镓", "CN-NAT-023-2023-02"),
        ("氮化鎵", "CN-NAT-023-2023-02"),  # Traditional characters
        ("samarium", "1C902.a"),
        ("氧化钐", "1C902.b"),
        ("nuclear reactor", "0A001.a"),
        ("hydrogen fluoride", "1C350.24"),
        ("synthetic diamond micropowder", "2C902.a"),
        ("rare earth ore", "1C914.a"),
        ("1c902", "1C902"),
    ],
)
def test_search_ranks_the_expected_item_first(catalogue: Catalogue, query: str, expected: str) -> None:
    assert catalogue.search(query)[0].code == expected


@pytest.mark.parametrize(
    ("query", "word"),
    [
        ("germanium", "Germanium"),
        ("锗", "Germanium"),
        ("antimony", "Antimony"),
        ("锑", "Antimony"),
        ("石墨", "graphite"),
        ("lithium ion battery", "lithium-ion"),
        ("isostatic press", "sostatic"),
        ("analogue-to-digital converter", "Analog"),
    ],
)
def test_search_top_hits_are_about_the_query(catalogue: Catalogue, query: str, word: str) -> None:
    hits = catalogue.search(query, limit=3)
    assert len(hits) == 3
    assert all(word.lower() in (h.title + h.snippet).lower() for h in hits), [h.code for h in hits]


def test_search_favours_china_listed_items(catalogue: Catalogue) -> None:
    hits = catalogue.search("unmanned aerial vehicle", limit=5)
    assert all(h.status == "cn_listed" for h in hits)


def test_search_hit_has_score_snippet_lists_and_status(catalogue: Catalogue) -> None:
    hit = catalogue.search("gallium nitride")[0]
    assert hit.score > 0 and "Gallium nitride" in hit.snippet
    assert hit.lists == ("CN",) and hit.status == "cn_listed" and hit.cn_status == "in_force"
    scores = [h.score for h in catalogue.search("gallium nitride", limit=10)]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("list_", ["CN", "EU", "US", "CN-NUCLEAR", "eu"])
def test_search_list_filter_keeps_only_that_list(catalogue: Catalogue, list_: str) -> None:
    hits = catalogue.search("nuclear reactor", list_=list_, limit=20)
    assert hits
    for hit in hits:
        wanted = {"CN", "CN-NUCLEAR"} if list_ == "CN" else {list_.upper()}
        assert wanted & set(hit.lists), hit


def test_search_limit_is_respected(catalogue: Catalogue) -> None:
    assert len(catalogue.search("equipment", limit=1)) == 1
    assert len(catalogue.search("equipment", limit=100)) == 100
    with pytest.raises(ValueError):
        catalogue.search("equipment", limit=0)


def test_search_refuses_an_unknown_list(catalogue: Catalogue) -> None:
    with pytest.raises(ValueError, match="unknown list"):
        catalogue.search("equipment", list_="JP")


@pytest.mark.parametrize("query", ["", "   ", "the of and", "zzzzqqqq", "☃"])
def test_search_without_usable_terms_finds_nothing(catalogue: Catalogue, query: str) -> None:
    assert catalogue.search(query) == []


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=60))
def test_lookup_and_search_never_raise_on_arbitrary_text(catalogue: Catalogue, text: str) -> None:
    catalogue.get(text)
    catalogue.status(text)
    catalogue.suggest(text)
    for hit in catalogue.search(text, limit=5):
        assert hit.score > 0


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("Analogue-to-Digital Converters", ["analog", "digital", "converter"]),
        ("the batteries of lasers", ["battery", "laser"]),
        ("Ｇａ２Ｏ３ wafers", ["ga2o3", "wafer"]),  # full-width forms folded
        ("氮化鎵", ["氮", "化", "镓", "氮化", "化镓"]),  # Traditional to Simplified, then n-grams
        ("drones", ["uav"]),
    ],
)
def test_index_terms(text: str, terms: list[str]) -> None:
    assert tokens(text) == terms


# --- HS lookup ---------------------------------------------------------------------------------


def test_hs_heading_returns_description_and_control_codes(catalogue: Catalogue) -> None:
    result = catalogue.by_hs("8541")
    assert result.description is not None and result.description.startswith("Semiconductor devices")
    assert [h.code for h in result.headings] == ["85", "8541"]
    assert result.matches and all(all(hs.startswith("8541") for hs in m.hs_codes) for m in result.matches)


def test_hs_lookup_is_prefix_aware_in_both_directions(catalogue: Catalogue) -> None:
    ten = catalogue.by_hs("2805301910")  # samarium metal, 10 digits
    codes = {m.code for m in ten.matches}
    assert {"1C902.a", "1C902.a.1"} <= codes
    assert "1C909.a" in codes  # holmium metal is stated as the 8-digit 28053019
    assert codes <= {m.code for m in catalogue.by_hs("2805").matches}
    assert ten.description is not None and [h.level for h in ten.headings] == [2, 4, 6]


def test_hs_lookup_lists_china_listed_codes_first(catalogue: Catalogue) -> None:
    statuses = [m.status == "cn_listed" for m in catalogue.by_hs("85").matches]
    assert statuses == sorted(statuses, reverse=True)


def test_hs_lookup_finds_codeless_national_items(catalogue: Catalogue) -> None:
    assert "CN-NAT-023-2023-02" in {m.code for m in catalogue.by_hs("2850001901").matches}


def test_hs_lookup_accepts_dots_and_rejects_non_digits(catalogue: Catalogue) -> None:
    assert catalogue.by_hs("8112.92").hs_code == "811292"
    for bad in ("8", "85x1", "12345678901", ""):
        with pytest.raises(ValueError):
            catalogue.by_hs(bad)


def test_hs_code_unknown_everywhere_has_no_description_or_codes(catalogue: Catalogue) -> None:
    result = catalogue.by_hs("0000")
    assert (result.description, result.headings, result.matches) == (None, (), ())
