"""GET /api/v1/incidents/{id}/eido: the incident as a NENA EIDO, checked against NENA's schema."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import jsonschema_rs
import yaml

from tests.conftest import Harness
from tests.factories import OUTSIDE, WEST_N, alert

SCHEMA = Path(__file__).parents[1] / "fixtures" / "eido" / "openapi.yaml"
ROOT = "EmergencyIncidentDataObjectType"
CITY_DESK = {"role": "dispatcher", "name": "city-desk"}
WEST_DESK = {"role": "dispatcher", "name": "west-desk", "jurisdiction": "west"}
EAST_DESK = {"role": "dispatcher", "name": "east-desk", "jurisdiction": "east"}
PIDF = {
    "gml": "http://www.opengis.net/gml",
    "ca": "urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr",
}


def _without_niem(node: Any) -> Any:
    """The schema with its two references into NIEM's nc.yaml (a person's and a vehicle's
    details, 380 kB we do not vendor) left open: the export never has persons or vehicles."""
    if isinstance(node, dict):
        target = node.get("$ref")
        if isinstance(target, str) and target.startswith("NIEMComponents/"):
            return {}
        return {key: _without_niem(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_without_niem(value) for value in node]
    return node


@cache
def _validator() -> Any:
    document = yaml.safe_load(SCHEMA.read_text(encoding="utf-8"))
    components = _without_niem(document["components"])
    # OpenAPI 3.0 schema objects are JSON Schema draft 4 (wright-00) with extras we do not use.
    root = {"$ref": f"#/components/schemas/{ROOT}", "components": components}
    return jsonschema_rs.Draft4Validator(root, validate_formats=True)


def _errors(document: Any) -> list[str]:
    return [f"{error.instance_path}: {error.message}" for error in _validator().iter_errors(document)]


async def _eido(server: Harness, incident_id: int, *, expect: int = 200, **auth: Any) -> Any:
    response = await server.client.get(
        f"/api/v1/incidents/{incident_id}/eido", headers=server.auth(**(auth or CITY_DESK))
    )
    assert response.status == expect, await response.text()
    return await response.json()


def _by_id(document: dict[str, Any], key: str) -> dict[str, dict[str, Any]]:
    return {component["$id"]: component for component in document.get(key, [])}


def _notes(document: dict[str, Any], holder: dict[str, Any]) -> list[str]:
    notes = _by_id(document, "notesComponent")
    return [notes[each["$ref"]]["notesActionComments"] for each in holder.get("notesReference", [])]


def test_eido_schema_refuses_what_is_not_an_eido() -> None:
    # The vendored schema really constrains: a document missing what EIDO requires is refused.
    assert _errors({"eidoVersion": "2.0"}) != []
    assert _errors({"$id": "x"}) != []


async def test_eido_export_of_a_fresh_incident_validates(server: Harness) -> None:
    incident_id = (await server.post_alert(alert("e1", title="积水", description="路口积水 30cm")))[
        "incident_id"
    ]

    document = await _eido(server, incident_id)

    assert _errors(document) == []
    # And the schema looks deep: an agency without its type is refused.
    del document["agencyComponent"][0]["agencyType"]
    assert _errors(document) != []
    assert document["eidoVersion"] == "1.0"
    assert document["$id"] == f"urn:emergency:uid:incidentid:{incident_id}:city"
    incident = document["incidentComponent"]
    assert incident["internalIncidentId"] == str(incident_id)
    assert incident["incidentTypeInternalCode"] == "waterlogging"
    assert incident["incidentTypeInternalText"] == "Waterlogging"
    assert incident["incidentStatusInternalText"] == ["dispatched"]
    assert incident["incidentStatusCommonRegistryText"] == ["Active"]
    assert (incident["incidentPriorityInternalText"], incident["incidentCommonPriorityNumber"]) == ("III", 3)


async def test_eido_place_has_the_point_and_the_jurisdictions_by_name(server: Harness) -> None:
    incident_id = (await server.post_alert(alert("e1", location=WEST_N)))["incident_id"]

    document = await _eido(server, incident_id)

    (location,) = document["locationComponent"]
    assert document["incidentComponent"]["locationReference"] == [{"$ref": location["$id"]}]
    assert location["locationDescriptionText"].startswith("Prefecture CITY WEST WEST-N")
    place = ElementTree.fromstring(location["locationByValue"].split("?>", 1)[1])
    position = place.find(".//gml:pos", PIDF)
    assert position is not None and position.text == f"{WEST_N['lat']} {WEST_N['lon']}"
    civic = place.find(".//ca:civicAddress", PIDF)
    assert civic is not None
    assert [(child.tag.split("}")[1], child.text) for child in civic] == [
        ("country", "CN"),
        ("A2", "Prefecture"),
        ("A3", "CITY"),
        ("A4", "WEST"),
        ("A5", "WEST-N"),
    ]


async def test_eido_place_without_a_position_is_its_jurisdiction_in_words(server: Harness) -> None:
    body = alert("e1", jurisdiction="east")
    del body["location"]
    incident_id = (await server.post_alert(body))["incident_id"]

    document = await _eido(server, incident_id)

    assert _errors(document) == []
    (location,) = document["locationComponent"]
    assert location["locationDescriptionText"].startswith("Prefecture CITY EAST")
    place = ElementTree.fromstring(location["locationByValue"].split("?>", 1)[1])
    assert place.find(".//gml:pos", PIDF) is None
    assert [child.text for child in place.iterfind(".//ca:civicAddress/*", PIDF)] == [
        "CN",
        "Prefecture",
        "CITY",
        "EAST",
    ]


async def test_eido_place_outside_every_jurisdiction_says_so(server: Harness) -> None:
    incident_id = (await server.post_alert(alert("e1", location=OUTSIDE)))["incident_id"]

    document = await _eido(server, incident_id)

    assert _errors(document) == []
    assert "不在任何辖区范围内" in document["locationComponent"][0]["locationDescriptionText"]
    # The city's flood unit answers for its department, the category's lead one.
    (dispatch,) = document["dispatchComponent"]
    agency = _by_id(document, "agencyComponent")[dispatch["agencyReference"]["$ref"]]
    assert agency["agencyRoleDescriptionRegistryText"] == ["Primary", "Responding"]
    assert "Flood control" in agency["agencyJcard"]


async def test_eido_units_carry_their_task_states_and_times(server: Harness) -> None:
    incident_id = (await server.post_alert(alert("e1")))["incident_id"]
    task_id = (await server.incident(incident_id))["tasks"][0]["id"]
    for trigger in ("deliver", "accept", "depart"):
        await server.task_trigger(task_id, trigger, "grid-west-n-1")
    task = (await server.incident(incident_id))["tasks"][0]

    document = await _eido(server, incident_id)

    assert _errors(document) == []
    (resource,) = document["emergencyResourceComponent"]
    assert resource["emergencyResourceName"] == "grid-west-n-1"
    assert (resource["unitStatusInternal"], resource["primaryUnitStatusRegistryText"]) == (
        ["en_route"],
        "EnRoute",
    )
    (note,) = _notes(document, resource)
    assert {"accepted", "en_route"} <= set(task["milestones"])
    for state, at in task["milestones"].items():
        assert f"{state} {at}" in note
    (dispatch,) = document["dispatchComponent"]
    assert dispatch["emergencyResourceReference"] == [{"$ref": resource["$id"]}]
    agencies = _by_id(document, "agencyComponent")
    unit_agency = agencies[dispatch["agencyReference"]["$ref"]]
    assert "WEST-N" in unit_agency["agencyJcard"]
    assert "Responding" in unit_agency["agencyRoleDescriptionRegistryText"]
    agents = _by_id(document, "agentComponent")
    assert agents[resource["agentReference"][0]["$ref"]]["agencyReference"] == dispatch["agencyReference"]


async def test_eido_agencies_name_owner_lead_and_co_handling_departments(server: Harness) -> None:
    incident_id = (await server.post_alert(alert("e1")))["incident_id"]
    await server.incident_trigger(incident_id, "add_department", {"department": "urban", "reason": "占道"})

    document = await _eido(server, incident_id)

    assert _errors(document) == []
    roles = {
        agency["$id"].split(":")[4]: (
            agency["agencyRoleDescriptionRegistryText"],
            agency.get("incidentOwningAgencyIndicator"),
        )
        for agency in document["agencyComponent"]
    }
    owner = (await server.incident(incident_id))["owner"]["jurisdiction"]
    assert roles[f"jurisdiction.{owner}"][1] is True
    assert "Owning" in roles[f"jurisdiction.{owner}"][0]
    assert roles["department.flood"] == (["Primary"], None)
    assert roles["department.urban"] == (["Assisting"], None)
    texts = _notes(document, document["incidentComponent"])
    assert any("占道" in text and "incident_department_added" in text for text in texts), texts


async def test_eido_alerts_and_summary_are_notes(server: Harness) -> None:
    incident_id = (await server.post_alert(alert("e1", title="积水", description="<b>深</b> 30cm")))[
        "incident_id"
    ]
    await server.incident_trigger(incident_id, "resolve", {"reason": "已疏通"})

    document = await _eido(server, incident_id)

    assert _errors(document) == []
    (alarm,) = document["alarmsSensorsComponent"]
    (said,) = _notes(document, alarm)
    assert "gauge-1/e1" in said
    assert "积水 — &lt;b&gt;深&lt;/b&gt; 30cm" in said  # notes are HTML5: the sender's words escaped
    incident = document["incidentComponent"]
    assert incident["incidentStatusInternalText"] == ["resolved"]
    assert any(text == "处置结果：已疏通" for text in _notes(document, incident))


async def test_eido_for_the_town_dispatcher_in_scope(server: Harness) -> None:
    incident_id = (await server.post_alert(alert("e1", location=WEST_N)))["incident_id"]

    document = await _eido(server, incident_id, **WEST_DESK)

    assert document["incidentComponent"]["internalIncidentId"] == str(incident_id)


async def test_eido_outside_the_callers_scope_answers_404_like_a_missing_one(server: Harness) -> None:
    incident_id = (await server.post_alert(alert("e1", location=WEST_N)))["incident_id"]

    hidden = await _eido(server, incident_id, expect=404, **EAST_DESK)
    missing = await _eido(server, 999, expect=404, **EAST_DESK)

    assert hidden["error"] == {
        "code": "not_found",
        "message": f"incident {incident_id} does not exist",
        "field": "id",
    }
    assert missing["error"]["message"] == "incident 999 does not exist"


async def test_eido_for_a_sub_center_only_of_its_departments_incidents(server: Harness) -> None:
    """A department's dispatcher exports what its department leads or co-handles, nothing else."""
    incident_id = (await server.post_alert(alert("e1", location=WEST_N)))["incident_id"]
    lead = {"role": "dispatcher", "name": "flood-desk", "department": "flood"}
    other = {"role": "dispatcher", "name": "urban-desk", "department": "urban"}

    document = await _eido(server, incident_id, **lead)
    hidden = await _eido(server, incident_id, expect=404, **other)
    await server.incident_trigger(incident_id, "add_department", {"department": "urban"})
    shared = await _eido(server, incident_id, **other)

    assert document["incidentComponent"]["internalIncidentId"] == str(incident_id)
    assert hidden["error"]["message"] == f"incident {incident_id} does not exist"
    assert shared["incidentComponent"]["internalIncidentId"] == str(incident_id)


async def test_eido_merge_names_the_other_incident_both_ways(server: Harness) -> None:
    # Two gauges either side of a street boundary: two incidents, one flood (as test_incidents).
    north, south = {"lat": 28.1005, "lon": 112.1}, {"lat": 28.0995, "lon": 112.1}
    survivor = (await server.post_alert(alert("e1", location=north)))["incident_id"]
    absorbed = (await server.post_alert(alert("e2", source="gauge-2", location=south)))["incident_id"]
    await server.incident_trigger(absorbed, "merge", {"into_incident_id": survivor})

    kept, gone = await _eido(server, survivor), await _eido(server, absorbed)

    assert _errors(kept) == [] and _errors(gone) == []
    assert [
        (m["incidentTrackingIdentifier"], m["incidentMergeDirectionCode"]) for m in kept["mergeComponent"]
    ] == [(gone["$id"], "REPLACING")]
    assert [
        (m["incidentTrackingIdentifier"], m["incidentMergeDirectionCode"]) for m in gone["mergeComponent"]
    ] == [(kept["$id"], "REPLACED")]
    assert gone["incidentComponent"]["incidentStatusCommonRegistryText"] == ["Merged"]


async def test_eido_cancelled_incident_says_cancelled_and_why(server: Harness) -> None:
    incident_id = (await server.post_alert(alert("e1")))["incident_id"]
    await server.incident_trigger(incident_id, "cancel", {"reason": "误报"})

    document = await _eido(server, incident_id)

    assert _errors(document) == []
    incident = document["incidentComponent"]
    assert (incident["incidentStatusInternalText"], incident["incidentStatusCommonRegistryText"]) == (
        ["cancelled"],
        ["Cancelled"],
    )
    assert any("误报" in text and "incident_cancelled" in text for text in _notes(document, incident))
    (resource,) = document["emergencyResourceComponent"]
    assert resource["unitStatusInternal"] == ["cancelled"]
