"""The API contract: pydantic models validate every request and generate /openapi.json."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, request
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema

from service.problems import BadRequest, Unprocessable, UnsupportedMediaType

View = Callable[..., Any]
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Contract:
    """What an endpoint accepts and returns; read by the validator and the OpenAPI builder."""

    summary: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    path: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    auth: bool = False
    tags: tuple[str, ...] = ()


def endpoint(
    *,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    path: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    auth: bool = False,
    tags: tuple[str, ...] = (),
) -> Callable[[View], View]:
    """Validate the request against pydantic models and render the returned model as JSON.

    The view receives ``body=`` and/or ``query=`` model instances and its path arguments
    (validated by ``path`` when given); with ``auth`` the caller's organisation is in ``g.org``.
    It returns a model, ``(model, status)`` or a Response.
    """

    def decorate(view: View) -> View:
        summary = (view.__doc__ or view.__name__).strip().splitlines()[0]
        contract = Contract(summary, body, query, path, response, status, auth, tags)

        @functools.wraps(view)
        def wrapper(**path_args: Any) -> Response:
            if contract.auth:
                g.org = current_app.extensions["auth"].authenticate(request)
            if contract.path is not None:
                path_args = dict(_parse(contract.path, path_args, "path"))
            if contract.query is not None:
                path_args["query"] = _parse(contract.query, request.args.to_dict(), "query")
            if contract.body is not None:
                path_args["body"] = parse_json_body(contract.body)
            return render(view(**path_args), contract.status)

        wrapper.contract = contract  # type: ignore[attr-defined]
        return wrapper

    return decorate


def parse_json_body(model: type[M]) -> M:
    """Parse the request body as JSON into ``model`` (415, 400 or 422 problems otherwise)."""
    if not request.is_json:
        raise UnsupportedMediaType(
            f"Send the body as application/json, not {request.mimetype or 'no content type'!r}."
        )
    raw = request.get_data(cache=False)
    try:
        return model.model_validate_json(raw)
    except ValidationError as error:
        if any(e["type"] == "json_invalid" for e in error.errors()):
            raise BadRequest(f"Body is not valid JSON: {error.errors()[0]['msg']}.") from None
        raise _unprocessable(error, "body") from None


def _parse(model: type[M], data: dict[str, Any], where: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise _unprocessable(error, where) from None


def _unprocessable(error: ValidationError, where: str) -> Unprocessable:
    """A 422 problem listing every field error, without echoing large inputs back."""
    errors = [
        {"location": [where, *map(str, e["loc"])], "message": e["msg"], "type": e["type"]}
        for e in error.errors(include_url=False, include_input=False)
    ]
    first = errors[0]
    detail = f"{'.'.join(first['location'])}: {first['message']}"
    if len(errors) > 1:
        detail += f" (and {len(errors) - 1} more)"
    return Unprocessable(detail, errors=errors[:50])


def render(result: Any, status: int = 200) -> Response:
    """Serialise a view's result."""
    if isinstance(result, Response):
        return result
    if isinstance(result, tuple):
        result, status = result
    return Response(result.model_dump_json(), status=status, mimetype="application/json")


def openapi_spec(app: Flask, title: str, version: str) -> dict[str, Any]:
    """Build the OpenAPI 3.1 document from every endpoint's contract."""
    from service.schemas import Problem

    paths: dict[str, dict[str, Any]] = {}
    models: set[type[BaseModel]] = {Problem}
    operations = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        contract: Contract | None = getattr(app.view_functions[rule.endpoint], "contract", None)
        if contract is None:
            continue
        for m in (contract.body, contract.response):
            if m is not None:
                models.add(m)
        operations.append((rule, contract))

    _, defs = models_json_schema(
        [(m, "validation") for m in sorted(models, key=lambda m: m.__name__)],
        ref_template="#/components/schemas/{model}",
    )
    schemas = defs.get("$defs", {})

    def ref(model: type[BaseModel]) -> dict[str, str]:
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    problem = {"application/problem+json": {"schema": ref(Problem)}}
    for rule, contract in operations:
        path = rule.rule.replace("<", "{").replace(">", "}")
        path = "/".join(p.split(":")[-1] if p.startswith("{") else p for p in path.split("/"))
        path = path.replace("{path:", "{")
        path_props = contract.path.model_json_schema()["properties"] if contract.path else {}
        params = [
            {
                "name": arg,
                "in": "path",
                "required": True,
                "schema": {k: v for k, v in path_props.get(arg, {"type": "string"}).items() if k != "title"},
            }
            for arg in sorted(rule.arguments)
        ]
        if contract.query is not None:
            query_schema = contract.query.model_json_schema()
            for name, prop in query_schema.get("properties", {}).items():
                params.append({
                    "name": name,
                    "in": "query",
                    "required": name in query_schema.get("required", []),
                    "schema": {k: v for k, v in prop.items() if k != "title"},
                    "description": prop.get("description", ""),
                })
        responses: dict[str, Any] = {
            str(contract.status): {
                "description": "OK",
                **({"content": {"application/json": {"schema": ref(contract.response)}}}
                   if contract.response else {}),
            }
        }
        for code, text in _error_statuses(contract):
            responses[str(code)] = {"description": text, "content": problem}
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            op: dict[str, Any] = {
                "summary": contract.summary,
                "operationId": f"{rule.endpoint}_{method.lower()}",
                "parameters": params,
                "responses": responses,
                "tags": list(contract.tags),
            }
            if contract.body is not None:
                op["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": ref(contract.body)}},
                }
            if contract.auth:
                op["security"] = [{"bearer": []}, {"apiKey": []}]
            paths.setdefault(path, {})[method.lower()] = op

    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "Decision support for dual-use export control, not legal advice.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
    }


def _error_statuses(contract: Contract) -> list[tuple[int, str]]:
    """The problem responses an operation can give."""
    statuses = [(404, "Not found")]
    if contract.body is not None:
        statuses += [(400, "Malformed JSON"), (413, "Body too large"), (415, "Not JSON")]
    if contract.body is not None or contract.query is not None or contract.path is not None:
        statuses.append((422, "Validation error"))
    if contract.auth:
        statuses += [(401, "Missing or unknown API key"), (429, "Rate limit exceeded")]
    return statuses
