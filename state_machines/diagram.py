"""Mermaid rendering of a lifecycle table, for the README and `dispatch diagram`."""

from __future__ import annotations

from state_machines.lifecycle import Lifecycle


def mermaid(lifecycle: Lifecycle) -> str:
    lines = ["stateDiagram-v2", f"    [*] --> {lifecycle.initial}"]
    for row in lifecycle.transitions:
        for source in row.source:
            dest = row.dest or source
            lines.append(f"    {source} --> {dest}: {row.trigger}")
    for state in sorted(lifecycle.terminal):
        lines.append(f"    {state} --> [*]")
    return "\n".join(lines)
