"""A pass's roster of free units (`Tx.keeping_roster`): a unit taken leaves its own jurisdiction's list."""

from __future__ import annotations

from typing import Any, cast

from dispatch.storage.records import Responder
from dispatch.storage.writer import Tx


def _unit(unit_id: str, jurisdiction_id: str) -> Responder:
    return Responder(unit_id, unit_id, jurisdiction_id, None, [], "available", 28.8, 112.3, None, 0.0)


def _tx() -> Tx:
    nothing = cast(Any, None)
    return Tx(connection=nothing, now=0.0, ids=nothing, ledger=nothing)


def test_a_unit_taken_leaves_only_its_own_jurisdictions_list() -> None:
    tx = _tx()
    with tx.keeping_roster():
        west = [_unit("w1", "west"), _unit("w2", "west")]
        east = [_unit("e1", "east")]
        tx.keep_roster("west", west)
        tx.keep_roster("east", east)
        tx.roster_changed("w1", available=False)
        assert tx.roster is not None
        assert [unit.id for unit in tx.roster["west"]] == ["w2"]
        assert tx.roster["east"] is east  # untouched, not even copied
        assert [unit.id for unit in west] == ["w1", "w2"]  # the list read is not mutated
        tx.roster_changed("nobody-read", available=False)
        assert [unit.id for unit in tx.roster["west"]] == ["w2"]
        tx.roster_changed("e1", available=True)  # a unit coming free: everything is read afresh
        assert tx.roster == {}
    assert tx.roster is None


def test_outside_keeping_roster_nothing_is_kept() -> None:
    tx = _tx()
    tx.keep_roster("west", [_unit("w1", "west")])
    tx.roster_changed("w1", available=False)
    assert tx.roster is None
    assert tx.roster_home == {}
