"""Links to other servers: the prefecture above, the counties below, departments' webhooks."""

from __future__ import annotations

import re
from collections.abc import Mapping

from pydantic import Field, field_validator, model_validator

from dispatch.config.values import Identifier, Seconds, Severity
from dispatch.shared.geo import Strict

_HTTP_URL = re.compile(r"^https?://[^/?#\s]+(/[^?#\s]*)?$")
_ENVIRONMENT_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


UPSTREAM = "upstream"
"""The destination of the prefecture above a county (config `upstream`)."""


def county_destination(county_id: str) -> str:
    """A county below a prefecture (config `downstream`)."""
    return f"county:{county_id}"


def department_destination(department_id: str) -> str:
    """A department's webhook (config `departments[].webhook`)."""
    return f"department:{department_id}"


class Retry(Strict):
    """How long the outbox waits before trying a destination again: doubling from first to max."""

    first: Seconds = Field(1.0, description="Wait after the first failed attempt.")
    max: Seconds = Field(60.0, description="Longest wait between attempts.")

    @model_validator(mode="after")
    def _ordered(self) -> Retry:
        if self.max < self.first:
            raise ValueError(f"max: {self.max}s is shorter than first ({self.first}s)")
        return self


class Endpoint(Strict):
    """Another server the outbox posts to."""

    url: str = Field(description="Its base URL, http(s)://host[:port][/prefix]; paths are appended.")
    token_env: str | None = Field(
        None,
        description=(
            "Name of the environment variable holding the bearer token it issued to us (never "
            "the token itself in this file); none: no Authorization header."
        ),
    )
    retry: Retry = Field(default_factory=Retry, description="Backoff while it does not answer.")
    timeout: Seconds = Field(10.0, description="Seconds one attempt may take before it counts as failed.")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not _HTTP_URL.match(value):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")

    @field_validator("token_env")
    @classmethod
    def _environment_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENVIRONMENT_NAME.match(value):
            raise ValueError(f"{value!r} is not an environment variable name (A-Z, 0-9, _)")
        return value


class Upstream(Endpoint):
    """On a county: the prefecture's dispatch server, sent CAP 1.2 messages (issue 12 §2)."""

    sender: Identifier | None = Field(None, description="CAP sender; none: the top jurisdiction's id.")
    send_severity: Severity = Field(
        Severity.II, description="Incidents of severity I up to this one go up at once (2: I and II)."
    )


class Downstream(Endpoint):
    """On a prefecture: a county below it, sent instructions."""

    county: Identifier = Field(description="The county's id (a jurisdiction of this config).")


class Webhook(Endpoint):
    """A department's webhook: told in JSON when the department is pulled into an incident."""


def link_tokens(
    upstream: Upstream | None,
    downstream: list[Downstream],
    webhooks: Mapping[str, Webhook],
    environment: Mapping[str, str],
) -> dict[str, str]:
    """Destination → bearer token, read once at start from the environment the server got."""
    endpoints: dict[str, Endpoint] = {}
    if upstream is not None:
        endpoints[UPSTREAM] = upstream
    endpoints |= {county_destination(link.county): link for link in downstream}
    endpoints |= {department_destination(department): hook for department, hook in webhooks.items()}
    return {
        destination: environment[endpoint.token_env]
        for destination, endpoint in endpoints.items()
        if endpoint.token_env is not None and environment.get(endpoint.token_env)
    }
