"""The simulator's progress line: rewritten in place on a terminal, plain lines in a log."""

from __future__ import annotations

import io

import pytest

from dispatch.simulate.tally import Progress, Tally, fit


def _tally() -> Tally:
    tally = Tally(sent=312, received=309, duplicates=57, errors=3, tasks=48, accepted=35, declined=2)
    tally.unanswered, tally.arrived, tally.done = 6, 27, 19
    tally.incidents.update(range(41))
    tally.escalations.update(range(5))
    return tally


def test_simulate_progress_line_says_what_was_sent_and_what_came_back() -> None:
    progress = Progress(io.StringIO(), _tally(), "沅江市 flood-day seed 42", tty=False)

    assert progress.line(130.0) == (
        "沅江市 flood-day seed 42 · 2m10s · sent 312 alerts (202: 309, duplicates 57, errors 3) · "
        "incidents 41 · tasks 48: accepted 35, declined 2, unanswered 6 · arrived 27 · done 19 · "
        "escalations 5"
    )
    assert progress.line(130.0, behind=12.0).endswith(" · behind 12s (server slow)")


def test_simulate_progress_fits_a_narrow_terminal() -> None:
    assert fit("沅江市 flood-day", 80) == "沅江市 flood-day"
    assert fit("沅江市 flood-day", 9) == "沅江市 …"  # seven cells, and two for the ellipsis
    assert fit("sent 312 alerts", 8) == "sent 3…"


def test_simulate_progress_rewrites_one_line_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")
    out = io.StringIO()
    tally = _tally()
    progress = Progress(out, tally, "沅江市 flood-day seed 42", tty=True)

    progress.show(1.0)
    progress.note("dispatch simulate: POST /api/v1/alerts: 422 invalid: category: unknown")
    progress.show(2.0)
    tally.answered(0.012, "/api/v1/alerts")
    progress.finish(3.0)

    text = out.getvalue()
    assert progress.every == 1.0
    assert text.startswith("\r沅江市 flood-day seed 42 · 1s · ")
    assert "\x1b[K\r\x1b[Kdispatch simulate: POST /api/v1/alerts: 422" in text  # the note clears the line
    assert text.count("\n") == 3  # the note, the last progress line, the answer times
    assert text.endswith(
        "沅江市 flood-day seed 42 · answers p50 12 ms, p95 12 ms, slowest 12 ms (POST /api/v1/alerts)\n"
    )
