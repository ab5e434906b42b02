"""Party screening and rules API: POST /v1/parties/screen, GET /v1/rules."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Flask, current_app

from service.contract import endpoint
from service.parties import PartyScreener
from service.rules import RuleEngine, load_rules
from service.schemas.parties import (
    RuleInfo,
    RuleSetInfo,
    RulesQuery,
    RulesResponse,
    ScreenRequest,
    ScreenResponse,
    ScreenResult,
)

bp = Blueprint("parties_api", __name__)


def init_app(app: Flask) -> None:
    """Load the rule sets and the party screener once; a bad rule file stops the boot."""
    settings = app.extensions["settings"]
    rules = load_rules(settings.rules_dir)
    parties = PartyScreener.from_reference(
        app.extensions["reference"], threshold=settings.party_match_threshold
    )
    app.extensions["rules"] = rules
    app.extensions["parties"] = parties
    app.extensions["versions"]["rules"] = rules.version
    app.extensions["readiness"]["rules"] = lambda: "ok" if rules.rules else "no rules loaded"
    app.extensions["readiness"]["parties"] = (
        lambda: "ok" if parties.parties else "party lists are empty"
    )
    app.register_blueprint(bp)


@bp.post("/v1/parties/screen")
@endpoint(body=ScreenRequest, response=ScreenResponse, auth=True, tags=("parties",))
def screen(body: ScreenRequest) -> ScreenResponse:
    """Screen names against MOFCOM's Control and Watch Lists."""
    screener: PartyScreener = current_app.extensions["parties"]
    threshold = screener.threshold if body.threshold is None else body.threshold
    return ScreenResponse(
        threshold=threshold,
        results=[ScreenResult(name=n, hits=screener.screen(n, threshold)) for n in body.names],
        reference_data=current_app.extensions["reference"].version,
    )


@bp.get("/v1/rules")
@endpoint(query=RulesQuery, response=RulesResponse, tags=("rules",))
def rules(query: RulesQuery) -> RulesResponse:
    """The rule sets in force, with versions, citations and suspension dates."""
    engine: RuleEngine = current_app.extensions["rules"]
    day = query.as_of or date.today()
    return RulesResponse(
        version=engine.version,
        as_of=day,
        rulesets=[
            RuleSetInfo(
                ruleset=rs.ruleset,
                title=rs.title,
                version=rs.version,
                data_as_of=rs.data_as_of,
                rules=[
                    RuleInfo(
                        id=r.id,
                        title=r.title,
                        outcome=r.outcome,
                        citation=r.citation,
                        effective_from=r.effective_from,
                        suspended_from=r.suspended_from,
                        suspended_until=r.suspended_until,
                        in_force=r.in_force_on(day),
                    )
                    for r in rs.rules
                ],
            )
            for rs in engine.rulesets
        ],
    )
