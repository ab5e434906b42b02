"""The destination rules engine: one table row per rule (outcome and citation), suspensions and
data freshness, loud failures on bad rule files, and hypothesis properties over all facts.

Every case pins ``as_of`` so that the suite does not change meaning as the calendar moves.
"""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from service.parties import PartyScreener
from service.reference import load_reference
from service.rules import (
    Condition,
    Facts,
    Outcome,
    Rule,
    RuleEngine,
    RulesError,
    RuleSet,
    load_rules,
    most_restrictive,
)
from service.settings import REPO_ROOT

RULES_DIR = REPO_ROOT / "rules"
MID_2026 = date(2026, 7, 1)  # after the Japan measures, inside the 2025 and US suspensions


@pytest.fixture(scope="module")
def engine() -> RuleEngine:
    """The shipped rule sets."""
    return load_rules(RULES_DIR)


def listed(**facts: Any) -> Facts:
    """A listed rare-earth item (1C902.a) exported from China for a civil use, plus overrides."""
    base: dict[str, Any] = {
        "item_status": "cn_listed", "code": "1C902.a", "item_groups": ["rare_earth"],
        "destination": "DE", "end_user_type": "civil", "end_use": "civil",
    }
    return Facts(**{**base, **facts})


def ordinary(**facts: Any) -> Facts:
    """An item on no control list, exported from China for a civil use, plus overrides."""
    base: dict[str, Any] = {
        "item_status": "not_listed", "destination": "DE", "end_user_type": "civil", "end_use": "civil",
    }
    return Facts(**{**base, **facts})


CONTROL_JP = {"party_lists": ["control"], "party_countries": ["JP"], "destination": "JP"}
WATCH_JP = {"party_lists": ["watch"], "party_countries": ["JP"], "destination": "JP"}
FOREIGN_HOLDER = {"exporter_country": "SG", "chinese_origin": True}

# (case, facts, as_of, expected outcome, rule that must fire, words its citation must contain)
CASES = [
    ("R01 dual-use item to a Control List entity", listed(**CONTROL_JP), MID_2026,
     "PROHIBITED", "R01", "Arts. 28-30; MOFCOM Announcement No. 11 of 2026"),
    ("R01 Control List entity in the US", listed(party_lists=["control"], party_countries=["US"],
     destination="US"), MID_2026, "PROHIBITED", "R01", "No. 51 of 2025"),
    ("R01-FLAG ordinary goods to a Control List entity are flagged, not banned",
     ordinary(**CONTROL_JP), MID_2026, "NEEDS_REVIEW", "R01-FLAG", "Arts. 28-30"),
    ("R02 third-country re-exporter of PRC-origin items to a listed Japanese entity",
     listed(**CONTROL_JP, **FOREIGN_HOLDER), MID_2026,
     "PROHIBITED", "R02", "Announcement No. 11 of 2026, cl. 1"),
    ("R03 Japanese military end use", listed(destination="JP", end_use="military"), MID_2026,
     "PROHIBITED", "R03", "Announcement No. 1 of 2026, cl. 1"),
    ("R03 Japanese military end user", listed(destination="JP", end_user_type="military"),
     MID_2026, "PROHIBITED", "R03", "Announcement No. 1 of 2026, cl. 1"),
    ("R03 use enhancing Japan's military strength", listed(destination="JP",
     end_use="mil_capability"), MID_2026, "PROHIBITED", "R03", "Announcement No. 1 of 2026"),
    ("R03 catch-all item the exporter knows is risky", ordinary(destination="JP",
     end_use="military", risk_known=True), MID_2026, "PROHIBITED", "R03", "No. 1 of 2026"),
    ("R03-REVIEW unlisted item for the Japanese military is not cleared",
     ordinary(destination="JP", end_user_type="military"), MID_2026,
     "NEEDS_REVIEW", "R03-REVIEW", "Announcement No. 1 of 2026, cl. 1"),
    ("R04 re-export of PRC-origin items for a Japanese military use",
     listed(destination="JP", end_use="military", **FOREIGN_HOLDER), MID_2026,
     "PROHIBITED", "R04", "Announcement No. 1 of 2026, cl. 2"),
    ("R05 unknown use to Japan", Facts(item_status="multilateral_only", code="3A001",
     destination="JP", end_user_type="civil", end_use="unknown"), MID_2026,
     "NEEDS_REVIEW", "R05", "Announcement No. 1 of 2026"),
    ("R05 unknown end user to Japan, registration case", listed(destination="JP",
     end_user_type="unknown", purpose="exhibition"), MID_2026,
     "NEEDS_REVIEW", "R05", "Announcement No. 1 of 2026"),
    ("R05 listed item, unknown use to Japan: the licence outranks the review",
     listed(destination="JP", end_use="unknown"), MID_2026, "LICENCE_REQUIRED", "R05",
     "Announcement No. 1 of 2026"),
    ("R06 Watch List entity", listed(**WATCH_JP), MID_2026,
     "LICENCE_REQUIRED_INDIVIDUAL", "R06", "Art. 26; MOFCOM Announcements No. 12"),
    ("R06-FLAG ordinary goods to a Watch List entity are flagged", ordinary(**WATCH_JP),
     MID_2026, "NEEDS_REVIEW", "R06-FLAG", "Art. 26"),
    ("R07 Watch List entity with a military use", listed(**WATCH_JP, end_use="military"),
     MID_2026, "PROHIBITED", "R07", "Announcement No. 12 of 2026"),
    ("R08 WMD end use", ordinary(end_use="wmd"), MID_2026,
     "PROHIBITED", "R08", "Export Control Law Art. 12(3)"),
    ("R08 terrorism end use", listed(end_use="terror"), MID_2026, "PROHIBITED", "R08", "Art. 12(3)"),
    ("R09 catch-all: unlisted item, known security risk", ordinary(risk_known=True), MID_2026,
     "LICENCE_REQUIRED", "R09", "Art. 12(3); Dual-use Regulations Art. 14(3)"),
    ("R09-REVIEW EU-listed item for a military use", Facts(item_status="multilateral_only",
     destination="KR", end_user_type="civil", end_use="military"), MID_2026,
     "NEEDS_REVIEW", "R09-REVIEW", "Art. 14(3)"),
    ("R10 US military end user", listed(destination="US", end_user_type="military"), MID_2026,
     "PROHIBITED", "R10", "Announcement No. 46 of 2024, cl. 1"),
    ("R11 gallium to the US before Ann. 72/2025", listed(destination="US", code=None,
     item_groups=["gallium"]), date(2025, 6, 1), "PROHIBITED", "R11", "No. 46 of 2024, cl. 2"),
    ("R11 gallium to the US after the suspension ends", listed(destination="US", code=None,
     item_groups=["gallium"]), date(2026, 11, 28), "PROHIBITED", "R11", "No. 72 of 2025"),
    ("R12 PRC rare-earth content after the suspension ends", ordinary(exporter_country="DE",
     chinese_origin=False, prc_rare_earth_content=True, destination="US"), date(2026, 11, 11),
     "LICENCE_REQUIRED", "R12", "Announcement No. 61 of 2025"),
    ("R12-DENY PRC rare-earth content for a military user", ordinary(exporter_country="DE",
     chinese_origin=False, prc_rare_earth_content=True, end_user_type="military"),
     date(2026, 11, 11), "PROHIBITED", "R12-DENY", "Announcement No. 61 of 2025"),
    ("R13 listed item for a civil use", listed(), MID_2026,
     "LICENCE_REQUIRED", "R13", "Dual-use Regulations Arts. 14-15"),
    ("R13-2025 holmium once the 2025 suspension ends", listed(code="1C909.a"),
     date(2026, 11, 11), "LICENCE_REQUIRED", "R13-2025", "No. 70 of 2025"),
    ("R14 listed item sent to an exhibition", listed(purpose="exhibition"), MID_2026,
     "REGISTRATION", "R14", "Arts. 19-20"),
    ("R14 repair return", listed(purpose="repair_return"), MID_2026, "REGISTRATION", "R14", "19-20"),
    ("R15 barred exporter", listed(exporter_barred=True, purpose="exhibition"), MID_2026,
     "LICENCE_REQUIRED_INDIVIDUAL", "R15", "Dual-use Regulations Art. 20"),
    ("R18 barred exporter of holmium during the 2025 suspension", listed(code="1C909.a",
     exporter_barred=True), MID_2026, "NO_LICENCE_REQUIRED", "R18", "Art. 27"),
    ("R16 forged end-user certificate", listed(red_flags=["forged_certificate"]), MID_2026,
     "STOP_AND_REPORT", "R16", "Arts. 25, 35"),
    ("R17 classification uncertain", ordinary(classification_uncertain=True), MID_2026,
     "NEEDS_REVIEW", "R17", "Art. 14(4)"),
    ("R17 item status unknown", Facts(item_status="unknown", destination="DE",
     end_user_type="civil", end_use="civil"), MID_2026, "NEEDS_REVIEW", "R17", "Art. 14(4)"),
    ("R18 civil use of a non-controlled item to Japan", ordinary(destination="JP"), MID_2026,
     "NO_LICENCE_REQUIRED", "R18", "Art. 27"),
    ("R18 holmium while the 2025 measures are suspended", listed(code="1C909.a"), MID_2026,
     "NO_LICENCE_REQUIRED", "R18", "Art. 27"),
]


@pytest.mark.parametrize(
    ("facts", "as_of", "outcome", "rule", "citation"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_rule_table(
    engine: RuleEngine, facts: Facts, as_of: date, outcome: str, rule: str, citation: str
) -> None:
    """Each rule fires on its facts, with its citation, and the most restrictive outcome wins."""
    evaluation = engine.evaluate(facts, as_of)
    hits = {hit.rule: hit for hit in evaluation.hits}
    assert evaluation.outcome == Outcome(outcome), [h.rule for h in evaluation.hits]
    assert rule in hits, f"{rule} did not fire; fired: {list(hits)}"
    assert citation in " ".join(hits[rule].citation.split())


def test_every_rule_has_a_table_row(engine: RuleEngine) -> None:
    """The table covers every shipped rule."""
    assert {case[4] for case in CASES} == {rule.id for rule in engine.rules}


@pytest.mark.parametrize(
    ("rule", "facts", "last_suspended_day"),
    [
        ("R11", listed(destination="US", code=None, item_groups=["antimony"]), date(2026, 11, 27)),
        ("R12", ordinary(exporter_country="DE", prc_rare_earth_content=True), date(2026, 11, 10)),
        ("R13-2025", listed(code="2B902.a"), date(2026, 11, 10)),
    ],
)
def test_suspended_rules_fire_only_after_their_suspension(
    engine: RuleEngine, rule: str, facts: Facts, last_suspended_day: date
) -> None:
    """R11, R12 and the 2025 items stay silent through the last suspended day, then fire with a
    freshness warning because the data (2026-06-29) predates the end of the suspension."""
    for day in (date(2026, 1, 1), last_suspended_day):
        evaluation = engine.evaluate(facts, day)
        assert rule not in [h.rule for h in evaluation.hits]
        assert evaluation.warnings == []
    after = engine.evaluate(facts, date.fromordinal(last_suspended_day.toordinal() + 1))
    assert rule in [h.rule for h in after.hits]
    assert len(after.warnings) == 1
    assert after.warnings[0].startswith(f"{rule}: ") and "may miss an extension" in after.warnings[0]


def test_no_freshness_warning_when_the_data_postdates_the_suspension(tmp_path: Path) -> None:
    """Data dated after the end of a suspension would show an extension: no warning then."""
    rules_dir = tmp_path / "rules"
    shutil.copytree(RULES_DIR, rules_dir)
    path = rules_dir / "cn-us-2024.yaml"
    path.write_text(path.read_text().replace("data_as_of: 2026-06-29", "data_as_of: 2026-12-01"))
    engine = load_rules(rules_dir)
    evaluation = engine.evaluate(listed(destination="US", item_groups=["germanium"]), date(2026, 12, 2))
    assert evaluation.outcome is Outcome.PROHIBITED
    assert evaluation.warnings == []


def test_a_date_before_the_regime_warns(engine: RuleEngine) -> None:
    """Dates before the Dual-use Regulations took effect are not modelled, and say so."""
    evaluation = engine.evaluate(listed(), date(2023, 1, 1))
    assert engine.covers_from == date(2024, 12, 1)
    assert any("not modelled" in w for w in evaluation.warnings)


def test_explanations_are_specific_to_the_facts(engine: RuleEngine) -> None:
    """Explanations name the facts that made the rule fire, with no template left unfilled."""
    evaluation = engine.evaluate(listed(destination="JP", end_use="mil_capability"), MID_2026)
    r03 = next(h for h in evaluation.hits if h.rule == "R03")
    assert "1C902.a" in r03.explanation and "mil_capability" in r03.explanation
    assert not re.search(r"\{\w+\}", r03.explanation)
    assert evaluation.hits[0].outcome is Outcome.PROHIBITED  # most restrictive first


@pytest.mark.parametrize("kind", ["control", "watch"])
def test_every_spelling_of_a_listed_entity_leads_to_its_list_outcome(
    engine: RuleEngine, kind: str
) -> None:
    """Screening any listed spelling and feeding the hits to the rules gives the list's outcome:
    Control List -> PROHIBITED, Watch List -> individual licence, or PROHIBITED for military use."""
    reference = load_reference(REPO_ROOT / "data" / "reference")
    screener = PartyScreener.from_reference(reference)
    expected = {"control": Outcome.PROHIBITED, "watch": Outcome.LICENCE_REQUIRED_INDIVIDUAL}[kind]
    checked = 0
    for party in (p for p in reference.parties if p.list == kind):
        for spelling in screener.spellings(party):
            hits = screener.screen(spelling)
            facts = listed(
                destination=party.country,
                party_lists=sorted({h.list for h in hits}),
                party_countries=sorted({h.country for h in hits}),
            )
            assert engine.evaluate(facts, MID_2026).outcome is expected, spelling
            if kind == "watch" and party.country == "JP":
                military = facts.model_copy(update={"end_use": "military"})
                assert engine.evaluate(military, MID_2026).outcome is Outcome.PROHIBITED
            checked += 1
    assert checked > 20


def test_version_is_a_label_and_a_content_hash(tmp_path: Path) -> None:
    """The version names the release and changes with any byte of any rule file."""
    version = load_rules(RULES_DIR).version
    assert re.fullmatch(r"cn-2026\.\d+\+sha256:[0-9a-f]{12}", version)
    rules_dir = tmp_path / "rules"
    shutil.copytree(RULES_DIR, rules_dir)
    with (rules_dir / "cn-general.yaml").open("a") as handle:
        handle.write("\n# a comment\n")
    assert load_rules(rules_dir).version != version


GOOD_RULE = {
    "id": "T01", "title": "Test rule", "outcome": "NEEDS_REVIEW", "citation": "Test citation",
    "explanation": "Because {destination}.", "effective_from": "2024-01-01",
    "when": {"fact": "destination", "equals": "JP"},
}


def write_ruleset(directory: Path, name: str, rules: list[dict[str, Any]], **extra: Any) -> None:
    """One rule-set file for the loader tests."""
    directory.mkdir(exist_ok=True)
    data = {"ruleset": name, "title": name, "version": "1", "data_as_of": "2026-01-01",
            "rules": rules, **extra}
    (directory / f"{name}.yaml").write_text(yaml.safe_dump(data, allow_unicode=True))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"when": {"fact": "end_use", "equals": "militray"}}, r"T01.*'militray' is not a value"),
        ({"when": {"fact": "colour", "equals": "red"}}, r"T01.*unknown fact 'colour'"),
        ({"when": {"fact": "destination", "is_true": True}}, r"T01.*does not apply to str"),
        ({"when": {"fact": "destination"}}, r"T01.*exactly one operator"),
        ({"when": {"all": []}}, r"T01.*at least one condition"),
        ({"when": {"fact": "destination", "equals": "JP", "any": []}}, r"T01.*exactly one of"),
        ({"outcome": "FORBIDDEN"}, r"T01.*outcome"),
        ({"effective_from": "someday"}, r"T01.*effective_from"),
        ({"explanation": "Because {colour}."}, r"T01.*unknown facts"),
        ({"fallback": True}, r"T01.*either a 'when'"),
        ({"suspended_from": "2026-02-01", "suspended_until": "2026-01-01"}, r"T01.*after"),
        ({"eval": "__import__('os')"}, r"T01.*eval"),
    ],
)
def test_a_bad_rule_fails_loudly_with_file_and_rule(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    """Typos, unknown facts or values, malformed conditions and stray keys stop the load."""
    write_ruleset(tmp_path, "bad-set", [{**GOOD_RULE, **change}])
    with pytest.raises(RulesError, match=r"bad-set\.yaml: .*" + message):
        load_rules(tmp_path)


def test_duplicate_ids_unknown_predicates_and_cycles_fail(tmp_path: Path) -> None:
    """Cross-file mistakes are caught too."""
    write_ruleset(tmp_path / "a", "one", [GOOD_RULE])
    write_ruleset(tmp_path / "a", "two", [GOOD_RULE])
    with pytest.raises(RulesError, match=r"two\.yaml: rule T01 already defined in one\.yaml"):
        load_rules(tmp_path / "a")
    write_ruleset(tmp_path / "b", "one", [{**GOOD_RULE, "when": {"predicate": "nowhere"}}])
    with pytest.raises(RulesError, match=r"rule T01: unknown predicate"):
        load_rules(tmp_path / "b")
    cycle = {"p": {"predicate": "q"}, "q": {"not": {"predicate": "p"}}}
    write_ruleset(tmp_path / "c", "one", [GOOD_RULE], predicates=cycle)
    with pytest.raises(RulesError, match=r"predicate cycle"):
        load_rules(tmp_path / "c")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "broken.yaml").write_text("rules: [\n")
    with pytest.raises(RulesError, match=r"broken\.yaml: not valid YAML"):
        load_rules(tmp_path / "d")


def test_most_restrictive_follows_the_declared_order() -> None:
    """PROHIBITED beats everything; no outcome at all means no licence required."""
    order = list(Outcome)
    assert order[0] is Outcome.PROHIBITED and order[-1] is Outcome.NO_LICENCE_REQUIRED
    assert [o.severity for o in order] == sorted((o.severity for o in order), reverse=True)
    assert most_restrictive([Outcome.REGISTRATION, Outcome.NEEDS_REVIEW]) is Outcome.NEEDS_REVIEW
    assert most_restrictive([]) is Outcome.NO_LICENCE_REQUIRED


# --- Properties over every combination of facts -------------------------------------------

COUNTRIES = ["JP", "US", "DE", "KR", "CN", "SG"]
facts_strategy = st.builds(
    Facts,
    item_status=st.sampled_from(["cn_listed", "multilateral_only", "not_listed", "unknown"]),
    code=st.none() | st.sampled_from(["1C902.a", "1C909.b", "3A001", "2B352.f.1"]) | st.text(max_size=12),
    item_groups=st.lists(st.sampled_from(["gallium", "germanium", "antimony", "superhard",
                                          "graphite", "rare_earth", "other"]), max_size=3),
    destination=st.sampled_from(COUNTRIES),
    end_user_type=st.sampled_from(["military", "civil", "government", "unknown"]),
    end_use=st.sampled_from(["military", "mil_capability", "wmd", "terror", "civil", "unknown"]),
    party_lists=st.lists(st.sampled_from(["control", "watch"]), max_size=2, unique=True),
    party_countries=st.lists(st.sampled_from(COUNTRIES), max_size=2),
    exporter_country=st.sampled_from(COUNTRIES),
    chinese_origin=st.booleans(),
    classification_uncertain=st.booleans(),
    red_flags=st.lists(st.text(min_size=1, max_size=8), max_size=2),
    purpose=st.sampled_from(["sale", "repair_return", "test_return", "exhibition",
                             "civil_aircraft_spares", "donation", "other"]),
    exporter_barred=st.booleans(),
    prc_rare_earth_content=st.booleans(),
    risk_known=st.booleans(),
)
days = st.dates(min_value=date(2019, 1, 1), max_value=date(2031, 12, 31))
ALWAYS = Condition.model_validate({"any": [{"fact": "reexport", "is_true": True},
                                           {"fact": "reexport", "is_true": False}]})


@pytest.fixture(scope="module")
def engines_with_extra_rule(engine: RuleEngine) -> dict[Outcome, RuleEngine]:
    """For each outcome, the shipped engine plus one rule that always fires with it."""
    result = {}
    for outcome in Outcome:
        extra = RuleSet(
            ruleset="extra", title="extra", version="1", data_as_of=date(2026, 1, 1),
            rules=[Rule(id="X01", title="Always", when=ALWAYS, outcome=outcome, citation="test",
                        explanation="always", effective_from=date(2000, 1, 1))],
        )
        result[outcome] = RuleEngine([*engine.rulesets, extra], "test")
    return result


@settings(max_examples=400, deadline=None)
@given(facts=facts_strategy, as_of=days)
def test_evaluation_is_deterministic_total_and_consistent(
    engine: RuleEngine, facts: Facts, as_of: date
) -> None:
    """Any facts on any day: no exception, the same answer twice, at least one hit (or a warning
    before the regime began), the outcome is the most restrictive hit, and only rules in force
    on that day fire."""
    first = engine.evaluate(facts, as_of)
    assert engine.evaluate(facts, as_of) == first
    assert first.hits or (as_of < engine.covers_from and first.warnings)
    assert first.outcome is most_restrictive(h.outcome for h in first.hits)
    in_force = {rule.id for rule in engine.rules if rule.in_force_on(as_of)}
    assert {h.rule for h in first.hits} <= in_force
    assert not any(re.search(r"\{\w+\}", h.explanation) for h in first.hits)


@settings(max_examples=300, deadline=None)
@given(facts=facts_strategy, as_of=days, outcome=st.sampled_from(list(Outcome)))
def test_adding_a_fired_rule_never_lowers_the_outcome(
    engine: RuleEngine,
    engines_with_extra_rule: dict[Outcome, RuleEngine],
    facts: Facts,
    as_of: date,
    outcome: Outcome,
) -> None:
    """One more fired rule gives the more restrictive of the old outcome and its own."""
    before = engine.evaluate(facts, as_of).outcome
    after = engines_with_extra_rule[outcome].evaluate(facts, as_of).outcome
    assert after.severity >= before.severity
    assert after is most_restrictive([before, outcome])


@settings(max_examples=300, deadline=None)
@given(
    facts=facts_strategy,
    unknown=st.sampled_from(["end_use", "end_user_type", "both"]),
    dual_use_by=st.sampled_from(["listed", "catch_all"]),
    as_of=st.dates(min_value=date(2026, 1, 6), max_value=date(2031, 12, 31)),
)
def test_dual_use_to_japan_with_unknown_use_or_user_is_never_cleared(
    engine: RuleEngine, facts: Facts, unknown: str, dual_use_by: str, as_of: date
) -> None:
    """Once Announcement No. 1 of 2026 applies, such a case is never NO_LICENCE_REQUIRED."""
    update: dict[str, Any] = {"destination": "JP"}
    if unknown in ("end_use", "both"):
        update["end_use"] = "unknown"
    if unknown in ("end_user_type", "both"):
        update["end_user_type"] = "unknown"
    if dual_use_by == "listed":
        update["item_status"] = "cn_listed"
    else:
        update["risk_known"] = True
    evaluation = engine.evaluate(facts.model_copy(update=update), as_of)
    assert evaluation.outcome is not Outcome.NO_LICENCE_REQUIRED
