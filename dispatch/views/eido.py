"""An incident as a NENA EIDO (Emergency Incident Data Object, NENA-STA-021.1b) JSON document.

Shaped after the EIDO JSON schema NENA publishes (its openapi.yaml, vendored under
tests/fixtures/eido/, where the tests validate every export against it). The document carries
the incident's current state: incident, place, agencies, units with their tasks, alerts and
the dispatchers' words. Fields named `…InternalText`/`…InternalCode` carry our exact values;
fields named `…RegistryText` should hold NENA registry values, which we could not check here,
so they carry the nearest word we know (see REGISTRY_WORDS) and the internal field says ours.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

import orjson
import sqlalchemy as sa

from dispatch.config.model import Config, Responder
from dispatch.storage import queries
from dispatch.storage.tables import incident_table
from dispatch.storage.wire import AlertOut, EventOut, IncidentFile, TaskOut, grade
from dispatch.views.eido_location import location_component
from state_machines import IncidentState, TaskState

EIDO_VERSION = "1.0"
CONTEXT = {"@vocab": "./JSON-LD_Contexts/EmergencyIncidentDataObjectType.jsonld"}

INCIDENT_STATUS = {
    IncidentState.RESOLVED: "Closed",
    IncidentState.CLOSED: "Closed",
    IncidentState.CANCELLED: "Cancelled",
    IncidentState.MERGED: "Merged",
}
"""Our incident states in the Incident Status registry's words; every other state is Active."""

UNIT_STATUS = {
    TaskState.PENDING: "Assigned",
    TaskState.SENT: "Dispatched",
    TaskState.DELIVERED: "Dispatched",
    TaskState.ACCEPTED: "Acknowledged",
    TaskState.EN_ROUTE: "EnRoute",
    TaskState.ON_SCENE: "OnScene",
    TaskState.DONE: "Cleared",
    TaskState.DECLINED: "Declined",
    TaskState.EXPIRED: "Cleared",
    TaskState.CANCELLED: "Cancelled",
}
"""Our task states in the Primary Unit Status registry's words."""

TIMELINE_WORDS = ("reason", "note")
"""Payload keys of timeline events that hold a person's words."""

Document = dict[str, Any]


def reference(target: str) -> dict[str, str]:
    return {"$ref": target}


class Ids:
    """Globally unique ids in the i3 shape `urn:emergency:uid:<kind>:<local>:<domain>`.

    The domain is the top jurisdiction's id, the one thing every level of a deployment knows."""

    def __init__(self, config: Config, incident_id: int) -> None:
        self.domain = config.root.id
        self.incident_id = incident_id

    def urn(self, kind: str, local: str) -> str:
        return f"urn:emergency:uid:{kind}:{local}:{self.domain}"

    def incident(self) -> str:
        return self.urn("incidentid", str(self.incident_id))

    def part(self, kind: str, local: str | int) -> str:
        """A component of this incident's document (location, note, resource …)."""
        return self.urn(kind, f"{self.incident_id}-{local}")

    def jurisdiction(self, jurisdiction_id: str) -> str:
        return self.urn("agencyid", f"jurisdiction.{jurisdiction_id}")

    def department(self, department_id: str) -> str:
        return self.urn("agencyid", f"department.{department_id}")

    def unit(self, responder_id: str) -> str:
        return self.urn("agentid", responder_id)


class Builder:
    """Collects the components, each with the prologue every EIDO component carries."""

    def __init__(self, config: Config, incident: IncidentFile) -> None:
        self.config = config
        self.incident = incident
        self.ids = Ids(config, incident["id"])
        self.owner = self.ids.jurisdiction(incident["owner"]["jurisdiction"])
        self.agencies: dict[str, Document] = {}
        self.notes: list[Document] = []

    def prologue(self, component_id: str, updated_at: str) -> Document:
        return {
            "$id": component_id,
            "lastUpdateTimeStamp": updated_at,
            "updatedByAgencyReference": reference(self.owner),
        }

    def note(self, local: str, text: str, at: str) -> dict[str, str]:
        """A Notes component (HTML5 text); returns the reference to it."""
        note_id = self.ids.part("noteid", local)
        self.notes.append({**self.prologue(note_id, at), "notesActionComments": escape(text)})
        return reference(note_id)

    def agency(self, agency_id: str, name: str, role: str, kind: str, *, owning: bool = False) -> str:
        """An agency once, however many roles it plays; returns its id."""
        found = self.agencies.get(agency_id)
        if found is None:
            found = {
                **self.prologue(agency_id, self.incident["updated_at"]),
                "agencyRoleDescriptionRegistryText": [],
                "agencyType": [kind],
                "agencyJcard": _jcard(name),
            }
            self.agencies[agency_id] = found
        if role not in found["agencyRoleDescriptionRegistryText"]:
            found["agencyRoleDescriptionRegistryText"].append(role)
        if owning:
            found["incidentOwningAgencyIndicator"] = True
        return agency_id

    def jurisdiction_agency(self, jurisdiction_id: str, role: str, *, owning: bool = False) -> str:
        node = self.config.jurisdiction_by_id.get(jurisdiction_id)
        name = f"{node.name}（{getattr(self.config.tier_labels, node.tier)}）" if node else jurisdiction_id
        # A command center answers the public and dispatches: a PSAP in NENA's words.
        return self.agency(self.ids.jurisdiction(jurisdiction_id), name, role, "psap", owning=owning)

    def department_agency(self, department_id: str, role: str) -> str:
        department = self.config.department_by_id.get(department_id)
        name = department.name if department else department_id
        # Our departments have no IANA responder type in config: their id stands in.
        return self.agency(self.ids.department(department_id), name, role, department_id)


def _jcard(name: str) -> str:
    """The agency's contact as jCard (RFC 7095) text: its name, the one thing we hold."""
    return orjson.dumps(["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", name]]]).decode()


def incident_eido(
    connection: sa.Connection,
    config: Config,
    incident_id: int,
    scope: list[str] | None,
    department: str | None = None,
) -> Document | None:
    """The incident as an EIDO; None if missing or outside `scope` (or not `department`'s)."""
    incident = queries.incident_detail(connection, incident_id, scope, department)
    if incident is None:
        return None
    absorbed = connection.execute(
        sa.select(incident_table.c.id)
        .where(incident_table.c.merged_into == incident_id)
        .order_by(incident_table.c.id)
    ).scalars()
    return eido_document(incident, config, list(absorbed))


def eido_document(incident: IncidentFile, config: Config, absorbed: Sequence[int] = ()) -> Document:
    """The incident, its place, agencies, units, alerts and dispatchers' words as one EIDO.

    `absorbed`: the incidents merged into this one."""
    build = Builder(config, incident)
    build.jurisdiction_agency(incident["owner"]["jurisdiction"], "Owning", owning=True)
    category = config.category_by_id.get(incident["category"])
    lead = category.department if category else None
    for department_id in incident["departments"]:
        build.department_agency(department_id, "Primary" if department_id == lead else "Assisting")
    location_id = build.ids.part("locationid", "incident")
    location = location_component(build.prologue(location_id, incident["updated_at"]), config, incident)
    resources, agents, dispatches = _units(build, incident["tasks"])
    alarms = [_alarm(build, alert) for alert in incident["alerts"]]
    document: Document = {
        **build.prologue(build.ids.incident(), incident["updated_at"]),
        "eidoVersion": EIDO_VERSION,
        "issuingElementIdentification": build.ids.urn("elementid", "dispatch"),
        "incidentComponent": _incident(build, incident, location),
        "agencyComponent": list(build.agencies.values()),
        "locationComponent": [location],
        "notesComponent": build.notes,
        "@context": CONTEXT,
    }
    for key, components in (
        ("mergeComponent", _merges(build, absorbed)),
        ("emergencyResourceComponent", resources),
        ("agentComponent", agents),
        ("dispatchComponent", dispatches),
        ("alarmsSensorsComponent", alarms),
    ):
        if components:
            document[key] = components
    return document


def _incident(build: Builder, incident: IncidentFile, location: Document) -> Document:
    config = build.config
    category = config.category_by_id.get(incident["category"])
    state = IncidentState(incident["state"])
    notes = [_timeline_note(build, event) for event in _with_words(incident["timeline"])]
    if incident["summary"]:
        notes.append(build.note("summary", f"处置结果：{incident['summary']}", incident["updated_at"]))
    return {
        **build.prologue(build.ids.part("incidentinfo", "main"), incident["updated_at"]),
        "incidentTypeInternalCode": incident["category"],
        "incidentTypeInternalText": category.name if category else incident["category"],
        # No registry at hand (module docstring): the category id stands in.
        "incidentTypeCommonRegistryText": incident["category"],
        "incidentStatusInternalText": [state.value],
        "incidentStatusCommonRegistryText": [INCIDENT_STATUS.get(state, "Active")],
        "internalIncidentId": str(incident["id"]),
        "incidentPriorityInternalText": incident["grade"],
        "incidentCommonPriorityNumber": incident["severity"],
        "beatOrDispatchGroupText": incident["owner"]["jurisdiction"],
        "locationReference": [reference(location["$id"])],
        "notesReference": notes,
    }


def _merges(build: Builder, absorbed: Sequence[int]) -> list[Document]:
    """The incident this one was merged into (it REPLACED this one), or those it absorbed."""
    incident = build.incident
    pairs = [(other, "REPLACING") for other in absorbed]
    if incident["merged_into"] is not None:
        pairs.append((incident["merged_into"], "REPLACED"))
    return [
        {
            **build.prologue(build.ids.part("mergeid", other), incident["updated_at"]),
            "incidentTrackingIdentifier": build.ids.urn("incidentid", str(other)),
            "incidentMergeDirectionCode": direction,
        }
        for other, direction in pairs
    ]


def _with_words(timeline: Iterable[EventOut]) -> Iterable[EventOut]:
    return (event for event in timeline if any(event["payload"].get(key) for key in TIMELINE_WORDS))


def _timeline_note(build: Builder, event: EventOut) -> dict[str, str]:
    words = "；".join(str(event["payload"][key]) for key in TIMELINE_WORDS if event["payload"].get(key))
    text = f"{event['occurred_at']} {event['actor']}（{event['type']}）：{words}"
    return build.note(f"event-{event['seq']}", text, event["occurred_at"])


def _units(build: Builder, tasks: list[TaskOut]) -> tuple[list[Document], list[Document], list[Document]]:
    """Each task as a dispatch of a unit (an emergency resource) from its agency."""
    resources: list[Document] = []
    agents: dict[str, Document] = {}
    dispatches: list[Document] = []
    for task in tasks:
        unit = build.config.responder_by_id.get(task["responder_id"])
        if unit is not None and unit.department:
            agency = build.department_agency(unit.department, "Responding")
        else:
            jurisdiction = unit.jurisdiction if unit else build.incident["owner"]["jurisdiction"]
            agency = build.jurisdiction_agency(jurisdiction, "Responding")
        agent_id = build.ids.unit(task["responder_id"])
        agents.setdefault(
            agent_id,
            {
                **build.prologue(agent_id, task["updated_at"]),
                "agentRoleRegistryText": ["Responder"],
                "agencyReference": reference(agency),
            },
        )
        resource_id = build.ids.part("resourceid", f"task-{task['id']}")
        resources.append(_resource(build, task, resource_id, agent_id, unit))
        dispatches.append(
            {
                **build.prologue(build.ids.part("dispatchid", f"task-{task['id']}"), task["created_at"]),
                "agencyReference": reference(agency),
                "emergencyResourceReference": [reference(resource_id)],
            }
        )
    return resources, list(agents.values()), dispatches


def _resource(
    build: Builder, task: TaskOut, resource_id: str, agent_id: str, unit: Responder | None
) -> Document:
    state = TaskState(task["state"])
    times = "，".join(f"{each} {at}" for each, at in task["milestones"].items())
    text = f"任务 {task['id']}（{task['tier']}）：{task['responder_id']} {state.value}；{times}"
    return {
        **build.prologue(resource_id, task["updated_at"]),
        "emergencyResourceName": unit.name if unit else task["responder_id"],
        "emergencyResourceTypeInternalText": _unit_kind(build.config, unit),
        "emergencyResourceTypeCommonRegistryText": "Unit",
        "resourceAttributeRegistryText": [],
        "primaryUnitStatusRegistryText": UNIT_STATUS[state],
        "secondaryUnitStatusRegistryText": [],
        "unitStatusInternal": [state.value],
        "agentReference": [reference(agent_id)],
        "notesReference": [build.note(f"task-{task['id']}", text, task["updated_at"])],
    }


def _unit_kind(config: Config, unit: Responder | None) -> str:
    """What kind of unit it is in our words: its department's name, or its tier's label."""
    if unit is None:
        return "unit"
    department = config.department_by_id.get(unit.department) if unit.department else None
    if department is not None:
        return department.name
    node = config.jurisdiction_by_id.get(unit.jurisdiction)
    return getattr(config.tier_labels, node.tier) if node else "unit"


def _alarm(build: Builder, alert: AlertOut) -> Document:
    """An alert (sensor, camera, hotline, CAP …) as an alarm with its words in a note."""
    said = " — ".join(part for part in (alert["title"], alert["description"]) if part)
    sender = f"{alert['source']}/{alert['source_event_id']}"
    text = (
        f"告警 {sender}（{alert['kind']}，{grade(alert['severity'])} 级）：{said}；"
        f"观测于 {alert['observed_at']}，收到于 {alert['received_at']}"
    )
    return {
        **build.prologue(build.ids.part("alarmid", f"alert-{alert['id']}"), alert["received_at"]),
        "notesReference": [build.note(f"alert-{alert['id']}", text, alert["received_at"])],
    }
