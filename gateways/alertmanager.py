"""Prometheus Alertmanager webhooks (payload version 4) translated into alerts.

Each alert of a notification is keyed by its fingerprint and start time: Alertmanager resends
a firing alert on every group interval (a duplicate at intake), and the same alert firing again
after it resolved starts anew (a new alert). A `resolved` alert names the key to resolve.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

import orjson
from pydantic import AwareDatetime, ConfigDict, Field, ValidationError

from dispatch.config.model import Config
from dispatch.intake.alerts import AlertIn, AlertKind
from dispatch.intake.wire_limits import ShallowExtras, TimeWindow, free_form
from dispatch.shared.errors import InvalidInput
from dispatch.shared.geo import Position

DEFAULT_SOURCE = "alertmanager"
ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)
"""Go's zero time: Alertmanager's endsAt of an alert with no end known."""
TITLE_MAX = 200
DESCRIPTION_MAX = 4000


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class AlertmanagerAlert(ShallowExtras):
    """One alert of a notification, as Alertmanager sends it (fields added later are kept, unread)."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)

    status: AlertStatus = Field(strict=False, description="firing or resolved.")
    labels: Annotated[dict[str, str], free_form()] = Field(
        description=(
            "alertname, severity (critical/warning/info), lat and lon, jurisdiction, category, and any other."
        )
    )
    annotations: Annotated[dict[str, str], free_form()] = Field(
        default_factory=dict, description="summary → title, description."
    )
    startsAt: AwareDatetime = Field(
        strict=False, description="RFC 3339; with the fingerprint, the alert's key."
    )
    endsAt: AwareDatetime | None = Field(
        None,
        strict=False,
        description="RFC 3339; the zero time (0001-01-01T00:00:00Z) or a forecast while firing.",
    )
    generatorURL: str | None = Field(None, max_length=2000)
    fingerprint: str = Field(min_length=1, max_length=128, description="Alertmanager's hash of the labels.")


class AlertmanagerWebhook(ShallowExtras):
    """A webhook notification (Alertmanager's `webhook_config`, payload version 4)."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)

    version: Literal["4"] = Field(description="The payload version; only 4 is understood.")
    groupKey: str | None = Field(None, max_length=2000)
    truncatedAlerts: int = Field(0, ge=0, description="Alerts left out by `max_alerts`.")
    status: AlertStatus = Field(strict=False, description="resolved when every alert of the group is.")
    receiver: str = Field(max_length=128, description="The receiver's name: the alerts' source.")
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str | None = Field(None, max_length=2000)
    alerts: list[AlertmanagerAlert] = Field(min_length=1, description="The group's alerts.")


@dataclass(frozen=True)
class Notice:
    """One alert of the notification: fire it (with `alert`) or resolve its key."""

    status: AlertStatus
    source: str
    source_event_id: str
    raw: str
    alert: AlertIn | None = None


def check_times(webhook: AlertmanagerWebhook, window: TimeWindow) -> None:
    """InvalidInput naming the first time outside the window; a firing endsAt is a forecast."""
    for index, each in enumerate(webhook.alerts):
        where = f"alerts.{index}."
        window.check(each.startsAt, f"{where}startsAt")
        if each.endsAt is not None and each.endsAt != ZERO_TIME:
            window.check(each.endsAt, f"{where}endsAt", forecast=each.status == AlertStatus.FIRING)


def translate(webhook: AlertmanagerWebhook, config: Config) -> list[Notice]:
    """A validated notification → one notice per alert, in order; InvalidInput names the field."""
    source = source_of(webhook)
    notices: list[Notice] = []
    for index, each in enumerate(webhook.alerts):
        event_id = f"{each.fingerprint}@{_rfc3339(each.startsAt)}"
        raw = orjson.dumps(each.model_dump(mode="json")).decode()
        alert = None
        if each.status == AlertStatus.FIRING:
            alert = _alert(each, source, event_id, config, f"alerts.{index}.")
        notices.append(Notice(each.status, source, event_id, raw, alert))
    return notices


def source_of(webhook: AlertmanagerWebhook) -> str:
    """The source of every alert of the notification: its receiver's name."""
    return webhook.receiver.strip() or DEFAULT_SOURCE


def _alert(each: AlertmanagerAlert, source: str, event_id: str, config: Config, where: str) -> AlertIn:
    settings = config.alertmanager
    labels = each.labels
    alertname = labels.get("alertname", "")
    category = labels.get("category")
    if category not in config.category_by_id:
        category = settings.categories.get(alertname, settings.default_category)
    if category is None:
        raise InvalidInput(
            f"no category for alertname {alertname!r}: add a category label or map it in "
            "alertmanager.categories",
            field=f"{where}labels.alertname",
        )
    location = _position(labels, where)
    jurisdiction = labels.get("jurisdiction")
    if jurisdiction is not None and jurisdiction not in config.jurisdiction_by_id:
        raise InvalidInput(f"unknown jurisdiction {jurisdiction!r}", field=f"{where}labels.jurisdiction")
    if location is None and jurisdiction is None:
        jurisdiction = settings.default_jurisdiction
        if jurisdiction is None:
            raise InvalidInput(
                "no lat/lon or jurisdiction label, and no alertmanager.default_jurisdiction",
                field=f"{where}labels",
            )
    severity = settings.severities.get(labels.get("severity", "").strip().lower())
    title = each.annotations.get("summary") or alertname or "Alertmanager alert"
    attributes: dict[str, Any] = {
        "alertmanager": {
            "labels": labels,
            "annotations": each.annotations,
            "startsAt": _rfc3339(each.startsAt),
            "generatorURL": each.generatorURL,
            "fingerprint": each.fingerprint,
        }
    }
    try:
        return AlertIn(
            source=source,
            source_event_id=event_id,
            kind=AlertKind.MONITORING,
            category=category,
            severity=int(severity) if severity is not None else None,
            location=location,
            jurisdiction=jurisdiction,
            observed_at=each.startsAt,
            title=_clip(title, TITLE_MAX),
            description=_clip(each.annotations.get("description"), DESCRIPTION_MAX),
            attributes=attributes,
        )
    except ValidationError as err:
        problem = err.errors()[0]
        field = where + ".".join(str(part) for part in problem["loc"])
        raise InvalidInput(f"{field}: {problem['msg']}", field=field) from err


def _position(labels: dict[str, str], where: str) -> Position | None:
    lat, lon = labels.get("lat"), labels.get("lon")
    if lat is None and lon is None:
        return None
    if lat is None or lon is None:
        missing = "lat" if lat is None else "lon"
        raise InvalidInput("labels lat and lon go together", field=f"{where}labels.{missing}")
    try:
        return Position(lat=float(lat), lon=float(lon))
    except (ValueError, ValidationError) as err:
        raise InvalidInput(
            f"labels lat={lat!r} lon={lon!r} are not a WGS-84 point", field=f"{where}labels.lat"
        ) from err


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _clip(text: str | None, limit: int) -> str | None:
    if text is None:
        return None
    return text if len(text) <= limit else text[: limit - 1] + "…"
