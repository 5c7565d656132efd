"""The event log is hash-chained; `dispatch audit verify` names the first row tampered with."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from dispatch.cli import main
from dispatch.tables import event_table
from tests.conftest import Harness
from tests.factories import EAST_N, alert


async def _seed(server: Harness) -> int:
    await server.post_alert(alert("e1"))
    await server.post_alert(alert("e2", source="gauge-2", location=EAST_N))
    incident = await server.incident(1)
    await server.task_trigger(incident["tasks"][0]["id"], "accept", "grid-west-n-1")
    return int(
        await server.runtime.read(lambda c: c.execute(sa.select(sa.func.max(event_table.c.seq))).scalar())
    )


def _verify(database_url: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["audit", "verify", "--database", database_url])
    return code, capsys.readouterr().out


async def test_ledger_verify_passes_on_untouched_log(
    server: Harness, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    last = await _seed(server)

    code, out = _verify(database_url, capsys)

    assert code == 0
    assert out.strip() == f"ok: {last} events, hash chain intact"


def _edit_payload(c: sa.Connection) -> None:
    c.execute(event_table.update().where(event_table.c.seq == 3).values(payload='{"forged":true}'))


def _edit_actor(c: sa.Connection) -> None:
    c.execute(event_table.update().where(event_table.c.seq == 3).values(actor="someone-else"))


def _delete_middle(c: sa.Connection) -> None:
    c.execute(event_table.delete().where(event_table.c.seq == 3))


def _delete_last(c: sa.Connection) -> None:
    last = c.execute(sa.select(sa.func.max(event_table.c.seq))).scalar()
    c.execute(event_table.delete().where(event_table.c.seq == last))


def _insert_forged(c: sa.Connection) -> None:
    # Renumber to make room, as a careful forger would, and slip a row in at 3.
    rows = c.execute(sa.select(event_table).order_by(event_table.c.seq.desc())).mappings().all()
    for row in rows:
        if row["seq"] >= 3:
            c.execute(event_table.update().where(event_table.c.seq == row["seq"]).values(seq=row["seq"] + 1))
    forged = dict(rows[-3])
    forged.update(seq=3, type="incident_closed", payload="{}")
    c.execute(event_table.insert().values(**forged))


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (_edit_payload, "BROKEN at seq 3: row 3 was changed after it was written"),
        (_edit_actor, "BROKEN at seq 3: row 3 was changed after it was written"),
        (_delete_middle, "BROKEN at seq 3: row 3 is missing (next is 4)"),
        (_insert_forged, "BROKEN at seq 3: row 3 was changed after it was written"),
        (_delete_last, "were removed"),
    ],
    ids=["edit-payload", "edit-actor", "delete-middle", "insert", "delete-last"],
)
async def test_ledger_verify_names_first_tampered_row(
    server: Harness,
    database_url: str,
    engine_for: Callable[[str], Any],
    capsys: pytest.CaptureFixture[str],
    tamper: Callable[[sa.Connection], None],
    expected: str,
) -> None:
    await _seed(server)
    await server.client.close()
    with engine_for(database_url).begin() as connection:
        tamper(connection)

    code, out = _verify(database_url, capsys)

    assert code == 1
    assert expected in out


async def test_ledger_rows_are_chained_in_commit_order(server: Harness) -> None:
    await _seed(server)
    rows = await server.runtime.read(
        lambda c: c.execute(sa.select(event_table).order_by(event_table.c.seq)).mappings().all()
    )

    assert [row["seq"] for row in rows] == list(range(1, len(rows) + 1))
    assert all(row["prev_hash"] == prev["hash"] for prev, row in itertools.pairwise(rows))
