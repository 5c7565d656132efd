"""The served OpenAPI document against the live server: schemathesis fuzzes every operation.

For each role, every operation that role may call is fed requests generated from the
document (bodies, path and query parameters; valid ones, then invalid ones), sent to a real
loopback server with that role's token. Every answer must be no 5xx, a documented status, the
documented content type and a body valid against the documented schema. Derandomized, so a
run is repeatable.
"""

from __future__ import annotations

import asyncio
import copy
import importlib
import pkgutil
from collections.abc import Callable
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

import dispatch
import gateways
import state_machines
import web
from tests.conftest import Harness
from tests.factories import EAST_N, OUTSIDE, WEST_N, WEST_S, alert

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 25
SEEDED_IDS = 8
"""In positive runs path ids stay within the seeded rows (and a few beyond), to reach real rows."""

# Hypothesis only drives the generation here: no example database (repeatable), no deadline
# (the server commits with fsync), no shrinking pass after a failure (the report is enough).
CONTRACT = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def _load_every_product_module() -> None:
    """Hypothesis also draws constants it finds in the loaded modules of the project: load them
    all, so the data generated is the same whether this file runs alone or in the whole suite."""
    for package in (dispatch, gateways, state_machines, web):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            # Alembic's environment and revisions run only inside an Alembic command.
            if not module.name.endswith(".__main__") and not module.name.startswith(
                "dispatch.storage.migrations."
            ):
                importlib.import_module(module.name)


_load_every_product_module()

ROLES = {
    "admin": {"role": "admin"},
    "dispatcher": {"role": "dispatcher", "name": "west-desk", "jurisdiction": "west"},
    "gateway": {"role": "gateway", "name": "gauges"},
    "responder": {"role": "responder", "name": "grid-west-n-1", "responder": "grid-west-n-1"},
}


async def _seed(server: Harness) -> None:
    """Incidents 1…5 with tasks (one for the responder), and urban co-handling the first two (their
    department tasks 1 and 2), so small ids hit real rows."""
    for number, place in enumerate([WEST_N, WEST_S, EAST_N, OUTSIDE, WEST_N]):
        await server.post_alert(alert(f"seed-{number}", source=f"seed-{number}", location=place))
    for incident_id in (1, 2):
        await server.incident_trigger(incident_id, "add_department", {"department": "urban"})


def _near_seeded_rows(document: dict[str, Any]) -> dict[str, Any]:
    aimed = copy.deepcopy(document)
    for path_item in aimed["paths"].values():
        for operation in path_item.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and parameter["schema"].get("type") == "integer":
                    parameter["schema"]["maximum"] = SEEDED_IDS
    return aimed


def _fuzz(schema: Any, base_url: str, token: str, role: str, mode: GenerationMode) -> Callable[[], list[str]]:
    """A blocking run over the operations `role` may call: it runs off the server's loop."""

    def run() -> list[str]:
        failures: list[str] = []
        headers = {"Authorization": f"Bearer {token}"}
        with requests.Session() as session:
            for result in schema.get_all_operations():
                operation = result.ok()
                if role not in operation.definition.raw.get("x-roles", ["admin"]):
                    continue

                @CONTRACT
                @given(case=operation.as_strategy(mode))
                def check(case: schemathesis.Case[Any]) -> None:
                    case.call_and_validate(
                        base_url=base_url, session=session, headers=headers, checks=CHECKS, timeout=30
                    )

                try:
                    check()
                except Unsatisfiable:
                    pass  # negative mode: nothing to get wrong (no parameters, no body)
                except Exception as err:  # one report per operation; all operations run
                    failures.append(f"{operation.label}: {err}")
        return failures

    return run


# Valid requests for every role (scopes and role gates differ); invalid ones are refused by the
# same validation whoever sends them, so the admin's run, over every operation, covers them.
RUNS = [
    *((role, GenerationMode.POSITIVE) for role in sorted(ROLES)),
    ("admin", GenerationMode.NEGATIVE),
]


@pytest.mark.parametrize(("role", "mode"), RUNS, ids=[f"{role}-{mode}" for role, mode in RUNS])
async def test_openapi_contract_every_operation_answers_as_documented(
    server: Harness, role: str, mode: GenerationMode
) -> None:
    await _seed(server)
    response = await server.client.get("/api/openapi.json")
    assert response.status == 200
    document = await response.json()
    if mode == GenerationMode.POSITIVE:
        document = _near_seeded_rows(document)
    schema = schemathesis.openapi.from_dict(document)
    base_url = str(server.client.make_url("")).rstrip("/")

    failures = await asyncio.to_thread(_fuzz(schema, base_url, server.token(**ROLES[role]), role, mode))

    assert not failures, "\n\n".join(failures)
