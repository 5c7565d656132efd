"""Config `mutual_aid`: rules naming jurisdictions that do not exist are refused at load."""

from __future__ import annotations

from typing import Any

import pytest

from dispatch.access.auth import Principal, Role
from dispatch.access.authz import responder_scope
from dispatch.config.model import ConfigError
from tests.factories import make_config


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        (
            [{"borrower": "atlantis", "lenders": ["east"]}],
            "test config: mutual_aid.0.borrower: unknown jurisdiction 'atlantis'",
        ),
        (
            [{"borrower": "west", "lenders": ["east", "atlantis"]}],
            "test config: mutual_aid.0.lenders.1: unknown jurisdiction 'atlantis'",
        ),
        (
            [{"borrower": "west", "lenders": ["west-n"]}],
            "test config: mutual_aid.0.lenders.0: 'west-n' is inside 'west', "
            "whose dispatchers task its units already",
        ),
        (
            [{"borrower": "west", "lenders": []}],
            "test config: mutual_aid.0.lenders: List should have at least 1 item after validation, not 0",
        ),
        (
            [{"borrower": "west", "lender": ["east"]}],
            "test config: mutual_aid.0.lenders: Field required (and 1 more)",
        ),
    ],
    ids=["unknown-borrower", "unknown-lender", "lender-inside-borrower", "no-lenders", "misspelt-key"],
)
def test_mutual_aid_refuses_rules_naming_the_path(rules: list[dict[str, Any]], expected: str) -> None:
    with pytest.raises(ConfigError) as refused:
        make_config(mutual_aid=rules)

    assert str(refused.value) == expected


@pytest.mark.parametrize(
    ("dispatcher", "units"),
    [
        ("west", ["west", "west-n", "west-s", "east", "east-n", "east-s"]),
        ("west-n", ["west-n", "east", "east-n", "east-s"]),  # a street of the borrower borrows too
        ("east", ["east", "east-n", "east-s"]),  # lending is one way
    ],
)
def test_mutual_aid_adds_the_lenders_subtrees_to_whose_units_a_dispatcher_tasks(
    dispatcher: str, units: list[str]
) -> None:
    config = make_config(mutual_aid=[{"borrower": "west", "lenders": ["east"]}])

    found = responder_scope(Principal(Role.DISPATCHER, "desk", jurisdiction_id=dispatcher), config)

    assert found == units
