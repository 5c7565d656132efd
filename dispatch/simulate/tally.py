"""What the simulator sent and what came back, counted, and the one progress line that shows it."""

from __future__ import annotations

import re
import shutil
import unicodedata
from dataclasses import dataclass, field
from typing import TextIO

FIRST_ERRORS_SHOWN = 5
"""Distinct server errors printed with their message; the rest are only counted."""
KEPT_ANSWER_TIMES = 10_000
_NUMBER = re.compile(r"/\d+")


@dataclass
class Tally:
    sent: int = 0
    """Alerts sent: sensor readings, Frigate messages and hotline calls."""
    over_mqtt: int = 0
    received: int = 0
    """Answered 202 (committed)."""
    duplicates: int = 0
    ignored: int = 0
    """Answered 200 ignored: Frigate objects below the score, in a cooldown, …"""
    errors: int = 0
    incidents: set[int] = field(default_factory=set)
    tasks: int = 0
    """Tasks that reached a simulated tablet."""
    accepted: int = 0
    declined: int = 0
    unanswered: int = 0
    """Tasks of simulated tablets that expired: nobody accepted in time."""
    refused: int = 0
    """Tablet triggers the server refused (the task was cancelled or expired meanwhile)."""
    arrived: int = 0
    done: int = 0
    resolved: int = 0
    co_handling: int = 0
    """Departments the simulated duty desk pulled into incidents as co-handlers (协办)."""
    instructions: int = 0
    """Instructions the simulated prefecture desk sent down to the county (`--prefecture`)."""
    escalations: set[int] = field(default_factory=set)
    """Sequence numbers of `incident_escalated` events the tablets saw."""
    reconnects: int = 0
    """Times a tablet's socket dropped and it logged on again."""
    error_kinds: dict[str, int] = field(default_factory=dict)
    answer_times: list[float] = field(default_factory=list)
    """Seconds the server took to answer HTTP requests (the latest KEPT_ANSWER_TIMES)."""
    slowest: tuple[float, str] = (0.0, "")

    def answered(self, seconds: float, path: str) -> None:
        self.answer_times.append(seconds)
        if len(self.answer_times) > 2 * KEPT_ANSWER_TIMES:
            del self.answer_times[:KEPT_ANSWER_TIMES]
        if seconds > self.slowest[0]:
            self.slowest = (seconds, _NUMBER.sub("/{id}", path))

    def answer_summary(self) -> str:
        """p50 12 ms, p95 40 ms, slowest 230 ms (POST /api/v1/alerts)."""
        times = sorted(self.answer_times)
        if not times:
            return "no HTTP answers"

        def ms(seconds: float) -> str:
            return f"{seconds * 1000:.0f} ms"

        p50, p95 = times[len(times) // 2], times[min(len(times) - 1, int(len(times) * 0.95))]
        return f"answers p50 {ms(p50)}, p95 {ms(p95)}, slowest {ms(self.slowest[0])} (POST {self.slowest[1]})"


class Progress:
    """One line, rewritten in place every second on a terminal; a plain line every 10 s otherwise."""

    def __init__(self, out: TextIO, tally: Tally, label: str, *, tty: bool) -> None:
        self.out = out
        self.tally = tally
        self.label = label
        self.tty = tty
        self.every = 1.0 if tty else 10.0
        self._drawn = False
        self._last = ""

    def line(self, elapsed: float, behind: float = 0.0) -> str:
        t = self.tally
        answers = [f"202: {t.received}", f"duplicates {t.duplicates}"]
        if t.ignored:
            answers.append(f"ignored {t.ignored}")
        answers.append(f"errors {t.errors}")
        sent = f"sent {t.sent} alerts ({', '.join(answers)})"
        if t.over_mqtt:
            sent += f" incl. mqtt {t.over_mqtt}"
        parts = [
            self.label,
            duration_text(elapsed),
            sent,
            f"incidents {len(t.incidents)}",
            f"tasks {t.tasks}: accepted {t.accepted}, declined {t.declined}, unanswered {t.unanswered}",
            f"arrived {t.arrived}",
            f"done {t.done}",
            f"escalations {len(t.escalations)}",
        ]
        if t.resolved:
            parts.append(f"resolved {t.resolved}")
        if t.co_handling:
            parts.append(f"co-handling departments {t.co_handling}")
        if t.instructions:
            parts.append(f"prefecture instructions {t.instructions}")
        if t.reconnects:
            parts.append(f"tablet reconnects {t.reconnects}")
        if behind >= 5.0:
            parts.append(f"behind {duration_text(behind)} (server slow)")
        return " · ".join(parts)

    def show(self, elapsed: float, behind: float = 0.0) -> None:
        text = self.line(elapsed, behind)
        if text == self._last and not self.tty:
            return  # a log needs no second copy of the same line
        self._last = text
        if self.tty:
            # A line longer than the terminal wraps, and \r would then rewrite only its tail.
            self.out.write(f"\r{fit(text, shutil.get_terminal_size().columns - 1)}\x1b[K")
            self._drawn = True
        else:
            self.out.write(text + "\n")
        self.out.flush()

    def note(self, message: str) -> None:
        """A line of its own above the progress line."""
        if self.tty and self._drawn:
            self.out.write("\r\x1b[K")
            self._drawn = False
        self.out.write(message + "\n")
        self.out.flush()

    def finish(self, elapsed: float) -> None:
        if self.tty:
            self.out.write(f"\r\x1b[K{self.line(elapsed)}\n")  # the last one whole, wrapped or not
        else:
            self.show(elapsed)
        self.out.write(f"{self.label} · {self.tally.answer_summary()}\n")
        self.out.flush()
        self._drawn = False


def fit(text: str, columns: int) -> str:
    """The text cut to `columns` terminal cells (Chinese characters take two), ending in … if cut.

    The ellipsis is given two cells: Chinese terminals draw it wide.
    """
    widths = [2 if unicodedata.east_asian_width(char) in ("W", "F") else 1 for char in text]
    if sum(widths) <= columns:
        return text
    used = 0
    for index, width in enumerate(widths):
        if used + width > columns - 2:
            return text[:index] + "…"
        used += width
    return text


def duration_text(seconds: float) -> str:
    """2m10s, 1h05m, 45s."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"
