"""The OpenAPI document and its page: complete, built from the handlers' models, public."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from pydantic import BaseModel

from dispatch.access.authz import DISPATCHER_TASK_TRIGGERS, INCIDENT_TRIGGERS, RESPONDER_TASK_TRIGGERS
from dispatch.intake.alerts import AlertBatch, AlertIn
from tests.conftest import Harness
from web.incidents import IncidentTriggerBody, TaskTriggerBody

# GET /ws upgrades to a WebSocket: its messages are described in README (WebSocket), not here.
NOT_HTTP_OPERATIONS = {("GET", "/ws")}


async def _document(server: Harness) -> dict[str, Any]:
    response = await server.client.get("/api/openapi.json")
    assert response.status == 200, await response.text()
    document: dict[str, Any] = await response.json()
    return document


def _component(document: dict[str, Any], reference: dict[str, Any]) -> dict[str, Any]:
    name = reference["$ref"].rsplit("/", 1)[-1]
    component: dict[str, Any] = document["components"]["schemas"][name]
    return component


async def test_openapi_describes_every_route(server: Harness) -> None:
    document = await _document(server)

    routed = {
        (route.method, route.resource.canonical)
        for route in server.client.app.router.routes()
        if route.method != "HEAD"
        and route.resource is not None
        and not isinstance(route.resource, web.StaticResource)
    }
    described = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert described == routed - NOT_HTTP_OPERATIONS
    tags = {tag for item in document["paths"].values() for each in item.values() for tag in each["tags"]}
    assert tags <= {tag["name"] for tag in document["tags"]}
    assert document["openapi"] == "3.1.0"


@pytest.mark.parametrize(
    ("method", "path", "models"),
    [
        ("post", "/api/v1/alerts", [AlertIn, AlertBatch]),
        ("post", "/api/v1/incidents/{id}/{trigger}", [IncidentTriggerBody]),
        ("post", "/api/v1/tasks/{id}/{trigger}", [TaskTriggerBody]),
    ],
)
async def test_openapi_request_bodies_are_the_models_the_handlers_validate_with(
    server: Harness, method: str, path: str, models: list[type[BaseModel]]
) -> None:
    document = await _document(server)

    schema = document["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]

    references = schema.get("anyOf", [schema])
    assert [reference["$ref"].rsplit("/", 1)[-1] for reference in references] == [
        model.__name__ for model in models
    ]
    for reference, model in zip(references, models, strict=True):
        component = _component(document, reference)
        assert list(component["properties"]) == list(model.model_fields)
        assert component["additionalProperties"] is False


async def test_openapi_triggers_and_config_ids_are_read_when_built(server: Harness) -> None:
    document = await _document(server)

    def enum(path: str, name: str) -> list[str]:
        parameters = document["paths"][path]["post"]["parameters"]
        values: list[str] = next(each for each in parameters if each["name"] == name)["schema"]["enum"]
        return values

    assert enum("/api/v1/incidents/{id}/{trigger}", "trigger") == sorted(INCIDENT_TRIGGERS)
    assert enum("/api/v1/tasks/{id}/{trigger}", "trigger") == sorted(
        RESPONDER_TASK_TRIGGERS | DISPATCHER_TASK_TRIGGERS
    )
    category = document["components"]["schemas"]["AlertIn"]["properties"]["category"]
    assert category["enum"] == [each.id for each in server.config.categories]
    # Responses may name ids a later config dropped: only requests are held to the config.
    assert "enum" not in document["components"]["schemas"]["IncidentOut"]["properties"]["category"]


@pytest.mark.parametrize(
    ("method", "path", "roles"),
    [
        ("post", "/api/v1/alerts", ["admin", "dispatcher", "gateway"]),
        ("get", "/api/v1/incidents", ["admin", "dispatcher"]),
        ("post", "/api/v1/tasks/{id}/{trigger}", ["admin", "dispatcher", "responder"]),
        ("get", "/healthz", None),
        ("get", "/api/openapi.json", None),
        ("get", "/api/docs", None),
    ],
)
async def test_openapi_security_follows_the_authz_table(
    server: Harness, method: str, path: str, roles: list[str] | None
) -> None:
    document = await _document(server)

    described = document["paths"][path][method]

    scheme = document["components"]["securitySchemes"]["bearer"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert described.get("x-roles") == roles
    if roles is None:
        assert described["security"] == []
        assert "401" not in described["responses"]
    else:
        assert "security" not in described  # the document's default: bearer
        assert {"401", "403"} <= set(described["responses"])
