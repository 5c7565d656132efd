"""Configuration's public surface: config.yaml parsed once into validated, immutable models.

The models live in one module per section; this module names them all in one place, so
`from dispatch.config.model import Config, Tier, load_config` stays the way to reach them.
"""

from __future__ import annotations

from dispatch.config.departments import Category, Contact, Department
from dispatch.config.document import Config
from dispatch.config.gateways import (
    AlertmanagerGateway,
    CapGateway,
    Frigate,
    FrigateCamera,
    FrigatePlace,
    FrigateRule,
    Mqtt,
)
from dispatch.config.jurisdictions import Jurisdiction, JurisdictionTree, Prefecture, TierLabels
from dispatch.config.loader import ConfigError, load_config, parse_config
from dispatch.config.metrics import MetricsSettings
from dispatch.config.mutual_aid import MutualAid
from dispatch.config.policies import Policy, PolicyStep
from dispatch.config.responders import Responder
from dispatch.config.screens import Language, MapSettings, Sessions
from dispatch.config.server import (
    AuditSettings,
    Correlation,
    Intake,
    SqliteSynchronous,
    Storage,
    Web,
    WebSocket,
)
from dispatch.config.values import TIER_ORDER, Identifier, Seconds, Severity, Tier

__all__ = [
    "TIER_ORDER",
    "AlertmanagerGateway",
    "AuditSettings",
    "CapGateway",
    "Category",
    "Config",
    "ConfigError",
    "Contact",
    "Correlation",
    "Department",
    "Frigate",
    "FrigateCamera",
    "FrigatePlace",
    "FrigateRule",
    "Identifier",
    "Intake",
    "Jurisdiction",
    "JurisdictionTree",
    "Language",
    "MapSettings",
    "MetricsSettings",
    "Mqtt",
    "MutualAid",
    "Policy",
    "PolicyStep",
    "Prefecture",
    "Responder",
    "Seconds",
    "Sessions",
    "Severity",
    "SqliteSynchronous",
    "Storage",
    "Tier",
    "TierLabels",
    "Web",
    "WebSocket",
    "load_config",
    "parse_config",
]
