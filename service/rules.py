"""Destination rules engine: YAML rule sets with declarative conditions, evaluated against facts.

A rule set file (``rules/*.yaml``) holds ``ruleset``, ``title``, ``version``, ``data_as_of``,
optional named ``predicates`` and ``rules``. A condition is a tree of ``all:`` / ``any:`` /
``not:`` nodes over tests such as ``{fact: destination, equals: JP}``, evaluated by the small
interpreter below; rule sets never contain code.
"""

from __future__ import annotations

import hashlib
import re
import typing
from collections.abc import Iterable, Mapping
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


class Outcome(StrEnum):
    """Decision outcomes, declared from most to least restrictive."""

    PROHIBITED = "PROHIBITED"
    STOP_AND_REPORT = "STOP_AND_REPORT"
    LICENCE_REQUIRED_INDIVIDUAL = "LICENCE_REQUIRED_INDIVIDUAL"
    LICENCE_REQUIRED = "LICENCE_REQUIRED"
    NEEDS_REVIEW = "NEEDS_REVIEW"
    REGISTRATION = "REGISTRATION"
    NO_LICENCE_REQUIRED = "NO_LICENCE_REQUIRED"

    @property
    def severity(self) -> int:
        """Higher is more restrictive: PROHIBITED is 6, NO_LICENCE_REQUIRED is 0."""
        members = list(Outcome)
        return len(members) - 1 - members.index(self)


def most_restrictive(outcomes: Iterable[Outcome]) -> Outcome:
    """The most restrictive of the outcomes; NO_LICENCE_REQUIRED when there are none."""
    return max(outcomes, key=lambda o: o.severity, default=Outcome.NO_LICENCE_REQUIRED)


ItemStatus = Literal["cn_listed", "multilateral_only", "not_listed", "unknown"]
EndUserType = Literal["military", "civil", "government", "unknown"]
EndUse = Literal["military", "mil_capability", "wmd", "terror", "civil", "unknown"]
PartyList = Literal["control", "watch"]
Purpose = Literal[
    "sale", "repair_return", "test_return", "exhibition", "civil_aircraft_spares", "donation", "other"
]
COUNTRY_RE = re.compile(r"^[A-Z]{2}$")


class Facts(BaseModel):
    """What the rules see about one transaction; the assessment layer fills these fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    item_status: ItemStatus = Field(
        description="cn_listed: on China's list (incl. national items, even while suspended); "
        "multilateral_only: on EU Annex I only; not_listed; unknown."
    )
    code: str | None = Field(None, description="China control code, e.g. 1C902.a, if known.")
    item_groups: list[str] = Field(
        default_factory=list,
        description="Item families for measures keyed on them: gallium, germanium, antimony, "
        "superhard, graphite, rare_earth, battery, tungsten, uav ...",
    )
    destination: str = Field(description="ISO 3166-1 alpha-2 country of the consignee.")
    end_user_type: EndUserType = "unknown"
    end_use: EndUse = "unknown"
    party_lists: list[PartyList] = Field(
        default_factory=list, description="MOFCOM lists the parties hit: control, watch."
    )
    party_countries: list[str] = Field(
        default_factory=list, description="Countries of the listed parties that were hit."
    )
    exporter_country: str = Field("CN", description="ISO-2 country the goods leave from.")
    chinese_origin: bool = Field(True, description="PRC-origin item or one with PRC content.")
    classification_uncertain: bool = False
    red_flags: list[str] = Field(
        default_factory=list, description="Reg. 25 red flags, e.g. use_changed, forged_certificate."
    )
    purpose: Purpose = "sale"
    exporter_barred: bool = Field(
        False, description="PRC branch of a Control List party, or seriously penalised (Reg. 20)."
    )
    prc_rare_earth_content: bool = Field(
        False, description="Foreign-made item with >=0.1% PRC rare-earth value or PRC RE technology."
    )
    risk_known: bool = Field(
        False, description="Exporter knows, should know or was told of a security/WMD/terror risk."
    )

    @field_validator("destination", "exporter_country", mode="before")
    @classmethod
    def _country(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().upper()
            if not COUNTRY_RE.match(value):
                raise ValueError("must be an ISO 3166-1 alpha-2 code such as JP")
        return value

    @field_validator("party_countries", mode="before")
    @classmethod
    def _countries(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return [cls._country(v) for v in value]
        return value

    @property
    def reexport(self) -> bool:
        """The goods leave from outside China (a foreign holder re-exports or transfers them)."""
        return self.exporter_country != "CN"

    def values(self) -> dict[str, Any]:
        """Every fact by name, derived ones included."""
        return {**self.model_dump(), "reexport": self.reexport}


def _fact_kinds() -> dict[str, tuple[str, tuple[str, ...]]]:
    """Fact name -> (kind, allowed values) where kind is bool, str, choice or list."""
    kinds: dict[str, tuple[str, tuple[str, ...]]] = {"reexport": ("bool", ())}
    hints = typing.get_type_hints(Facts)
    for name in Facts.model_fields:
        hint = hints[name]
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if hint is bool:
            kinds[name] = ("bool", ())
        elif origin is Literal:
            kinds[name] = ("choice", args)
        elif origin is list:
            inner = args[0]
            choices = typing.get_args(inner) if typing.get_origin(inner) is Literal else ()
            kinds[name] = ("list", choices)
        else:
            kinds[name] = ("str", ())
    return kinds


FACT_KINDS = _fact_kinds()
# Which test operators make sense for which kind of fact.
OPERATORS = {
    "equals": {"str", "choice"},
    "in": {"str", "choice"},
    "code_under": {"str"},
    "is_true": {"bool"},
    "contains": {"list"},
    "contains_any": {"list"},
    "not_empty": {"list"},
}


class Condition(BaseModel):
    """One node of a condition tree: exactly one of all/any/not/predicate, or a fact test."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    all: list[Condition] | None = None
    any: list[Condition] | None = None
    not_: Condition | None = Field(None, alias="not")
    predicate: str | None = None
    fact: str | None = None
    equals: str | None = None
    in_: list[str] | None = Field(None, alias="in")
    code_under: list[str] | None = None
    is_true: bool | None = None
    contains: str | None = None
    contains_any: list[str] | None = None
    not_empty: bool | None = None

    @model_validator(mode="after")
    def _well_formed(self) -> Condition:
        forms = [f for f in ("all", "any", "not_", "predicate", "fact") if getattr(self, f) is not None]
        if len(forms) != 1:
            raise ValueError("a condition needs exactly one of all, any, not, predicate, fact")
        ops = [op for op in OPERATORS if getattr(self, _attr(op)) is not None]
        if self.fact is None:
            if ops:
                raise ValueError(f"operator {ops[0]!r} needs a 'fact'")
            if (self.all is not None and not self.all) or (self.any is not None and not self.any):
                raise ValueError("all/any need at least one condition")
            return self
        if self.fact not in FACT_KINDS:
            raise ValueError(f"unknown fact {self.fact!r}; known: {', '.join(sorted(FACT_KINDS))}")
        if len(ops) != 1:
            raise ValueError(f"fact {self.fact!r} needs exactly one operator of {list(OPERATORS)}")
        kind, choices = FACT_KINDS[self.fact]
        if kind not in OPERATORS[ops[0]]:
            raise ValueError(f"operator {ops[0]!r} does not apply to {kind} fact {self.fact!r}")
        if choices and ops[0] != "not_empty":
            value = getattr(self, _attr(ops[0]))
            for v in [value] if isinstance(value, str) else value or []:
                if v not in choices:
                    raise ValueError(f"{v!r} is not a value of {self.fact!r}: {list(choices)}")
        return self

    def predicates(self) -> set[str]:
        """Names of the predicates this condition refers to."""
        found = {self.predicate} if self.predicate else set()
        for child in [*(self.all or ()), *(self.any or ()), *([self.not_] if self.not_ else [])]:
            found |= child.predicates()
        return found

    def holds(self, facts: Mapping[str, Any], predicates: Mapping[str, Condition]) -> bool:
        """Evaluate against fact values (``Facts.values()``) and the named predicates."""
        if self.all is not None:
            return all(c.holds(facts, predicates) for c in self.all)
        if self.any is not None:
            return any(c.holds(facts, predicates) for c in self.any)
        if self.not_ is not None:
            return not self.not_.holds(facts, predicates)
        if self.predicate is not None:
            return predicates[self.predicate].holds(facts, predicates)
        value = facts[self.fact]  # type: ignore[index]
        if self.equals is not None:
            return value == self.equals
        if self.in_ is not None:
            return value in self.in_
        if self.code_under is not None:
            return value is not None and any(
                value == c or value.startswith(c + ".") for c in self.code_under
            )
        if self.is_true is not None:
            return bool(value) is self.is_true
        if self.contains is not None:
            return self.contains in value
        if self.contains_any is not None:
            return not set(value).isdisjoint(self.contains_any)
        return bool(value) is bool(self.not_empty)


def _attr(operator: str) -> str:
    return "in_" if operator == "in" else operator


PLACEHOLDER_RE = re.compile(r"\{(\w+)\}")


class Rule(BaseModel):
    """One rule: when its condition holds on a date it is in force, it fires its outcome."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)*$")
    title: str = Field(min_length=3)
    when: Condition | None = None
    fallback: bool = Field(False, description="Fires only when no other rule fired.")
    outcome: Outcome
    citation: str = Field(min_length=3)
    explanation: str = Field(min_length=3, description="Template; {fact} names are filled in.")
    effective_from: date
    suspended_from: date | None = None
    suspended_until: date | None = Field(None, description="Last day of the suspension.")
    basis: str | None = Field(None, description="Why the rule reads as it does; [V]/[S]/[I] tags.")

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        if self.fallback == (self.when is not None):
            raise ValueError("a rule has either a 'when' condition or 'fallback: true'")
        if self.suspended_from and not self.suspended_until:
            raise ValueError("suspended_from needs suspended_until")
        if self.suspended_from and self.suspended_until and self.suspended_from > self.suspended_until:
            raise ValueError("suspended_from is after suspended_until")
        unknown = set(PLACEHOLDER_RE.findall(self.explanation)) - set(FACT_KINDS)
        if unknown:
            raise ValueError(f"explanation names unknown facts: {sorted(unknown)}")
        return self

    def suspended_on(self, day: date) -> bool:
        """True while a suspension covers ``day`` (the ``suspended_until`` day included)."""
        if self.suspended_until is None or day > self.suspended_until:
            return False
        return self.suspended_from is None or day >= self.suspended_from

    def in_force_on(self, day: date) -> bool:
        """Effective and not suspended on ``day``."""
        return day >= self.effective_from and not self.suspended_on(day)


class RuleSet(BaseModel):
    """One YAML file: a regime or measure, its version and the date of the data behind it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ruleset: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    version: str
    data_as_of: date = Field(description="Newest source date behind these rules.")
    predicates: dict[str, Condition] = Field(default_factory=dict)
    rules: list[Rule] = Field(min_length=1)


class RuleHit(BaseModel):
    """A rule that fired, with its facts-specific explanation."""

    rule: str
    ruleset: str
    title: str
    outcome: Outcome
    citation: str
    explanation: str


class Evaluation(BaseModel):
    """The most restrictive outcome, every rule that fired (most restrictive first), warnings."""

    outcome: Outcome
    hits: list[RuleHit]
    warnings: list[str] = Field(default_factory=list)


class RulesError(ValueError):
    """A rule file is invalid; the message names the file and the rule."""


class RuleEngine:
    """Validated rule sets, evaluated as a whole; build it with ``load_rules``."""

    def __init__(self, rulesets: list[RuleSet], version: str) -> None:
        self.rulesets = tuple(rulesets)
        self.version = version
        self.predicates = {n: c for rs in rulesets for n, c in rs.predicates.items()}
        self._rules = tuple((rs, rule) for rs in rulesets for rule in rs.rules)
        _check_references(self.rulesets, self.predicates)
        starts = [r.effective_from for _, r in self._rules if r.fallback] or [
            r.effective_from for _, r in self._rules
        ]
        self.covers_from = min(starts)

    @property
    def rules(self) -> list[Rule]:
        """Every rule of every rule set."""
        return [rule for _, rule in self._rules]

    def evaluate(self, facts: Facts, as_of: date | None = None) -> Evaluation:
        """Fire every rule in force on ``as_of`` (default today) whose condition holds."""
        day = as_of or date.today()
        values = facts.values()
        fired: list[tuple[RuleSet, Rule]] = []
        fallbacks: list[tuple[RuleSet, Rule]] = []
        for ruleset, rule in self._rules:
            if not rule.in_force_on(day):
                continue
            if rule.fallback:
                fallbacks.append((ruleset, rule))
            elif rule.when is not None and rule.when.holds(values, self.predicates):
                fired.append((ruleset, rule))
        fired = fired or fallbacks
        hits = [_hit(ruleset, rule, values) for ruleset, rule in fired]
        hits.sort(key=lambda h: -h.outcome.severity)
        warnings = [w for ruleset, rule in fired if (w := _freshness(ruleset, rule, day))]
        if day < self.covers_from:
            warnings.append(
                f"as_of {day.isoformat()} is before {self.covers_from.isoformat()}, when the "
                "regime these rules describe took effect; the law in force then is not modelled."
            )
        return Evaluation(
            outcome=most_restrictive(h.outcome for h in hits), hits=hits, warnings=warnings
        )


def _hit(ruleset: RuleSet, rule: Rule, values: Mapping[str, Any]) -> RuleHit:
    def fill(match: re.Match[str]) -> str:
        value = values[match.group(1)]
        if isinstance(value, list):
            return ", ".join(map(str, value)) or "none"
        return "not given" if value is None else str(value)

    return RuleHit(
        rule=rule.id,
        ruleset=ruleset.ruleset,
        title=rule.title,
        outcome=rule.outcome,
        citation=rule.citation,
        explanation=PLACEHOLDER_RE.sub(fill, rule.explanation),
    )


def _freshness(ruleset: RuleSet, rule: Rule, day: date) -> str | None:
    """A warning when a suspension has lapsed by ``day`` but the data predates its end."""
    until = rule.suspended_until
    if until is None or day <= until or ruleset.data_as_of > until:
        return None
    return (
        f"{rule.id}: its suspension ended on {until.isoformat()} according to data as of "
        f"{ruleset.data_as_of.isoformat()}, so the measure is treated as in force; the data may "
        "miss an extension of the suspension. Check MOFCOM before relying on this."
    )


def _check_references(rulesets: tuple[RuleSet, ...], predicates: dict[str, Condition]) -> None:
    """Every predicate exists and none refers to itself, directly or not."""
    for ruleset in rulesets:
        named = [(f"predicate {n}", c) for n, c in ruleset.predicates.items()]
        named += [(f"rule {r.id}", r.when) for r in ruleset.rules if r.when is not None]
        for where, condition in named:
            missing = condition.predicates() - predicates.keys()
            if missing:
                raise RulesError(f"{ruleset.ruleset}: {where}: unknown predicate(s) {sorted(missing)}")

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in path:
            raise RulesError(f"predicate cycle: {' -> '.join((*path, name))}")
        for child in predicates[name].predicates():
            visit(child, (*path, name))

    for name in predicates:
        visit(name, ())


def load_rules(directory: Path, label: str | None = None) -> RuleEngine:
    """Load and validate every ``*.yaml`` rule set in ``directory``; raise RulesError if bad.

    The engine's version is the label (``rules/VERSION``, e.g. ``cn-2026.3``) plus a SHA-256
    over the names and bytes of the YAML files.
    """
    paths = sorted(directory.glob("*.yaml"))
    if not paths:
        raise RulesError(f"no *.yaml rule sets in {directory}")
    digest = hashlib.sha256()
    rulesets: list[RuleSet] = []
    for path in paths:
        raw_bytes = path.read_bytes()
        digest.update(path.name.encode() + b"\0" + raw_bytes)
        rulesets.append(_parse(path, raw_bytes))
    _check_unique(rulesets, paths)
    if label is None:
        version_file = directory / "VERSION"
        label = version_file.read_text().strip() if version_file.exists() else "rules"
    return RuleEngine(rulesets, f"{label}+sha256:{digest.hexdigest()[:12]}")


def _parse(path: Path, raw_bytes: bytes) -> RuleSet:
    try:
        data = yaml.safe_load(raw_bytes)
    except yaml.YAMLError as error:
        raise RulesError(f"{path.name}: not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise RulesError(f"{path.name}: expected a mapping with ruleset, version, rules")
    try:
        return RuleSet.model_validate(data)
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False)[0]
        loc = first["loc"]
        where = ".".join(map(str, loc))
        if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
            rules = data.get("rules") or []
            rule_id = rules[loc[1]].get("id", "?") if isinstance(rules[loc[1]], dict) else "?"
            where = f"rule {rule_id} ({where})"
        more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
        raise RulesError(f"{path.name}: {where}: {first['msg']}{more}") from None


def _check_unique(rulesets: list[RuleSet], paths: list[Path]) -> None:
    seen_rules: dict[str, str] = {}
    seen_sets: dict[str, str] = {}
    seen_predicates: dict[str, str] = {}
    fallbacks = []
    for ruleset, path in zip(rulesets, paths, strict=True):
        if ruleset.ruleset in seen_sets:
            first = seen_sets[ruleset.ruleset]
            raise RulesError(f"{path.name}: ruleset {ruleset.ruleset!r} already in {first}")
        seen_sets[ruleset.ruleset] = path.name
        for name in ruleset.predicates:
            if name in seen_predicates:
                raise RulesError(f"{path.name}: predicate {name!r} already in {seen_predicates[name]}")
            seen_predicates[name] = path.name
        for rule in ruleset.rules:
            if rule.id in seen_rules:
                raise RulesError(f"{path.name}: rule {rule.id} already defined in {seen_rules[rule.id]}")
            seen_rules[rule.id] = path.name
            if rule.fallback:
                fallbacks.append(f"{path.name}: rule {rule.id}")
    if len(fallbacks) > 1:
        raise RulesError(f"more than one fallback rule: {fallbacks}")
