"""config.yaml as a whole: its sections, the lookups by id, and the checks across sections."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from typing import Self

from pydantic import Field, field_validator, model_validator

from dispatch.config.departments import Category, Department
from dispatch.config.gateways import AlertmanagerGateway, CapGateway, Frigate, Mqtt
from dispatch.config.jurisdictions import (
    Jurisdiction,
    JurisdictionTree,
    Prefecture,
    TierLabels,
    check_siblings_apart,
    check_tree,
)
from dispatch.config.link import Downstream, Upstream
from dispatch.config.metrics import MetricsSettings
from dispatch.config.mutual_aid import MutualAid, check_mutual_aid
from dispatch.config.policies import Policy
from dispatch.config.responders import Responder
from dispatch.config.screens import Language, MapSettings, Sessions, check_timezone
from dispatch.config.server import AuditSettings, Correlation, Intake, Storage, Web, WebSocket
from dispatch.config.values import Identifier, Tier
from dispatch.shared.geo import Strict


class Config(Strict):
    """The whole of config.yaml."""

    tier_labels: TierLabels = Field(default_factory=TierLabels)
    prefecture: Prefecture | None = Field(None, description="Link above the city tier.")
    upstream: Upstream | None = Field(
        None, description="On a county: the prefecture's server, sent CAP messages; none: nothing goes up."
    )
    downstream: list[Downstream] = Field(
        default_factory=list, description="On a prefecture: the counties' servers, sent instructions."
    )
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
    def tree(self) -> JurisdictionTree:
        return JurisdictionTree(self.jurisdictions)

    @property
    def jurisdiction_by_id(self) -> dict[str, Jurisdiction]:
        return self.tree.by_id

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
        return self.tree.root

    def ancestors(self, jurisdiction_id: str) -> Iterator[Jurisdiction]:
        """The node itself, then its parent, up to the city."""
        return self.tree.ancestors(jurisdiction_id)

    def ancestor_at(self, jurisdiction_id: str, tier: Tier) -> Jurisdiction:
        """The node's ancestor at `tier`, or the node itself when it is above that tier."""
        return self.tree.ancestor_at(jurisdiction_id, tier)

    def is_within(self, jurisdiction_id: str, ancestor_id: str) -> bool:
        return self.tree.is_within(jurisdiction_id, ancestor_id)

    @model_validator(mode="after")
    def _cross_references(self) -> Self:
        _check_unique("jurisdictions", [node.id for node in self.jurisdictions])
        _check_unique("departments", [d.id for d in self.departments])
        _check_unique("categories", [c.id for c in self.categories])
        _check_unique("responders", [r.id for r in self.responders])
        check_tree(self.tree)
        check_siblings_apart(self.jurisdictions)
        self._check_policies()
        self._check_categories()
        self._check_responders()
        check_mutual_aid(self.mutual_aid, self.tree)
        self._check_alert_gateways()
        self._check_frigate()
        self._check_mqtt()
        self._check_links()
        return self

    def _check_links(self) -> None:
        if self.upstream is not None and self.prefecture is None:
            raise ValueError("upstream: is set but no `prefecture` (its id and name) is configured")
        counties: set[str] = set()
        for index, link in enumerate(self.downstream):
            if link.county not in self.jurisdiction_by_id:
                raise ValueError(f"downstream.{index}.county: unknown jurisdiction {link.county!r}")
            if link.county in counties:
                raise ValueError(f"downstream.{index}.county: {link.county!r} is listed twice")
            counties.add(link.county)

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
