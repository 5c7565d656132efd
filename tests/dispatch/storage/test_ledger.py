"""The event log is chained under a key; `dispatch audit verify` names the first row tampered with."""

from __future__ import annotations

import hashlib
import hmac
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from dispatch.cli.main import main
from dispatch.storage.audit_key import AuditKeyError, load_key
from dispatch.storage.tables import chain_head_table, event_table
from tests.conftest import AUDIT_KEY, Harness, ServerFactory
from tests.factories import EAST_N, alert

CONFIG = Path(__file__).parents[3] / "config.yaml"


@pytest.fixture(autouse=True)
def audit_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line finds the servers' key where an operator puts it: the environment."""
    monkeypatch.setenv("DISPATCH_AUDIT_KEY", AUDIT_KEY.secret.decode())


async def _seed(server: Harness) -> int:
    await server.post_alert(alert("e1"))
    await server.post_alert(alert("e2", source="gauge-2", location=EAST_N))
    incident = await server.incident(1)
    await server.task_trigger(incident["tasks"][0]["id"], "accept", "grid-west-n-1")
    return int(
        await server.runtime.read(lambda c: c.execute(sa.select(sa.func.max(event_table.c.seq))).scalar())
    )


def _verify(database_url: str, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    code = main(["audit", "verify", "--database", database_url, *extra])
    return code, capsys.readouterr().out


def _head(database_url: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["audit", "head", "--database", database_url]) == 0
    return capsys.readouterr().out.strip()


async def test_ledger_verify_passes_on_untouched_log(
    server: Harness, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    last = await _seed(server)

    code, out = _verify(database_url, capsys)

    assert code == 0
    assert (
        out.strip()
        == f"ok: {last} events, chain intact and signed with the audit key {AUDIT_KEY.fingerprint}"
    )


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


# A forger who can write the database, without the key ----------------------------------------


def _material(prev_hash: str, row: Any) -> bytes:
    """What a row's hash covers, as dispatch/storage/ledger.py lays it out (a forger can read the code)."""
    columns = ["seq", "occurred_at", "actor", "causation_id", "incident_id", "task_id", "type", "payload"]
    values = [row[name] for name in columns]
    values[1] = repr(float(values[1]))
    return orjson.dumps([prev_hash, *values])


def _sha256(prev_hash: str, row: Any) -> str:
    return hashlib.sha256(_material(prev_hash, row)).hexdigest()


def _other_key(prev_hash: str, row: Any) -> str:
    return hmac.new(
        b"a-key-the-forger-made-up-0123456789", _material(prev_hash, row), hashlib.sha256
    ).hexdigest()


def _rechain(c: sa.Connection, hash_of: Callable[[str, Any], str], start: int) -> None:
    """Recompute every hash from `start` on, and the head, as if the rows had been written so."""
    rows = c.execute(sa.select(event_table).order_by(event_table.c.seq)).mappings().all()
    prev = rows[start - 2]["hash"] if start > 1 else "0" * 64
    for row in rows[start - 1 :]:
        new = hash_of(prev, row)
        c.execute(
            event_table.update().where(event_table.c.seq == row["seq"]).values(prev_hash=prev, hash=new)
        )
        prev = new
    c.execute(chain_head_table.update().values(seq=rows[-1]["seq"], hash=prev))


@pytest.mark.parametrize(
    ("hash_of", "expected"),
    [
        (_sha256, "BROKEN at seq 3: row 3 was re-chained without the audit key"),
        (_other_key, "BROKEN at seq 3: row 3 was changed after it was written"),
    ],
    ids=["unkeyed", "wrong-key"],
)
async def test_ledger_verify_catches_an_edit_with_the_chain_recomputed(
    server: Harness,
    database_url: str,
    engine_for: Callable[[str], Any],
    capsys: pytest.CaptureFixture[str],
    hash_of: Callable[[str, Any], str],
    expected: str,
) -> None:
    await _seed(server)
    await server.client.close()
    with engine_for(database_url).begin() as connection:
        _edit_payload(connection)
        _rechain(connection, hash_of, 3)

    code, out = _verify(database_url, capsys)

    assert code == 1
    assert out.strip().startswith(expected)


async def test_ledger_verify_with_an_exported_head_catches_the_tail_cut_with_the_chain_head(
    server: Harness,
    database_url: str,
    engine_for: Callable[[str], Any],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    await _seed(server)
    head = _head(database_url, capsys)
    taken = orjson.loads(head)["seq"]
    await server.post_alert(alert("e3", source="gauge-3", location=EAST_N))
    await server.client.close()
    kept = taken - 2
    with engine_for(database_url).begin() as connection:
        last_kept = connection.execute(
            sa.select(event_table.c.hash).where(event_table.c.seq == kept)
        ).scalar_one()
        connection.execute(event_table.delete().where(event_table.c.seq > kept))
        connection.execute(chain_head_table.update().values(seq=kept, hash=last_kept))
    heads = tmp_path / "heads"
    heads.write_text(f"{head}\n")

    alone = _verify(database_url, capsys)
    with_text = _verify(database_url, capsys, "--head", head)
    with_file = _verify(database_url, capsys, "--head", str(heads))

    assert alone[0] == 0  # the log alone cannot tell: what it holds is intact
    expected = (
        f"BROKEN at seq {taken}: the log was cut below the exported head of {orjson.loads(head)['at']}: "
    )
    assert with_text[0] == with_file[0] == 1
    assert with_text[1].startswith(expected + f"it ends at row {kept}, the head says {taken}")
    assert with_file[1] == with_text[1]


async def test_ledger_verify_with_an_exported_head_passes_on_a_log_grown_since(
    server: Harness, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await _seed(server)
    head = _head(database_url, capsys)
    await server.post_alert(alert("e3", source="gauge-3", location=EAST_N))
    await server.client.close()

    code, out = _verify(database_url, capsys, "--head", head)

    assert code == 0
    assert f"reaches the exported head of {orjson.loads(head)['at']} (row {orjson.loads(head)['seq']})" in out


async def test_ledger_verify_with_an_exported_head_catches_a_rewrite_up_to_it(
    server: Harness,
    database_url: str,
    engine_for: Callable[[str], Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whoever has the key as well can rewrite the chain; a head kept elsewhere still tells."""
    await _seed(server)
    head = _head(database_url, capsys)
    await server.client.close()

    def with_the_key(prev_hash: str, row: Any) -> str:
        return hmac.new(AUDIT_KEY.secret, _material(prev_hash, row), hashlib.sha256).hexdigest()

    with engine_for(database_url).begin() as connection:
        _edit_payload(connection)
        _rechain(connection, with_the_key, 3)

    assert _verify(database_url, capsys)[0] == 0
    code, out = _verify(database_url, capsys, "--head", head)
    seq = orjson.loads(head)["seq"]
    assert code == 1
    assert out.startswith(f"BROKEN at seq {seq}: row {seq} is not the row of the exported head")


async def test_ledger_verify_with_the_wrong_key_says_so(
    server: Harness, database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    await _seed(server)
    head = _head(database_url, capsys)
    await server.client.close()
    monkeypatch.setenv("DISPATCH_AUDIT_KEY", "not-the-key-the-log-was-written-with-0123")

    code, out = _verify(database_url, capsys)
    head_code, head_out = _verify(database_url, capsys, "--head", head)

    assert code == head_code == 1
    assert out.startswith("BROKEN: no row of the log is signed with this audit key")
    assert head_out == out  # the chain is checked first


@pytest.mark.parametrize(
    ("head", "message"),
    [
        ("{}", "--head: not a signed head"),
        ("/nonexistent/heads", "--head: neither a signed head nor a readable file"),
    ],
)
async def test_ledger_verify_refuses_what_is_not_a_head(
    database_url: str, capsys: pytest.CaptureFixture[str], head: str, message: str
) -> None:
    code = main(["audit", "verify", "--database", database_url, "--head", head])
    assert code == 2 and capsys.readouterr().err.startswith(f"error: {message}")


async def test_ledger_verify_without_a_key_names_where_it_looks(
    database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DISPATCH_AUDIT_KEY")
    code = main(["audit", "verify", "--database", database_url, "--config", str(CONFIG)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: no audit key") and "DISPATCH_AUDIT_KEY" in err


async def test_ledger_serve_on_postgresql_without_a_key_refuses_in_one_line(
    postgres_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DISPATCH_AUDIT_KEY")

    code = main(["serve", "--config", str(CONFIG), "--database", postgres_url, "--port", "0"])

    printed = capsys.readouterr()
    assert code == 2 and printed.out == ""
    assert printed.err.startswith("error: no audit key: a PostgreSQL database needs one outside it")
    assert len(printed.err.strip().splitlines()) == 1


async def test_ledger_sqlite_key_file_is_made_once_next_to_the_database_owner_only(
    sqlite_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    made = load_key(None, sqlite_url, None, create=True)
    again = load_key(None, sqlite_url, None, create=False)

    path = tmp_path / "dispatch.db.audit-key"
    assert made == again and made.origin == str(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert f"made a new audit key {path}" in caplog.text
    with pytest.raises(AuditKeyError, match="too short"):
        load_key(None, sqlite_url, "short", create=False)


# Logs from before the key ----------------------------------------------------------------------


async def test_ledger_rekey_signs_a_log_chained_before_the_key(
    server: Harness,
    database_url: str,
    engine_for: Callable[[str], Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    last = await _seed(server)
    await server.client.close()
    with engine_for(database_url).begin() as connection:
        _rechain(connection, _sha256, 1)  # as the previous release wrote it

    before = _verify(database_url, capsys)
    rekeyed = main(["audit", "rekey", "--database", database_url]), capsys.readouterr().out
    after = _verify(database_url, capsys)

    assert before[0] == 1 and before[1].startswith(
        "BROKEN at seq 1: row 1 onwards were chained without the audit key"
    )
    assert rekeyed == (
        0,
        f"ok: {last} events signed with the audit key {AUDIT_KEY.fingerprint} (the environment "
        "(DISPATCH_AUDIT_KEY))\n",
    )
    assert after[0] == 0


async def test_ledger_server_on_a_log_chained_before_the_key_warns_and_rekey_may_run_beside_it(
    make_server: ServerFactory,
    database_url: str,
    engine_for: Callable[[str], Any],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    first = await make_server()
    await _seed(first)
    await first.client.close()
    with engine_for(database_url).begin() as connection:
        _rechain(connection, _sha256, 1)  # as the previous release wrote it

    again = await make_server()
    await again.post_alert(alert("e3", source="gauge-3", location=EAST_N))  # signed, after the old rows
    assert main(["audit", "rekey", "--database", database_url]) == 0  # moves the head under the writer
    await again.post_alert(alert("e4", source="gauge-4", location=EAST_N))  # re-chained after the rekey
    last = await again.runtime.read(lambda c: c.execute(sa.select(sa.func.max(event_table.c.seq))).scalar())
    await again.client.close()

    assert "the event log begins with rows chained without the audit key" in caplog.text
    capsys.readouterr()
    assert _verify(database_url, capsys) == (
        0,
        f"ok: {last} events, chain intact and signed with the audit key {AUDIT_KEY.fingerprint}\n",
    )


async def test_ledger_rekey_refuses_a_log_tampered_with(
    server: Harness,
    database_url: str,
    engine_for: Callable[[str], Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    await _seed(server)
    await server.client.close()
    with engine_for(database_url).begin() as connection:
        _rechain(connection, _sha256, 1)
        _edit_actor(connection)
    code = main(["audit", "rekey", "--database", database_url])
    assert code == 1 and capsys.readouterr().out.startswith(
        "BROKEN at seq 3: row 3 was changed after it was written"
    )
    assert _verify(database_url, capsys)[0] == 1


# What else is an event -------------------------------------------------------------------------


async def _events(server: Harness, type_: str) -> list[dict[str, Any]]:
    rows = await server.runtime.read(
        lambda c: (
            c.execute(sa.select(event_table).where(event_table.c.type == type_).order_by(event_table.c.seq))
            .mappings()
            .all()
        )
    )
    return [{**row, "payload": orjson.loads(row["payload"])} for row in rows]


async def test_ledger_responder_status_changes_are_events(server: Harness) -> None:
    await server.post_alert(alert("e1"))
    incident = await server.incident(1)
    task = incident["tasks"][0]
    await server.task_trigger(task["id"], "decline", task["responder_id"])

    changes = await _events(server, "responder_status_changed")

    assert [(each["actor"], each["payload"]) for each in changes[:2]] == [
        (
            "gateway:gateway",
            {
                "responder_id": task["responder_id"],
                "from_status": "available",
                "to_status": "busy",
                "for_incident_id": 1,
                "for_task_id": task["id"],
            },
        ),
        (
            f"responder:{task['responder_id']}",
            {
                "responder_id": task["responder_id"],
                "from_status": "busy",
                "to_status": "available",
                "for_incident_id": 1,
                "for_task_id": task["id"],
            },
        ),
    ]
    assert "responder_status_changed" not in [each["type"] for each in (await server.incident(1))["timeline"]]
