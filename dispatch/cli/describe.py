"""`dispatch config check` and `dispatch diagram`: files read and described, nothing written."""

from __future__ import annotations

from dispatch.config.model import load_config


def config_check(path: str) -> int:
    config = load_config(path)
    print(
        f"ok: {len(config.jurisdictions)} jurisdictions, {len(config.departments)} departments, "
        f"{len(config.categories)} categories, {len(config.policies)} policies, "
        f"{len(config.responders)} responders"
    )
    return 0


def diagram() -> int:
    from state_machines import DEPARTMENT_TASK, INCIDENT, TASK, mermaid

    print("Incident\n\n```mermaid\n" + mermaid(INCIDENT) + "\n```\n")
    print("Task\n\n```mermaid\n" + mermaid(TASK) + "\n```\n")
    print("Department task\n\n```mermaid\n" + mermaid(DEPARTMENT_TASK) + "\n```")
    return 0
