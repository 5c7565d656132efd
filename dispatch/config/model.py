"""Configuration: config.yaml parsed once into validated, immutable models."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any, Self

import yaml
from pydantic import (
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from dispatch.config.gateways import AlertmanagerGateway as AlertmanagerGateway
from dispatch.config.gateways import CapGateway as CapGateway
from dispatch.config.gateways import Frigate as Frigate
from dispatch.config.gateways import FrigateCamera as FrigateCamera
from dispatch.config.gateways import FrigatePlace as FrigatePlace
from dispatch.config.gateways import FrigateRule as FrigateRule
from dispatch.config.gateways import Mqtt as Mqtt
from dispatch.config.metrics import MetricsSettings
from dispatch.config.mutual_aid import MutualAid, check_mutual_aid
from dispatch.config.screens import Language, MapSettings, Sessions, check_timezone
from dispatch.config.values import TIER_ORDER as TIER_ORDER
from dispatch.config.values import Identifier as Identifier
from dispatch.config.values import Seconds as Seconds
from dispatch.config.values import Severity as Severity
from dispatch.config.values import Tier as Tier
from dispatch.shared.geo import OVERLAP_TOLERANCE, GeoPolygon, Position, Strict
from dispatch.storage.audit_key import AuditSettings


class TierLabels(Strict):
    city: str = Field("市指挥中心", description="Label of the top tier.")
    town: str = Field("镇/街道指挥中心", description="Label of the middle tier.")
    street: str = Field("社区/村网格", description="Label of the bottom tier.")


class Jurisdiction(Strict):
    """One node of the jurisdiction tree."""

    id: Identifier = Field(description="Stable ASCII id, used on the wire.")
    name: str = Field(min_length=1, description="Display name.")
    tier: Tier = Field(description="city, town or street.")
    parent: Identifier | None = Field(None, description="Id of the parent node; none for the city.")
    center: Position = Field(description="Where the node's command post or centroid is.")
    polygon: GeoPolygon = Field(description="Area of responsibility (GeoJSON).")


class Contact(Strict):
    name: str = Field(description="Duty contact's name or desk.")
    phone: str = Field(description="Phone number of the duty desk.")


class Department(Strict):
    """A horizontal sub-center pulled into incidents as co-handler."""

    id: Identifier = Field(description="Stable ASCII id.")
    name: str = Field(description="Display name.")
    name_en: str | None = Field(None, description="Display name in English (the screens' English mode).")
    duty_contacts: list[Contact] = Field(default_factory=list, description="Who answers, around the clock.")


class PolicyStep(Strict):
    """One rung of an escalation ladder."""

    tier: Tier = Field(description="Tier that owns the incident during this step.")
    accept_within: Seconds = Field(description="How long the step's responders have to accept.")
    responders: int = Field(1, ge=1, le=20, description="How many responders get a task.")
    department_only: bool = Field(False, description="Only responders of the category's department qualify.")


class Policy(Strict):
    """An ordered escalation ladder; severity I/II policies usually notify all tiers."""

    notify_all_tiers: bool = Field(False, description="Tell every tier's center at once.")
    notify_prefecture: bool = Field(False, description="Also forward to the prefecture link.")
    auto_resolve: bool = Field(
        False,
        description=(
            "Resolve the incident by itself (actor system) once every one of its alerts has been "
            "resolved by its sender, e.g. an Alertmanager `resolved` notification."
        ),
    )
    steps: list[PolicyStep] = Field(min_length=1, description="Ordered steps, lowest tier first.")

    @model_validator(mode="after")
    def _tiers_climb(self) -> Self:
        depths = [step.tier.depth for step in self.steps]
        if any(later > earlier for earlier, later in itertools.pairwise(depths)):
            raise ValueError("steps must never move down a tier (street → town → city)")
        return self


class Category(Strict):
    """An incident category, routed to a department with a default grading and policy."""

    id: Identifier = Field(description="Stable ASCII id, used on the wire.")
    name: str = Field(description="Display name.")
    name_en: str | None = Field(None, description="Display name in English (the screens' English mode).")
    department: Identifier = Field(description="Department that leads this category.")
    default_severity: Severity = Field(Severity.IV, description="Used when an alert gives none.")
    policy: Identifier = Field(description="Escalation policy by default.")
    policy_by_severity: dict[Severity, Identifier] = Field(
        default_factory=dict, description="Policy overrides for given severities."
    )
    skills: list[Identifier] = Field(
        default_factory=list, description="Skills a responder must all have to be assigned."
    )

    def policy_for(self, severity: Severity) -> str:
        return self.policy_by_severity.get(severity, self.policy)


class Responder(Strict):
    """A unit on duty: a grid worker, a patrol, a crew."""

    id: Identifier = Field(description="Stable ASCII id.")
    name: str = Field(description="Display name.")
    jurisdiction: Identifier = Field(description="The node the unit belongs to.")
    department: Identifier | None = Field(None, description="Department, if any.")
    skills: list[Identifier] = Field(default_factory=list, description="What the unit can do.")
    home: Position = Field(description="Where the unit is when no position was reported.")
    mqtt_client_id: str | None = Field(None, description="MQTT client id of its device.")


class Correlation(Strict):
    radius_m: float = Field(300.0, gt=0, description="Alerts this close join one incident.")
    window: Seconds = Field(1800.0, description="...if the incident saw an alert this recently.")


class Intake(Strict):
    max_batch: int = Field(1000, ge=1, description="Most alerts in one POST.")
    max_body_bytes: int = Field(1 << 20, ge=1024, description="Largest accepted request body.")
    group_commit_max: int = Field(
        512, ge=1, description="Most commands committed in one database transaction."
    )
    max_future_skew: Seconds = Field(
        600.0,
        description=(
            "How far ahead of the server's clock a sender's time (observed_at, startsAt, CAP sent, "
            "a call's time) may lie before the alert is refused (422); none may be before 2000."
        ),
    )


class WebSocket(Strict):
    auth_timeout: Seconds = Field(5.0, description="A socket must authenticate this soon.")
    heartbeat: Seconds = Field(20.0, description="Ping interval; a peer silent for longer is dropped.")
    queue_size: int = Field(
        1000,
        ge=10,
        description=(
            "Frames waiting for a client whose socket stopped draining; more and it is closed and "
            "told to resume. A client that reads keeps up to 50 times this through a burst."
        ),
    )
    max_message_bytes: int = Field(65536, ge=1024, description="Largest frame a client may send.")
    allowed_origins: list[str] = Field(
        default_factory=list,
        description=(
            "Browser origins allowed besides the address a connection reached (IP and port; on "
            "loopback also localhost), e.g. the name people use, https://dispatch.city.local:8443."
        ),
    )


class Web(Strict):
    header_timeout: Seconds = Field(
        10.0,
        description=(
            "A connection must deliver a whole request head this soon after it opens or after its "
            "previous answer; else it is closed. Idle kept-alive connections close after it too."
        ),
    )
    body_timeout: Seconds = Field(
        30.0, description="A request body must arrive whole this soon after its head; else 408."
    )
    log_interval: Seconds = Field(
        60.0,
        description="Timed-out and abandoned requests are logged in one summary line at most this often.",
    )


class SqliteSynchronous(StrEnum):
    FULL = "full"
    NORMAL = "normal"


class Storage(Strict):
    sqlite_synchronous: SqliteSynchronous = Field(
        SqliteSynchronous.FULL,
        description=(
            "SQLite only. full: an acknowledged alert survives a power cut (one fsync per group "
            "commit); normal: it survives a crash or kill -9 of the server, not a power cut."
        ),
    )


class Prefecture(Strict):
    id: Identifier = Field(description="Id of the prefecture center above the city.")
    name: str = Field(description="Display name.")


class Config(Strict):
    """The whole of config.yaml."""

    tier_labels: TierLabels = Field(default_factory=TierLabels)
    prefecture: Prefecture | None = Field(None, description="Link above the city tier.")
    correlation: Correlation = Field(default_factory=Correlation)
    intake: Intake = Field(default_factory=Intake)
    storage: Storage = Field(default_factory=Storage)
    audit: AuditSettings = Field(default_factory=AuditSettings, description="The event log's signing key.")
    websocket: WebSocket = Field(default_factory=WebSocket)
    web: Web = Field(default_factory=Web, description="Slow and abandoned HTTP requests.")
    jurisdictions: list[Jurisdiction] = Field(min_length=1)
    departments: list[Department] = Field(min_length=1)
    policies: dict[Identifier, Policy] = Field(min_length=1)
    categories: list[Category] = Field(min_length=1)
    responders: list[Responder] = Field(default_factory=list)
    mutual_aid: list[MutualAid] = Field(
        default_factory=list,
        description="Who may borrow whose units across jurisdictions; none: each subtree its own units.",
    )
    cap: CapGateway = Field(default_factory=CapGateway, description="CAP 1.2 warning intake.")
    alertmanager: AlertmanagerGateway = Field(
        default_factory=AlertmanagerGateway, description="Prometheus Alertmanager webhook intake."
    )
    frigate: Frigate = Field(default_factory=Frigate, description="Frigate NVR events (gateways/frigate.py).")
    mqtt: Mqtt = Field(default_factory=Mqtt, description="MQTT link to sensors, tablets and Frigate.")
    map: MapSettings = Field(
        default_factory=MapSettings, description="The screens' map (offline by default)."
    )
    sessions: Sessions = Field(default_factory=Sessions, description="Logins of people in browsers.")
    timezone: str = Field(
        "Asia/Shanghai", description="IANA time zone of 'today' on the screens and in the statistics."
    )
    language: Language = Field(Language.ZH_CN, description="The screens' language until a user picks one.")
    metrics: MetricsSettings = Field(
        default_factory=MetricsSettings, description="Prometheus metrics at /metrics (docs/metrics.md)."
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return check_timezone(value)

    @cached_property
    def jurisdiction_by_id(self) -> dict[str, Jurisdiction]:
        return {node.id: node for node in self.jurisdictions}

    @cached_property
    def category_by_id(self) -> dict[str, Category]:
        return {category.id: category for category in self.categories}

    @cached_property
    def department_by_id(self) -> dict[str, Department]:
        return {department.id: department for department in self.departments}

    @cached_property
    def responder_by_id(self) -> dict[str, Responder]:
        return {responder.id: responder for responder in self.responders}

    @cached_property
    def root(self) -> Jurisdiction:
        return next(node for node in self.jurisdictions if node.parent is None)

    def ancestors(self, jurisdiction_id: str) -> Iterator[Jurisdiction]:
        """The node itself, then its parent, up to the city."""
        node: Jurisdiction | None = self.jurisdiction_by_id[jurisdiction_id]
        while node is not None:
            yield node
            node = self.jurisdiction_by_id.get(node.parent) if node.parent else None

    def ancestor_at(self, jurisdiction_id: str, tier: Tier) -> Jurisdiction:
        """The node's ancestor at `tier`, or the node itself when it is above that tier."""
        path = list(self.ancestors(jurisdiction_id))
        for node in path:
            if node.tier == tier:
                return node
        return path[0]

    def is_within(self, jurisdiction_id: str, ancestor_id: str) -> bool:
        return any(node.id == ancestor_id for node in self.ancestors(jurisdiction_id))

    @model_validator(mode="after")
    def _cross_references(self) -> Self:
        _check_unique("jurisdictions", [node.id for node in self.jurisdictions])
        _check_unique("departments", [d.id for d in self.departments])
        _check_unique("categories", [c.id for c in self.categories])
        _check_unique("responders", [r.id for r in self.responders])
        self._check_tree()
        self._check_siblings_apart()
        self._check_policies()
        self._check_categories()
        self._check_responders()
        check_mutual_aid(self)
        self._check_alert_gateways()
        self._check_frigate()
        self._check_mqtt()
        return self

    def _check_tree(self) -> None:
        roots = [node.id for node in self.jurisdictions if node.parent is None]
        if len(roots) != 1:
            raise ValueError(f"jurisdictions: exactly one node must have no parent, found {roots}")
        by_id = self.jurisdiction_by_id
        for index, node in enumerate(self.jurisdictions):
            where = f"jurisdictions.{index}"
            if node.parent is None:
                if node.tier != Tier.CITY:
                    raise ValueError(f"{where}.tier: the root must be the city tier")
            else:
                parent = by_id.get(node.parent)
                if parent is None:
                    raise ValueError(f"{where}.parent: unknown jurisdiction {node.parent!r}")
                if node.tier.depth != parent.tier.depth + 1:
                    raise ValueError(
                        f"{where}.tier: a {parent.tier} node's children are {parent.tier.below()}"
                    )
                if not parent.polygon.covers(node.polygon.geometry):
                    raise ValueError(f"{where}.polygon: not inside its parent {parent.id!r}")
            if not node.polygon.contains_position(node.center):
                raise ValueError(f"{where}.center: outside its own polygon")

    def _check_siblings_apart(self) -> None:
        """Children of one parent share edges at most, so a point has one owner per tier."""
        earlier: dict[str, list[Jurisdiction]] = {}
        for index, node in enumerate(self.jurisdictions):
            if node.parent is None:
                continue
            siblings = earlier.setdefault(node.parent, [])
            for sibling in siblings:
                area = node.polygon.geometry.intersection(sibling.polygon.geometry).area
                if area > OVERLAP_TOLERANCE:
                    raise ValueError(
                        f"jurisdictions.{index}.polygon: overlaps its sibling {sibling.id!r} "
                        f"({area:.3g} square degrees)"
                    )
            siblings.append(node)

    def _check_policies(self) -> None:
        for name, policy in self.policies.items():
            if policy.notify_prefecture and self.prefecture is None:
                raise ValueError(
                    f"policies.{name}.notify_prefecture: is true but no `prefecture` is configured"
                )

    def _check_categories(self) -> None:
        for index, category in enumerate(self.categories):
            where = f"categories.{index}"
            if category.department not in self.department_by_id:
                raise ValueError(f"{where}.department: unknown department {category.department!r}")
            for policy in [category.policy, *category.policy_by_severity.values()]:
                if policy not in self.policies:
                    raise ValueError(f"{where}.policy: unknown policy {policy!r}")

    def _check_frigate(self) -> None:
        places = [
            (f"frigate.cameras.{name}{f'.zones.{zone}' if zone else ''}", place)
            for name, camera in self.frigate.cameras.items()
            for zone, place in [("", camera), *camera.zones.items()]
        ]
        for where, place in places:
            if place.jurisdiction is not None and place.jurisdiction not in self.jurisdiction_by_id:
                raise ValueError(f"{where}.jurisdiction: unknown {place.jurisdiction!r}")
        for index, rule in enumerate(self.frigate.rules):
            if rule.category not in self.category_by_id:
                raise ValueError(f"frigate.rules.{index}.category: unknown category {rule.category!r}")

    def _check_mqtt(self) -> None:
        """`mqtt-acl` gives each of these one account: a name may stand for one of them only."""
        prefix, frigate = self.mqtt.prefix, self.mqtt.frigate_prefix
        if frigate is not None and (
            frigate == prefix or frigate.startswith(f"{prefix}/") or prefix.startswith(f"{frigate}/")
        ):
            # Frigate's account may write anything under its prefix: nested in ours, it could
            # forge alerts and tasks; ours nested in Frigate's, tablets would read Frigate's.
            raise ValueError(f"mqtt.frigate_prefix: {frigate!r} overlaps mqtt.prefix {prefix!r}")
        owners: dict[str, str] = {}
        accounts = [
            ("mqtt.username", self.mqtt.username),
            ("mqtt.frigate_username", self.mqtt.frigate_username),
            *(
                (f"mqtt.sensor_gateways.{index}", name)
                for index, name in enumerate(self.mqtt.sensor_gateways)
            ),
            *((f"responders.{index}.id", r.id) for index, r in enumerate(self.responders)),
        ]
        for where, name in accounts:
            if name in owners:
                raise ValueError(f"{where}: MQTT account {name!r} is already {owners[name]}")
            owners[name] = where

    def _check_responders(self) -> None:
        by_id = self.jurisdiction_by_id
        devices: dict[str, str] = {}
        for index, responder in enumerate(self.responders):
            where = f"responders.{index}"
            jurisdiction = by_id.get(responder.jurisdiction)
            if jurisdiction is None:
                raise ValueError(f"{where}.jurisdiction: unknown {responder.jurisdiction!r}")
            if responder.department and responder.department not in self.department_by_id:
                raise ValueError(f"{where}.department: unknown {responder.department!r}")
            if not jurisdiction.polygon.contains_position(responder.home):
                raise ValueError(f"{where}.home: outside its jurisdiction {jurisdiction.id!r}")
            client_id = responder.mqtt_client_id
            if client_id is not None:
                if client_id in devices:
                    raise ValueError(
                        f"{where}.mqtt_client_id: {client_id!r} is already used by {devices[client_id]!r}"
                    )
                devices[client_id] = responder.id

    def _check_alert_gateways(self) -> None:
        for name, gateway in (("cap", self.cap), ("alertmanager", self.alertmanager)):
            for key, category in gateway.categories.items():
                if category not in self.category_by_id:
                    raise ValueError(f"{name}.categories.{key}: unknown category {category!r}")
            if gateway.default_category is not None and gateway.default_category not in self.category_by_id:
                raise ValueError(f"{name}.default_category: unknown category {gateway.default_category!r}")
            jurisdiction = gateway.default_jurisdiction
            if jurisdiction is not None and jurisdiction not in self.jurisdiction_by_id:
                raise ValueError(f"{name}.default_jurisdiction: unknown jurisdiction {jurisdiction!r}")
        for key, jurisdiction in self.cap.geocodes.items():
            if jurisdiction not in self.jurisdiction_by_id:
                raise ValueError(f"cap.geocodes.{key}: unknown jurisdiction {jurisdiction!r}")


def _check_unique(section: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for index, item in enumerate(ids):
        if item in seen:
            raise ValueError(f"{section}.{index}.id: duplicate id {item!r}")
        seen.add(item)


class ConfigError(Exception):
    """config.yaml cannot be used; the message names the key path."""


def parse_config(data: Any, source: str = "config") -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        # Errors of model validators carry no location: their message starts with the path.
        path = ".".join(str(part) for part in first["loc"])
        location = f"{path}: " if path else ""
        more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
        if first["type"] == "extra_forbidden":
            message = "unknown key"
        else:
            message = " ".join(first["msg"].removeprefix("Value error, ").split())
        raise ConfigError(f"{source}: {location}{message}{more}") from err


def load_config(path: str | Path) -> Config:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"{path}: cannot read: {err.strerror}") from err
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text (byte {err.start})") from err
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {_one_line(err)}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of config keys, found {type(data).__name__}")
    return parse_config(data, str(path))


def _one_line(err: yaml.YAMLError) -> str:
    if isinstance(err, yaml.MarkedYAMLError) and err.problem_mark is not None:
        mark = err.problem_mark
        return f"{err.problem or 'syntax error'} (line {mark.line + 1}, column {mark.column + 1})"
    return " ".join(str(err).split())
