"""Departments (the horizontal sub-centers) and the incident categories each one leads."""

from __future__ import annotations

from pydantic import Field

from dispatch.config.link import Webhook
from dispatch.config.values import Identifier, Severity
from dispatch.shared.geo import Strict


class Contact(Strict):
    name: str = Field(description="Duty contact's name or desk.")
    phone: str = Field(description="Phone number of the duty desk.")


class Department(Strict):
    """A horizontal sub-center pulled into incidents as co-handler."""

    id: Identifier = Field(description="Stable ASCII id.")
    name: str = Field(description="Display name.")
    name_en: str | None = Field(None, description="Display name in English (the screens' English mode).")
    duty_contacts: list[Contact] = Field(default_factory=list, description="Who answers, around the clock.")
    webhook: Webhook | None = Field(
        None, description="Told in JSON when the department is pulled into an incident (outbox); none: off."
    )


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
