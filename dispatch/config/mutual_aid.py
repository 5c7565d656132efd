"""Mutual aid: which jurisdiction subtrees may task the units of which others (config `mutual_aid`)."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from dispatch.config.jurisdictions import JurisdictionTree
from dispatch.config.values import Identifier
from dispatch.shared.geo import Strict


class MutualAid(Strict):
    """One standing agreement: the borrower's dispatchers may assign the lenders' units."""

    borrower: Identifier = Field(
        description="A jurisdiction: its dispatchers, and those of every node under it, may borrow."
    )
    lenders: list[Identifier] = Field(
        min_length=1,
        description="Jurisdictions whose units (theirs and those of every node under them) may be assigned.",
    )


def check_mutual_aid(rules: Sequence[MutualAid], tree: JurisdictionTree) -> None:
    """Every id names a jurisdiction, and a lender is not already inside its borrower."""
    known = tree.by_id
    for index, rule in enumerate(rules):
        where = f"mutual_aid.{index}"
        if rule.borrower not in known:
            raise ValueError(f"{where}.borrower: unknown jurisdiction {rule.borrower!r}")
        for place, lender in enumerate(rule.lenders):
            if lender not in known:
                raise ValueError(f"{where}.lenders.{place}: unknown jurisdiction {lender!r}")
            if tree.is_within(lender, rule.borrower):
                raise ValueError(
                    f"{where}.lenders.{place}: {lender!r} is inside {rule.borrower!r}, "
                    "whose dispatchers task its units already"
                )


def lenders_to(rules: Sequence[MutualAid], tree: JurisdictionTree, jurisdiction_id: str) -> set[str]:
    """The jurisdictions whose units dispatchers of `jurisdiction_id` may borrow."""
    return {
        lender for rule in rules if tree.is_within(jurisdiction_id, rule.borrower) for lender in rule.lenders
    }
