"""What an account or a token acts for (a subtree, a unit, a department), checked against config.yaml."""

from __future__ import annotations

from dispatch.access.principal import Role
from dispatch.config.model import Config


def account_scope_problem(
    config: Config, role: Role, jurisdiction: str | None, responder: str | None, department: str | None
) -> str | None:
    """Why an account may not be scoped so (the `dispatch user add` option at fault); None: it may."""
    if jurisdiction is not None and jurisdiction not in config.jurisdiction_by_id:
        return f"--jurisdiction: unknown jurisdiction {jurisdiction!r}"
    if role == Role.RESPONDER:
        if responder is None:
            return "--responder is required for the responder role"
        if responder not in config.responder_by_id:
            return f"--responder: unknown responder {responder!r}"
        if jurisdiction is not None:
            return "--jurisdiction does not go with --role responder (its unit's is used)"
    elif responder is not None:
        return "--responder only goes with --role responder"
    return department_problem(config, role, department)


def department_problem(config: Config, role: Role, department: str | None) -> str | None:
    """A department (sub-center) scopes a dispatcher only, and must be one of config.yaml's."""
    if department is None:
        return None
    if role != Role.DISPATCHER:
        return "--department only goes with --role dispatcher"
    if department not in config.department_by_id:
        known = ", ".join(config.department_by_id) or "none"
        return f"--department: unknown department {department!r} (config.yaml has: {known})"
    return None
