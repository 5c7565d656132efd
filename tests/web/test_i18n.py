"""The screens' words: both languages complete, every name the server sends translated."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dispatch.access.auth import Role
from dispatch.config.model import Tier
from dispatch.events.catalog import EVENT_TYPES
from dispatch.intake.alerts import AlertKind
from dispatch.shared.errors import DispatchError
from gateways import cap  # noqa: F401 - registers its error classes
from state_machines import (
    DepartmentTaskState,
    DepartmentTaskTrigger,
    IncidentState,
    IncidentTrigger,
    TaskState,
    TaskTrigger,
)
from tests.conftest import Harness
from web import errors, i18n, sessions  # noqa: F401 - sessions registers its error classes

STATIC = Path(__file__).resolve().parents[2] / "web" / "static"


def _error_codes() -> set[str]:
    def subclasses(cls: type[DispatchError]) -> set[type[DispatchError]]:
        found = set(cls.__subclasses__())
        return found | {each for child in found for each in subclasses(child)}

    codes = {cls.code for cls in subclasses(DispatchError)} | {DispatchError.code}
    codes |= set(errors._CODES.values())
    # Written where they are raised (web/security.py, web/sessions.py, web/ws.py, web/health.py …).
    codes |= {"csrf", "too_many_attempts", "token_in_url", "internal", "not_ready", "upgrade_required"}
    codes |= {"not_text", "unknown_type", "already_authenticated", "unsupported_media_type"}
    codes |= {"token_expired", "token_revoked", "totp_required", "wrong_totp", "totp_not_enrolled"}
    codes |= {"request_timeout", "database_unavailable"}  # web/slow_clients.py, dispatch/shared/errors.py
    return codes


NAMES = {
    "incident_state": [each.value for each in IncidentState],
    "task_state": [each.value for each in TaskState],
    "tier": [each.value for each in Tier],
    "incident_trigger": [each.value for each in IncidentTrigger],
    "task_trigger": [each.value for each in TaskTrigger],
    "department_task_state": [each.value for each in DepartmentTaskState],
    "department_task_trigger": [each.value for each in DepartmentTaskTrigger],
    "event": list(EVENT_TYPES),
    "kind": [each.value for each in AlertKind],
    "error": sorted(_error_codes()),
    "severity": ["1", "2", "3", "4"],
    "responder_status": ["available", "busy", "off_duty", "offline"],
    "channel": ["websocket", "mqtt", "rest"],
    "alarm": [
        "escalated_to_you",
        "notified_all_tiers",
        "unanswered",
        "department_task_escalated",
        "instruction",
    ],
    "role": [each.value for each in Role],
}


def test_i18n_both_languages_have_the_same_words() -> None:
    chinese, english = i18n.table("zh-CN"), i18n.table("en")

    assert set(chinese) - set(english) == set()
    assert set(english) - set(chinese) == set()


@pytest.mark.parametrize("language", i18n.LANGUAGES)
@pytest.mark.parametrize("family", list(NAMES))
def test_i18n_every_name_the_server_sends_is_translated(language: str, family: str) -> None:
    words = i18n.table(language)

    missing = [name for name in NAMES[family] if f"{family}.{name}" not in words]

    assert missing == [], f"{language}: no words for {family}.{missing}"


def test_i18n_every_key_the_pages_ask_for_exists() -> None:
    words = i18n.table("zh-CN")
    asked: dict[str, str] = {}
    for path in STATIC.rglob("*.js"):
        for key in re.findall(
            r"""\bt\(\s*["']([a-z_]+\.[a-z0-9_.]+)["']""", path.read_text(encoding="utf-8")
        ):
            asked[key] = str(path.relative_to(STATIC))
    for path in STATIC.rglob("*.html"):
        for key in re.findall(
            r'data-i18n(?:-[a-z]+)?="([a-z_]+\.[a-z0-9_.]+)"', path.read_text(encoding="utf-8")
        ):
            asked[key] = str(path.relative_to(STATIC))

    missing = {key: where for key, where in asked.items() if key not in words}

    assert asked
    assert missing == {}


async def test_i18n_words_are_served_and_an_unknown_language_is_404(server: Harness) -> None:
    chinese = await server.client.get("/ui/i18n/zh-CN.json")
    unknown = await server.client.get("/ui/i18n/fr.json")

    assert chinese.status == 200
    assert (await chinese.json())["incident_state.reported"] == "新上报"
    assert unknown.status == 404
    assert (await unknown.json())["error"]["code"] == "not_found"
