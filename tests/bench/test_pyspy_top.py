"""bench.harness.pyspy_top: a raw py-spy profile's top frames, per thread."""

from __future__ import annotations

from bench.harness.pyspy_top import parse, report

HEAD = 'process 7:"python -m dispatch serve";thread (0x1): '
LINES = [
    HEAD + "dispatch-writer;_run (dispatch/storage/writer.py:10);_commit (dispatch/storage/writer.py:20);"
    "do_execute (sqlalchemy/engine/default.py:5) 6",
    HEAD + "dispatch-writer;_run (dispatch/storage/writer.py:11);get (queue.py:3) 2",
    HEAD + "MainThread;run (asyncio/base_events.py:1);EpollSelector.select (selectors.py:468) 3",
    HEAD + "MainThread;run (asyncio/base_events.py:1);_handle (gateways/mqtt_link.py:300) 1",
    "not a profile line",
]


def test_threads_are_split_idle_leaves_counted_and_our_frames_counted_once_per_sample() -> None:
    threads = parse(LINES, ("dispatch/", "gateways/"))
    writer = threads["dispatch-writer"]
    assert (writer.samples, writer.idle) == (8, 2)
    # lines of one function count as one frame, once per sample however deep
    assert writer.inclusive["_run (dispatch/storage/writer.py)"] == 8
    assert writer.inclusive["_commit (dispatch/storage/writer.py)"] == 6
    assert writer.leaves["do_execute (sqlalchemy/engine/default.py)"] == 6
    loop = threads["MainThread"]
    assert (loop.samples, loop.idle) == (4, 3)
    assert loop.inclusive["_handle (gateways/mqtt_link.py)"] == 1


def test_report_puts_the_busiest_thread_first() -> None:
    text = report(parse(LINES, ("dispatch/",)), top=3)
    assert text.index("dispatch-writer") < text.index("MainThread")
    assert "75.0%  _commit (dispatch/storage/writer.py)" in text
