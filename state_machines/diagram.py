"""Mermaid rendering of a lifecycle table, for the README and `dispatch diagram`."""

from __future__ import annotations

from state_machines.lifecycle import Lifecycle


def mermaid(lifecycle: Lifecycle) -> str:
    """Arrows for state changes; triggers that keep the state go in one note, not in loops."""
    lines = ["stateDiagram-v2", f"    [*] --> {lifecycle.initial}"]
    keeping: dict[str, list[str]] = {}
    for row in lifecycle.transitions:
        if row.dest is None:
            keeping.setdefault(str(row.trigger), [str(state) for state in row.source])
            continue
        for source in row.source:
            lines.append(f"    {source} --> {row.dest}: {row.trigger}")
    for state in sorted(lifecycle.terminal):
        lines.append(f"    {state} --> [*]")
    if keeping:
        anchor = str(lifecycle.initial)
        lines.append(f"    note right of {anchor}")
        for trigger, sources in keeping.items():
            lines.append(f"        {trigger} keeps the state (from {', '.join(sources)})")
        lines.append("    end note")
    return "\n".join(lines)
