"""The jurisdiction tree: city → town → street nodes, the walks up it, and the checks of its shape."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from pydantic import Field

from dispatch.config.values import Identifier, Tier
from dispatch.shared.geo import OVERLAP_TOLERANCE, GeoPolygon, Position, Strict


class TierLabels(Strict):
    city: str = Field("市指挥中心", description="Label of the top tier.")
    town: str = Field("镇/街道指挥中心", description="Label of the middle tier.")
    street: str = Field("社区/村网格", description="Label of the bottom tier.")


class Jurisdiction(Strict):
    """One node of the jurisdiction tree."""

    id: Identifier = Field(description="Stable ASCII id, used on the wire.")
    name: str = Field(min_length=1, description="Display name.")
    tier: Tier = Field(description="city, town or street.")
    parent: Identifier | None = Field(None, description="Id of the parent node; none for the city.")
    center: Position = Field(description="Where the node's command post or centroid is.")
    polygon: GeoPolygon = Field(description="Area of responsibility (GeoJSON).")


class Prefecture(Strict):
    id: Identifier = Field(description="Id of the prefecture center above the city.")
    name: str = Field(description="Display name.")


class JurisdictionTree:
    """The nodes by id, and the walks from a node up to the city."""

    def __init__(self, nodes: Sequence[Jurisdiction]) -> None:
        self.nodes = nodes
        self.by_id: dict[str, Jurisdiction] = {node.id: node for node in nodes}

    @property
    def root(self) -> Jurisdiction:
        return next(node for node in self.nodes if node.parent is None)

    def ancestors(self, jurisdiction_id: str) -> Iterator[Jurisdiction]:
        """The node itself, then its parent, up to the city."""
        node: Jurisdiction | None = self.by_id[jurisdiction_id]
        while node is not None:
            yield node
            node = self.by_id.get(node.parent) if node.parent else None

    def ancestor_at(self, jurisdiction_id: str, tier: Tier) -> Jurisdiction:
        """The node's ancestor at `tier`, or the node itself when it is above that tier."""
        path = list(self.ancestors(jurisdiction_id))
        for node in path:
            if node.tier == tier:
                return node
        return path[0]

    def is_within(self, jurisdiction_id: str, ancestor_id: str) -> bool:
        return any(node.id == ancestor_id for node in self.ancestors(jurisdiction_id))


def check_tree(tree: JurisdictionTree) -> None:
    """One city root; each node one tier below its parent, inside it, its center inside itself."""
    roots = [node.id for node in tree.nodes if node.parent is None]
    if len(roots) != 1:
        raise ValueError(f"jurisdictions: exactly one node must have no parent, found {roots}")
    for index, node in enumerate(tree.nodes):
        where = f"jurisdictions.{index}"
        if node.parent is None:
            if node.tier != Tier.CITY:
                raise ValueError(f"{where}.tier: the root must be the city tier")
        else:
            parent = tree.by_id.get(node.parent)
            if parent is None:
                raise ValueError(f"{where}.parent: unknown jurisdiction {node.parent!r}")
            if node.tier.depth != parent.tier.depth + 1:
                raise ValueError(f"{where}.tier: a {parent.tier} node's children are {parent.tier.below()}")
            if not parent.polygon.covers(node.polygon.geometry):
                raise ValueError(f"{where}.polygon: not inside its parent {parent.id!r}")
        if not node.polygon.contains_position(node.center):
            raise ValueError(f"{where}.center: outside its own polygon")


def check_siblings_apart(nodes: Sequence[Jurisdiction]) -> None:
    """Children of one parent share edges at most, so a point has one owner per tier."""
    earlier: dict[str, list[Jurisdiction]] = {}
    for index, node in enumerate(nodes):
        if node.parent is None:
            continue
        siblings = earlier.setdefault(node.parent, [])
        for sibling in siblings:
            area = node.polygon.geometry.intersection(sibling.polygon.geometry).area
            if area > OVERLAP_TOLERANCE:
                raise ValueError(
                    f"jurisdictions.{index}.polygon: overlaps its sibling {sibling.id!r} "
                    f"({area:.3g} square degrees)"
                )
        siblings.append(node)
