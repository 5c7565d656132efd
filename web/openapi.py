"""OpenAPI 3.1 of the HTTP API, built from the routes and the models the handlers validate with.

Each handler carries an `@operation(...)` naming its request model (the very one it
validates with), its query model (the very one web/query.py parses with), its response types
(the ones the queries build: dispatch/storage/wire.py, or web/schemas.py) and the authz
actions it needs (web/security.py's authz_middleware checks them). The document is
assembled from `app.router` when first asked for (web/docs.py serves it), so triggers,
roles and the config's ids are read then, never copied.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from pydantic import TypeAdapter
from pydantic.json_schema import JsonSchemaMode

from dispatch.access.auth import Role
from dispatch.access.authz import ROLE_ACTIONS, Action
from dispatch.config.model import Config
from web.errors import ErrorBody
from web.query import MAX_ID, Query

REF_TEMPLATE = "#/components/schemas/{model}"

H = TypeVar("H", bound=Callable[..., Any])

ERROR_DESCRIPTIONS = {
    400: "The body is not JSON, or does not decode by its Content-Encoding.",
    401: "No bearer token, or an unknown one.",
    403: "The caller's role may not do this (or its gateway token does not speak for the alert's source).",
    404: "No such resource within the caller's jurisdiction subtree.",
    409: "The trigger is not allowed now; `state` and `allowed` say what is.",
    413: "The body, or the batch, is too large.",
    415: "Content-Type is not JSON (application/json), or Content-Encoding is not gzip or deflate.",
    422: "A field or parameter is invalid; `field` names it.",
    429: "Too many wrong passwords in a row: wait `retry_after` seconds (also the Retry-After header).",
    503: "Not ready.",
}

TAGS = {
    "alerts": "Alert intake from gateways, sensors and dispatchers.",
    "incidents": "What dispatchers list, open and act on.",
    "tasks": "Responders' tasks and their triggers.",
    "department tasks": "Co-handling departments' parts of incidents (协办) and their sub-centers' queues.",
    "events": "The append-only event log.",
    "responders": "Units, their status and position.",
    "health": "Liveness and readiness.",
    "docs": "This document and its page.",
    "sessions": "People logging in at the screens (a session cookie and its CSRF token).",
    "screens": "The people's pages and what they draw: the console, the tablet app, the big screen.",
    "link": "The prefecture link: a county's CAP up, instructions down, acknowledgements back.",
}

# Request fields whose values must be ids of the running config; the document lists them.
CONFIG_IDS: dict[str, Callable[[Config], list[str]]] = {
    "category": lambda config: [category.id for category in config.categories],
    "jurisdiction": lambda config: [node.id for node in config.jurisdictions],
    "responder_id": lambda config: [responder.id for responder in config.responders],
    "department": lambda config: [department.id for department in config.departments],
}


@dataclass(frozen=True)
class Media:
    """A response that is not one of our JSON models."""

    content_type: str
    schema: Mapping[str, Any]


@dataclass(frozen=True)
class PathParameter:
    description: str
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "string"})
    values: Callable[[], Iterable[str]] | None = None
    """An enum read when the document is built (a set that may grow)."""


def identifier(what: str) -> PathParameter:
    return PathParameter(f"The {what}'s id.", {"type": "integer", "minimum": 1, "maximum": MAX_ID})


@dataclass(frozen=True)
class Operation:
    summary: str
    tag: str
    actions: tuple[Action, ...]
    """Any one of them admits the caller (dispatch/access/authz.py); none means public.

    web/security.py's authz_middleware checks them before the handler runs."""
    service_decides: bool = False
    """The action depends on the request (a trigger): the service checks it, not the middleware."""
    description: str = ""
    body: Any = None
    """A model, or a union of models, the handler validates the JSON body with."""
    body_required: bool = True
    query: type[Query] | None = None
    path: Mapping[str, PathParameter] = field(default_factory=dict)
    responses: Mapping[int, Any] = field(default_factory=dict)
    """Status → a model, a union of models, or a `Media`."""
    errors: tuple[int, ...] = ()
    """Statuses answered with an ErrorBody, besides those implied (401, 403, body errors)."""


def operation(
    summary: str,
    *,
    tag: str,
    actions: Iterable[Action] = (),
    service_decides: bool = False,
    description: str = "",
    body: Any = None,
    body_required: bool = True,
    query: type[Query] | None = None,
    path: Mapping[str, PathParameter] | None = None,
    responses: Mapping[int, Any],
    errors: Iterable[int] = (),
) -> Callable[[H], H]:
    """Describe a handler for the OpenAPI document and for authz_middleware; the handler is unchanged."""
    described = Operation(
        summary=summary,
        tag=tag,
        actions=tuple(actions),
        service_decides=service_decides,
        description=description,
        body=body,
        body_required=body_required,
        query=query,
        path=path or {},
        responses=responses,
        errors=tuple(errors),
    )

    def mark(handler: H) -> H:
        handler.__openapi__ = described  # type: ignore[attr-defined]
        return handler

    return mark


def described(handler: Any) -> Operation | None:
    found = getattr(handler, "__openapi__", None)
    return found if isinstance(found, Operation) else None


def roles(actions: Iterable[Action]) -> list[str]:
    """The roles a token may have to be let in; the server's own (system) has no token."""
    wanted = set(actions)
    return sorted(
        role.value for role, allowed in ROLE_ACTIONS.items() if wanted & allowed and role != Role.SYSTEM
    )


# The document ---------------------------------------------------------------------------------


def build(app: web.Application, config: Config) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every described route of `app`."""
    routes = [
        (route.method.lower(), route.resource.canonical, found)
        for route in app.router.routes()
        if route.method != "HEAD"
        and route.resource is not None
        and (found := described(route.handler)) is not None
    ]
    schemas, components = _schemas(operation for _, _, operation in routes)
    request_only = _reachable(components, (schemas[key] for key in schemas if key[0] == "request"))
    request_only -= _reachable(components, (schemas[key] for key in schemas if key[0] == "response"))
    for name in request_only:
        _restrict_to_config(components[name], config)

    paths: dict[str, dict[str, Any]] = {}
    for method, path, described_operation in routes:
        paths.setdefault(path, {})[method] = _operation(
            described_operation, method, path, schemas, components, config
        )
    for key, schema in schemas.items():
        if key[0] == "query":  # inlined as parameters, not a component
            components.pop(_name(schema), None)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "dispatch",
            "version": "1",
            "description": (
                "Three-tier emergency dispatch: alert intake, incidents, tasks, the event log. "
                "Send `Authorization: Bearer <token>` (`dispatch token issue`). Every error is "
                '`{"error": {"code", "message", "field"}}`.'
            ),
        },
        "tags": [{"name": name, "description": text} for name, text in TAGS.items()],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token printed by `dispatch token issue --role R --name N`.",
                },
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "dispatch_session",
                    "description": (
                        "A person's login (POST /api/v1/session). Changes made with it also need the "
                        "session's `X-CSRF-Token` header."
                    ),
                },
            },
        },
        "security": [{"bearer": []}, {"session": []}],
    }


SchemaKey = tuple[str, int]
"""("request" | "response" | "query", id of the described type)."""


def _schemas(
    operations: Iterable[Operation],
) -> tuple[dict[SchemaKey, dict[str, Any]], dict[str, Any]]:
    """JSON Schemas of every body, response and query model, sharing one set of components."""
    inputs: list[tuple[SchemaKey, JsonSchemaMode, TypeAdapter[Any]]] = []
    seen: set[SchemaKey] = set()

    def add(kind: str, described_type: Any) -> None:
        key = (kind, id(described_type))
        if described_type is None or isinstance(described_type, Media) or key in seen:
            return
        seen.add(key)
        inputs.append((key, "validation", TypeAdapter(described_type)))

    add("response", ErrorBody)
    for each in operations:
        add("request", each.body)
        add("query", each.query)
        for model in each.responses.values():
            add("response", model)
    by_key, definitions = TypeAdapter.json_schemas(inputs, ref_template=REF_TEMPLATE)
    schemas = {key: value for (key, _mode), value in by_key.items()}
    return schemas, dict(definitions.get("$defs", {}))


def _operation(
    described_operation: Operation,
    method: str,
    path: str,
    schemas: dict[SchemaKey, dict[str, Any]],
    components: dict[str, Any],
    config: Config,
) -> dict[str, Any]:
    each = described_operation
    handler_roles = roles(each.actions)
    description = each.description
    if handler_roles:
        description = f"{description}\n\nRoles: {', '.join(handler_roles)}.".strip()
    result: dict[str, Any] = {
        "operationId": f"{method}_{path.strip('/').replace('/', '_').replace('{', '').replace('}', '')}",
        "summary": each.summary,
        "description": description,
        "tags": [each.tag],
    }
    if handler_roles:
        result["x-roles"] = handler_roles
    else:
        result["security"] = []

    parameters: list[dict[str, Any]] = []
    for name, parameter in each.path.items():
        schema = dict(parameter.schema)
        if parameter.values is not None:
            schema = {"type": "string", "enum": sorted(parameter.values())}
        parameters.append(
            {
                "name": name,
                "in": "path",
                "required": True,
                "description": parameter.description,
                "schema": schema,
            }
        )
    if each.query is not None:
        parameters.extend(_query_parameters(schemas[("query", id(each.query))], components, config))
    if parameters:
        result["parameters"] = parameters

    errors = set(each.errors)
    if handler_roles:
        errors |= {401, 403}
    if each.body is not None:
        errors |= {400, 413, 415, 422}
        result["requestBody"] = {
            "required": each.body_required,
            "content": {"application/json": {"schema": schemas[("request", id(each.body))]}},
        }
    responses: dict[str, Any] = {}
    for status, model in each.responses.items():
        responses[str(status)] = _response(_status_description(status, model), model, schemas)
    for status in sorted(errors - set(each.responses)):
        responses[str(status)] = _response(ERROR_DESCRIPTIONS[status], ErrorBody, schemas)
    result["responses"] = dict(sorted(responses.items()))
    return result


def _status_description(status: int, model: Any) -> str:
    if status in ERROR_DESCRIPTIONS:
        return ERROR_DESCRIPTIONS[status]
    doc: str | None = model.__dict__.get("__doc__") if isinstance(model, type) else None
    if doc:
        return doc.strip().splitlines()[0]
    return {200: "OK.", 202: "Accepted: committed."}.get(status, "OK.")


def _response(description: str, model: Any, schemas: dict[SchemaKey, dict[str, Any]]) -> dict[str, Any]:
    if isinstance(model, Media):
        return {"description": description, "content": {model.content_type: {"schema": dict(model.schema)}}}
    schema = schemas[("response", id(model))]
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _query_parameters(
    schema: dict[str, Any], components: dict[str, Any], config: Config
) -> list[dict[str, Any]]:
    """A query model's fields as parameters."""
    model = components[_name(schema)]
    required = set(model.get("required", ()))
    parameters = []
    for field_name, field_schema in model["properties"].items():
        value = _without_null(field_schema)
        value.pop("title", None)
        description = value.pop("description", "")
        if field_name in CONFIG_IDS:
            value = _with_enum(value, CONFIG_IDS[field_name](config))
        parameters.append(
            {
                "name": field_name,
                "in": "query",
                "required": field_name in required,
                "description": description,
                "schema": value,
            }
        )
    return parameters


def _name(reference: dict[str, Any]) -> str:
    name: str = reference["$ref"].rsplit("/", 1)[-1]
    return name


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent or has a value: `X | None` is just X on the wire."""
    choices = [each for each in schema.get("anyOf", ()) if each != {"type": "null"}]
    if len(choices) == 1:
        rest = {key: value for key, value in schema.items() if key not in ("anyOf", "default")}
        return {**choices[0], **rest}
    return dict(schema)


def _with_enum(schema: dict[str, Any], values: list[str]) -> dict[str, Any]:
    if schema.get("type") == "string":
        return {**schema, "enum": values}
    if "anyOf" in schema:
        return {**schema, "anyOf": [_with_enum(each, values) for each in schema["anyOf"]]}
    return schema


def _restrict_to_config(component: dict[str, Any], config: Config) -> None:
    properties = component.get("properties", {})
    for name, values in CONFIG_IDS.items():
        if name in properties:
            properties[name] = _with_enum(properties[name], values(config))


def _reachable(components: dict[str, Any], roots: Iterable[Any]) -> set[str]:
    """Names of the components that `roots` refer to, directly or through other components."""
    found: set[str] = set()
    pending = list(roots)
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
                name = ref.rsplit("/", 1)[-1]
                if name not in found and name in components:
                    found.add(name)
                    pending.append(components[name])
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return found
