"""Escalation policies: ordered ladders of steps, each a tier with a time to accept."""

from __future__ import annotations

import itertools
from typing import Self

from pydantic import Field, model_validator

from dispatch.config.values import Seconds, Tier
from dispatch.shared.geo import Strict


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
    department_accept_within: Seconds = Field(
        600.0,
        description=(
            "How long a co-handling department (协办) has to accept its department task before the "
            "city center is alarmed (the task stays open and may still be accepted)."
        ),
    )
    resolve_with_open_departments: bool = Field(
        False,
        description=(
            "Whether the incident may be resolved while a co-handling department's task is still "
            "sent or accepted; false: resolve answers 409 department_part_open naming it."
        ),
    )
    steps: list[PolicyStep] = Field(min_length=1, description="Ordered steps, lowest tier first.")

    @model_validator(mode="after")
    def _tiers_climb(self) -> Self:
        depths = [step.tier.depth for step in self.steps]
        if any(later > earlier for earlier, later in itertools.pairwise(depths)):
            raise ValueError("steps must never move down a tier (street → town → city)")
        return self
