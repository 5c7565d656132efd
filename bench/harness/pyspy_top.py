"""The top of a `py-spy record --format raw --threads` profile, per thread.

    .venv/bin/python -m bench.harness.pyspy_top PROFILE.txt [--top 15] [--match dispatch/,gateways/]

Raw lines are `frame;frame;…;leaf COUNT`, the first frames naming the process and the thread.
For each thread: its samples, the share idle (the leaf waits: select, poll, a lock, a queue's
get, sleep), then the frames of our code (`--match`) by inclusive share (every sample whose
stack passes through them, each counted once per sample), and the leaves by self share.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

IDLE = {"select", "poll", "wait", "_wait_for_tstate_lock", "acquire", "get", "sleep", "_worker"}
"""Leaf functions that wait (the loop's select, a queue's get, a thread pool's idle worker)."""
THREAD = re.compile(r"^thread \(\w+\): ?(.*)$")


@dataclass
class ThreadProfile:
    name: str
    samples: int = 0
    idle: int = 0
    inclusive: Counter[str] = field(default_factory=Counter)
    leaves: Counter[str] = field(default_factory=Counter)


def _frame(text: str) -> str:
    """`function (path/file.py:line)` → `function (path/file.py)`: lines apart count as one."""
    return re.sub(r":\d+\)$", ")", text.strip())


def parse(lines: list[str], match: tuple[str, ...]) -> dict[str, ThreadProfile]:
    threads: dict[str, ThreadProfile] = {}
    for line in lines:
        stack, _, count_text = line.rstrip().rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = stack.split(";")
        names = [found.group(1) or "thread" for part in frames[:3] if (found := THREAD.match(part))]
        name = names[0] if names else "?"
        body = [_frame(part) for part in frames if not part.startswith(("process ", "thread ("))]
        count = int(count_text)
        profile = threads.setdefault(name, ThreadProfile(name))
        profile.samples += count
        leaf = body[-1] if body else "?"
        if leaf.split(" (")[0].rsplit(".", 1)[-1] in IDLE:
            profile.idle += count
        profile.leaves[leaf] += count
        for frame in {frame for frame in body if any(part in frame for part in match)}:
            profile.inclusive[frame] += count
    return threads


def report(threads: dict[str, ThreadProfile], top: int) -> str:
    lines = []
    total = sum(profile.samples for profile in threads.values()) or 1
    for profile in sorted(threads.values(), key=lambda p: p.samples - p.idle, reverse=True):
        busy = profile.samples - profile.idle
        share, idle = profile.samples / total, profile.idle / max(1, profile.samples)
        lines.append(
            f"\n## thread {profile.name}: {profile.samples:,} samples ({share:.0%} of all), "
            f"idle {idle:.0%}, busy {busy:,}"
        )
        if busy <= 0:
            continue
        lines.append("inclusive (our code), share of the thread's samples:")
        for frame, count in profile.inclusive.most_common(top):
            lines.append(f"  {count / profile.samples:6.1%}  {frame}")
        lines.append("leaves (self), share of the thread's samples:")
        for frame, count in profile.leaves.most_common(top):
            lines.append(f"  {count / profile.samples:6.1%}  {frame}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.harness.pyspy_top", description=__doc__.splitlines()[0]
    )
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--match", default="dispatch/,gateways/,web/", help="comma list of path parts")
    args = parser.parse_args(argv)
    lines = args.profile.read_text(errors="replace").splitlines()
    print(report(parse(lines, tuple(args.match.split(","))), args.top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
