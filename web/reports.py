"""After-action reading: a period's incidents as CSV, and one alert with its raw message."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import AfterValidator, Field

from dispatch.access import authz
from dispatch.access.authz import Action
from dispatch.config.model import Config, Tier
from dispatch.shared.clock import to_rfc3339
from dispatch.shared.errors import InvalidInput, NotFound
from dispatch.storage import queries
from dispatch.storage.wire import AlertWithRaw
from dispatch.views import reports
from web import i18n
from web.errors import json_response
from web.incidents import parse_int
from web.keys import RUNTIME
from web.openapi import Media, identifier, operation
from web.query import Query, Rfc3339, parse_query
from web.security import PRINCIPAL

MAX_PERIOD_S = 366 * 86_400.0
BOM = "\ufeff"  # so that Excel opens the Chinese columns as UTF-8


def _language(value: str) -> str:
    if value not in i18n.LANGUAGES:
        raise ValueError(f"one of {', '.join(i18n.LANGUAGES)}")
    return value


class ExportQuery(Query):
    since: Rfc3339 = Field(description="Incidents opened at or after this time (RFC 3339).")
    until: Rfc3339 | None = Field(None, description="…and before this time; default now.")
    lang: Annotated[str, AfterValidator(_language)] = Field(
        "zh-CN", description="Words of the header and the names: zh-CN or en."
    )


COLUMNS = (
    "id",
    "created_at",
    "category",
    "severity",
    "state",
    "town",
    "street",
    "owner_tier",
    "alerts",
    "tasks",
    "first_task_at",
    "accepted_at",
    "arrived_at",
    "resolved_at",
    "seconds_to_accept",
    "seconds_to_arrive",
    "summary",
)
HEADERS = {
    "zh-CN": (
        "事件编号",
        "上报时间",
        "类别",
        "等级",
        "状态",
        "镇街",
        "村社",
        "归属层级",
        "告警数",
        "任务数",
        "首次派单",
        "首次接单",
        "首次到场",
        "办结时间",
        "接单用时(秒)",
        "到场用时(秒)",
        "办结摘要",
    ),
    "en": (
        "Incident",
        "Reported",
        "Category",
        "Grade",
        "State",
        "Town",
        "Street",
        "Owner tier",
        "Alerts",
        "Tasks",
        "First task",
        "First accepted",
        "First on scene",
        "Resolved",
        "Seconds to accept",
        "Seconds to arrive",
        "Summary",
    ),
}


def _rows(config: Config, language: str, period: list[reports.IncidentTimes]) -> str:
    words = i18n.table(language)
    zone = ZoneInfo(config.timezone)

    def when(epoch: float | None) -> str:
        if epoch is None:
            return ""
        try:
            return datetime.fromtimestamp(float(epoch), zone).strftime("%Y-%m-%d %H:%M:%S")
        except (OverflowError, OSError, ValueError, TypeError):
            return to_rfc3339(epoch) or ""  # a stored time no calendar holds: shown, never a 500

    def seconds(start: float | None, end: float | None) -> str:
        return "" if start is None or end is None else f"{end - start:.0f}"

    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADERS[language])
    for each in period:
        row = each.row
        category = config.category_by_id.get(row["category"])
        category_name = row["category"]
        if category is not None:
            category_name = category.name_en or category.name if language == "en" else category.name
        path = (
            {node.tier: node.name for node in config.ancestors(row["jurisdiction_id"])}
            if row["jurisdiction_id"] in config.jurisdiction_by_id
            else {}
        )
        writer.writerow(
            [
                row["id"],
                when(row["created_at"]),
                category_name,
                words.get(f"severity.{row['severity']}", row["severity"]),
                words.get(f"incident_state.{row['state']}", row["state"]),
                path.get(Tier.TOWN, ""),
                path.get(Tier.STREET, ""),
                words.get(f"tier.{row['owner_tier']}", row["owner_tier"]),
                row["alert_count"],
                each.tasks,
                when(each.first_task_at),
                when(each.first_accepted_at),
                when(each.first_arrived_at),
                when(row["milestones"].get("resolved")),
                seconds(each.first_task_at, each.first_accepted_at),
                seconds(each.first_task_at, each.first_arrived_at),
                _cell(row["summary"] or ""),
            ]
        )
    return out.getvalue()


def _cell(text: str) -> str:
    """A spreadsheet runs a cell starting with = + - @ as a formula: never let a summary do that."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@operation(
    "Export a period's incidents (CSV)",
    tag="incidents",
    actions=[Action.READ_INCIDENTS],
    description=(
        "The incidents opened in the period within the caller's subtree, oldest first, with the "
        "times of the first task, acceptance, arrival and resolution (UTF-8 with BOM; times in "
        f"config `timezone`). At most {reports.MAX_EXPORT} incidents and 366 days."
    ),
    query=ExportQuery,
    responses={200: Media("text/csv", {"type": "string"})},
    errors=[422],
)
async def export_csv(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]
    runtime = request.app[RUNTIME]
    query = parse_query(request, ExportQuery)
    language = query.lang
    since = query.since.timestamp()
    until = query.until.timestamp() if query.until is not None else runtime.clock.now()
    if until <= since:
        raise InvalidInput("until must be after since", field="until")
    if until - since > MAX_PERIOD_S:
        raise InvalidInput("the period is longer than 366 days", field="until")
    scope, department = authz.scope(principal, runtime.config), authz.department(principal)
    count = await runtime.read(
        lambda connection: reports.count_in_period(connection, scope, since, until, department)
    )
    if count > reports.MAX_EXPORT:
        raise InvalidInput(
            f"{count} incidents in that period: at most {reports.MAX_EXPORT}, narrow it", field="until"
        )
    period = await runtime.read(
        lambda connection: reports.incidents_in_period(connection, scope, since, until, department)
    )
    body = _rows(runtime.config, language, period)
    name = datetime.fromtimestamp(since, ZoneInfo(runtime.config.timezone)).strftime("incidents-%Y%m%d.csv")
    return web.Response(
        text=body,
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@operation(
    "One alert, with its raw message",
    tag="alerts",
    actions=[Action.READ_INCIDENTS],
    description="The alert as stored, and the message exactly as its sender wrote it (CAP XML, JSON …).",
    path={"id": identifier("alert")},
    responses={200: AlertWithRaw},
    errors=[404, 422],
)
async def alert_detail(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]
    runtime = request.app[RUNTIME]
    alert_id = parse_int(request.match_info["id"], "id")
    scope, department = authz.scope(principal, runtime.config), authz.department(principal)
    body = await runtime.read(
        lambda connection: queries.alert_with_raw(connection, alert_id, scope, department)
    )
    if body is None:  # missing, or of an incident outside the caller's scope: alike
        raise NotFound(f"alert {alert_id} does not exist", field="id")
    return json_response(body)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/reports/incidents.csv", export_csv)
    app.router.add_get("/api/v1/alerts/{id}", alert_detail)
