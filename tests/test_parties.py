"""Party screening: every listed spelling finds its entity, script and width variants fold,
corporate forms do not matter, and near misses stay below the default threshold."""

from __future__ import annotations

import csv

import opencc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.parties import DEFAULT_THRESHOLD, PartyScreener, normalise
from service.reference import load_reference
from service.settings import REPO_ROOT

PARTY_CSV = REPO_ROOT / "data" / "reference" / "cn_party_lists.csv"


@pytest.fixture(scope="module")
def screener() -> PartyScreener:
    """A screener over the shipped party lists."""
    return PartyScreener.from_reference(load_reference(REPO_ROOT / "data" / "reference"))


def csv_spellings() -> list[tuple[str, str, str]]:
    """(list, canonical English name, spelling) for every name and alias in the CSV file."""
    rows = []
    with PARTY_CSV.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            names = [row["name_en"], row["name_zh"], row["name_ja"], *row["aliases"].split(";")]
            rows += [(row["list"], row["name_en"].strip(), n.strip()) for n in names if n.strip()]
    return rows


SPELLINGS = csv_spellings()


def test_the_csv_has_every_list_and_many_spellings() -> None:
    """Guards the test below against an empty or truncated file."""
    assert len({name for _, name, _ in SPELLINGS}) == 63
    assert len(SPELLINGS) > 150


@pytest.mark.parametrize(("kind", "entity", "spelling"), SPELLINGS, ids=[s for *_, s in SPELLINGS])
def test_every_spelling_in_the_list_finds_its_entity(
    screener: PartyScreener, kind: str, entity: str, spelling: str
) -> None:
    """Each name or alias in the file matches its own entity first, with a perfect score."""
    hits = screener.screen(spelling)
    assert hits, spelling
    assert (hits[0].entity, hits[0].list, hits[0].score) == (entity, kind, 1.0)


MHI_AERO = "Mitsubishi Heavy Industries Aero Engines, Ltd."
KHI_AEROSPACE = "Kawasaki Heavy Industries Aerospace Systems Company"
MHI_TURBO = "Mitsubishi Heavy Industries Engine & Turbocharger, Ltd."


@pytest.mark.parametrize(
    ("query", "entity"),
    [
        ("三菱重工航空發動機株式會社", MHI_AERO),
        ("三菱重工航空発動機", MHI_AERO),  # shinjitai 発
        ("ＩＨＩ　Ａｅｒｏｓｐａｃｅ　Ｃｏ．，Ｌｔｄ．", "IHI Aerospace Co., Ltd."),
        ("㈱ＳＵＢＡＲＵ", "SUBARU Corporation"),
        ("MHI Aero Engines", MHI_AERO),
        ("Mitsubishi Heavy Industries Aero Engines K.K.", MHI_AERO),
        ("IHI Aerospace Kabushiki Kaisha", "IHI Aerospace Co., Ltd."),
        ("株式会社IHIエアロスペース", "IHI Aerospace Co., Ltd."),
        ("japan marine united corp.", "Japan Marine United Corporation"),
        ("Kawasaki Heavy Industries Aerospace Systems", KHI_AEROSPACE),
        ("KHI Aerospace Systems Company", KHI_AEROSPACE),
        ("Mitsubishi Heavy Industries Engine and Turbocharger", MHI_TURBO),
        ("Mitsubishi Heavy Industries Aero Engines, Ltd., Nagoya Works", MHI_AERO),
        ("Mitsubishi Heavy Industry Aero Engine", MHI_AERO),
        ("JAXA", "Japan Aerospace Exploration Agency"),
        ("TDK Corp", "TDK Corporation"),
        ("Mitsui E & S Co Ltd", "MITSUI E&S Co., Ltd."),
        ("Fujikura Parachute", "The Fujikura Parachute Co., Ltd."),
    ],
)
def test_variants_fold_to_the_listed_entity(screener: PartyScreener, query: str, entity: str) -> None:
    """Traditional/shinjitai, full-width, corporate forms, '&', abbreviations, small typos."""
    hits = screener.screen(query)
    assert hits and hits[0].entity == entity, [(h.entity, h.score) for h in hits]


def test_every_chinese_name_in_traditional_script_matches(screener: PartyScreener) -> None:
    """Traditional Chinese forms of every listed Chinese name fold back to the entity."""
    s2t = opencc.OpenCC("s2t")
    for party in screener.parties:
        traditional = s2t.convert(party.name_zh)
        hits = screener.screen(traditional)
        assert hits and hits[0].entity == party.name_en and hits[0].score == 1.0, traditional


@pytest.mark.parametrize(
    "query",
    [
        "Mitsubishi Electric", "Mitsubishi Electric Corporation", "Mitsubishi Heavy Industries, Ltd.",
        "Mitsubishi Corporation", "Mitsubishi Chemical", "Kawasaki Heavy Industries",
        "IHI Corporation", "IHI", "NEC Corporation", "Fujitsu Limited", "Hitachi, Ltd.",
        "Mitsui & Co., Ltd.", "Sumitomo Electric Industries", "Toyota Motor", "Komatsu Ltd",
        "三菱电机株式会社", "三菱重工业株式会社", "川崎重工业株式会社", "日本电气株式会社",
        "NEC", "TDX", "JAXXA",
    ],
)
def test_near_misses_do_not_hit_at_the_default_threshold(screener: PartyScreener, query: str) -> None:
    """Parents, siblings and look-alikes of listed entities are not listed themselves."""
    assert screener.screen(query) == []


def test_threshold_is_settable_per_call(screener: PartyScreener) -> None:
    """A lower threshold casts a wider net; the default is documented as 0.88."""
    assert DEFAULT_THRESHOLD == 0.88
    assert screener.screen("Huntington Ingalls") == []
    wide = screener.screen("Huntington Ingalls", threshold=0.75)
    assert wide[0].entity == "Huntington Ingalls Industries, Inc." and 0.75 <= wide[0].score < 0.88
    assert screener.screen("Mitsubishi Heavy Industries Aero Engines", threshold=1.0)


def test_hits_carry_list_announcement_date_and_verified_flag(screener: PartyScreener) -> None:
    """An unverified row (No. 11 item 15) says so in the hit."""
    (hit,) = screener.screen("NEC Network and Sensor Systems")
    assert hit.model_dump() == {
        "list": "control",
        "entity": "NEC Network and Sensor Systems, Ltd.",
        "entity_zh": "日本电气网络传感器株式会社",
        "matched_name": "NEC Network and Sensor Systems, Ltd.",
        "score": 1.0,
        "announcement": "MOFCOM Announcement No. 11 of 2026",
        "date": "2026-02-24",
        "verified": False,
        "country": "JP",
    }


def test_hits_are_sorted_best_first_and_filtered_by_country(screener: PartyScreener) -> None:
    """Several entities can match one name; the best comes first. A country filter narrows."""
    hits = screener.screen("Mitsui Bussan Aerospace Co., Ltd.", threshold=0.7)
    assert len(hits) >= 2
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert hits[0].entity == "Mitsui Bussan Aerospace Co., Ltd."
    assert screener.screen("Huntington Ingalls Industries", country="JP") == []
    assert screener.screen("Huntington Ingalls Industries", country="us")[0].country == "US"


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("Mitsubishi Heavy Industries Aero Engines, Ltd.", "mitsubishi heavy industries aero engines"),
        ("三菱重工航空發動機株式會社", "三菱重工航空发动机"),
        ("株式会社SUBARU", "subaru"),
        ("ＳＵＢＡＲＵ　Ｃｏｒｐ．", "subaru"),
        ("The Fujikura Parachute Co., Ltd.", "fujikura parachute"),
        ("MITSUI E&S Co., Ltd.", "mitsui es"),
        ("National Defense Academy of Japan", "national defense academy japan"),
        ("俪达集团控股股份有限公司", "俪达集团控股"),
        ("Co., Ltd.", ""),
    ],
)
def test_normalise(raw: str, key: str) -> None:
    """Width, case, script and corporate forms are folded away."""
    assert normalise(raw) == key


@settings(max_examples=150, deadline=None)
@given(name=st.text(max_size=60))
def test_screening_never_raises_and_scores_stay_in_range(screener: PartyScreener, name: str) -> None:
    """Any text, in any script, gives hits with scores in [threshold, 1], best first."""
    hits = screener.screen(name)
    assert all(DEFAULT_THRESHOLD <= h.score <= 1 for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
