"""The lifecycle tables: every named callback exists, every state is reachable, diagrams render."""

from __future__ import annotations

import pytest

from dispatch.cli.main import main
from dispatch.core.department_tasks import DepartmentTaskLifecycle
from dispatch.core.incidents import IncidentLifecycle
from dispatch.core.tasks import TaskLifecycle
from state_machines import (
    DEPARTMENT_TASK,
    INCIDENT,
    TASK,
    DepartmentTaskState,
    IncidentState,
    Lifecycle,
    TaskState,
    mermaid,
)

LIFECYCLES = [INCIDENT, TASK, DEPARTMENT_TASK]
NAMES = ["incident", "task", "department_task"]


@pytest.mark.parametrize(
    ("lifecycle", "service"),
    [(INCIDENT, IncidentLifecycle), (TASK, TaskLifecycle), (DEPARTMENT_TASK, DepartmentTaskLifecycle)],
    ids=NAMES,
)
def test_tables_every_named_callback_exists_on_the_service(lifecycle: Lifecycle, service: type) -> None:
    missing = [name for name in lifecycle.callbacks() if not callable(getattr(service, name, None))]

    assert missing == []


@pytest.mark.parametrize("lifecycle", LIFECYCLES, ids=NAMES)
def test_tables_every_state_is_reachable_from_the_initial_one(lifecycle: Lifecycle) -> None:
    reached = {str(lifecycle.initial)}
    frontier = [str(lifecycle.initial)]
    while frontier:
        state = frontier.pop()
        for row in lifecycle.transitions:
            if state in row.source and row.dest is not None and str(row.dest) not in reached:
                reached.add(str(row.dest))
                frontier.append(str(row.dest))

    assert reached == {str(state) for state in lifecycle.states}


def test_tables_terminal_states() -> None:
    assert INCIDENT.terminal == {IncidentState.CLOSED, IncidentState.CANCELLED, IncidentState.MERGED}
    assert TASK.terminal == {TaskState.DONE, TaskState.DECLINED, TaskState.EXPIRED, TaskState.CANCELLED}
    assert DEPARTMENT_TASK.terminal == {
        DepartmentTaskState.DONE,
        DepartmentTaskState.DECLINED,
        DepartmentTaskState.CANCELLED,
    }


def test_tables_department_task_escalation_keeps_it_open_to_accept() -> None:
    assert [row.trigger for row in DEPARTMENT_TASK.transitions if row.dest is None] == ["escalate"]
    assert DEPARTMENT_TASK.triggers_from(DepartmentTaskState.SENT) == [
        "accept",
        "decline",
        "escalate",
        "cancel",
    ]


def test_tables_owner_changes_keep_the_state() -> None:
    keeps = {row.trigger for row in INCIDENT.transitions if row.dest is None}

    assert keeps == {"escalate", "delegate", "assign", "reassign", "add_department", "remove_department"}
    assert INCIDENT.triggers_from(IncidentState.ON_SCENE) == [
        "assign",
        "resolve",
        "cancel",
        "merge",
        "escalate",
        "delegate",
        "reassign",
        "add_department",
        "remove_department",
    ]


@pytest.mark.parametrize("lifecycle", LIFECYCLES, ids=NAMES)
def test_tables_mermaid_draws_every_arrow(lifecycle: Lifecycle) -> None:
    diagram = mermaid(lifecycle)

    assert diagram.startswith("stateDiagram-v2")
    for row in lifecycle.transitions:
        if row.dest is None:
            assert f"{row.trigger} keeps the state" in diagram
            continue
        for source in row.source:
            assert f"{source} --> {row.dest}: {row.trigger}" in diagram
    for state in lifecycle.terminal:
        assert f"{state} --> [*]" in diagram


def test_tables_diagram_command_prints_all_three(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagram"]) == 0
    out = capsys.readouterr().out
    assert out.count("```mermaid") == 3
    assert "sent --> accepted: accept" in out
    assert "reported --> verifying: verify" in out
    assert "pending --> accepted: accept" in out


@pytest.mark.parametrize("lifecycle", LIFECYCLES, ids=NAMES)
def test_tables_every_callback_kind_reaches_the_machine(lifecycle: Lifecycle) -> None:
    """prepare, conditions and after, as named in a row, are what `transitions` is given."""
    for row, given in zip(lifecycle.transitions, lifecycle.table(), strict=True):
        assert given.get("prepare") == row.prepare
        assert given.get("after") == row.after
        assert given.get("conditions", []) == list(row.conditions)
        assert row.callbacks() <= lifecycle.callbacks()


def test_tables_triggers_that_name_something_are_planned_before_they_run() -> None:
    """A trigger whose request names a responder, task, department, place or incident checks it
    in its `prepare` callback, so that a bad request changes nothing."""
    planned = {str(row.trigger) for row in INCIDENT.transitions if row.prepare}

    assert planned == {
        "assign",
        "resolve",
        "merge",
        "escalate",
        "delegate",
        "reassign",
        "add_department",
        "remove_department",
    }
