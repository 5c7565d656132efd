"""Frigate floods held back: what was passed on per alert, and the cooldown per camera/zone/label.

`PassedOn` remembers what was last passed on to each alert, so a flood of updates of one object
writes nothing. Distinct objects of one camera, zone and label (a crowd, a flock of boats, a
flickering flame) would still open one alert each; `Cooldown` holds those back for
`frigate.cooldown` after an alert, events and reviews alike. Both live in memory, owned by
whoever feeds the intake (`FrigateGateway`, one per process).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dispatch.config.model import Config
from dispatch.intake.alerts import AlertIn
from gateways.frigate import (
    FrigateEvent,
    FrigateReview,
    Ignored,
    IgnoredReason,
    Matched,
    changes,
    frigate_attributes,
    interpret,
    interpret_review,
)


class PassedOn:
    """Per alert, the `frigate` attributes last passed on to its row. Memory is bounded.

    An update is worth a write only when `changes` finds something against these; a forgotten
    (or never seen) alert is unknown here, and its row is the judge instead.
    """

    def __init__(self, max_objects: int = 10_000) -> None:
        self.max_objects = max_objects
        self._last: OrderedDict[tuple[str, str], Mapping[str, Any]] = OrderedDict()

    def changes(self, alert: AlertIn) -> dict[str, list[Any]] | None:
        """What changed since the alert's attributes were last passed on; None: not known here."""
        last = self._last.get((alert.source, alert.source_event_id))
        if last is None:
            return None
        return changes(last, frigate_attributes(alert.attributes))

    def remember(self, source: str, source_event_id: str, attributes: Mapping[str, Any]) -> None:
        """The row of (source, source_event_id) now holds `attributes` (the whole alert's)."""
        key = (source, source_event_id)
        self._last[key] = frigate_attributes(attributes)
        self._last.move_to_end(key)
        while len(self._last) > self.max_objects:
            self._last.popitem(last=False)


# Floods -------------------------------------------------------------------------------------


class Cooldown:
    """Per camera/zone/label: after one alert, other objects and review items are ignored a while.

    The object (or review item) that opened the window keeps passing (its updates must stay
    answerable as duplicates); so do those already let through. A tracked object that already
    has an alert, its own or its review's, never opens a second one: an event of an object a
    review covers, or a review covering an object alerted on, is held back too. Memory is bounded.
    """

    def __init__(self, seconds: float, max_objects: int = 10_000) -> None:
        self.seconds = seconds
        self.max_objects = max_objects
        self._opened: dict[tuple[str, str, str], float] = {}
        self._admitted: OrderedDict[str, None] = OrderedDict()
        self._alerted: OrderedDict[str, None] = OrderedDict()
        """Frigate object ids (camera/id) standing behind an admitted alert."""

    def admit(self, matched: Matched, now: float) -> bool:
        alert_id = matched.alert.source + "/" + matched.alert.source_event_id
        camera = matched.cooldown_key[0]
        objects = [f"{camera}/{each}" for each in matched.objects]
        if alert_id in self._admitted:
            self._admitted.move_to_end(alert_id)
            self._remember(self._alerted, objects)
            return True
        if any(each in self._alerted for each in objects):
            return False
        opened = self._opened.get(matched.cooldown_key)
        if opened is not None and now - opened < self.seconds:
            return False
        self._opened[matched.cooldown_key] = now
        self._remember(self._admitted, [alert_id])
        self._remember(self._alerted, objects)
        return True

    def _remember(self, seen: OrderedDict[str, None], keys: Sequence[str]) -> None:
        for key in keys:
            seen[key] = None
            seen.move_to_end(key)
        while len(seen) > self.max_objects:
            seen.popitem(last=False)


@dataclass
class FrigateGateway:
    """What one feeder of Frigate messages holds: the cooldown, what it passed on, its counters."""

    config: Config
    cooldown: Cooldown
    ignored: dict[str, int]
    passed_on: PassedOn
    rejected: int = 0

    @classmethod
    def create(cls, config: Config) -> FrigateGateway:
        return cls(
            config,
            Cooldown(config.frigate.cooldown),
            {reason.value: 0 for reason in IgnoredReason},
            PassedOn(),
        )

    def take(self, event: FrigateEvent, now: float) -> AlertIn | Ignored:
        """The alert a `frigate/events` message stands for, or why none (counted)."""
        return self._admit(interpret(event, self.config, now), now)

    def take_review(self, review: FrigateReview, now: float) -> AlertIn | Ignored:
        """The alert a `frigate/reviews` message stands for, or why none (counted)."""
        return self._admit(interpret_review(review, self.config, now), now)

    def changes(self, alert: AlertIn) -> dict[str, list[Any]] | None:
        """Since the alert was last passed on: {} is nothing worth a write, None is unknown."""
        return self.passed_on.changes(alert)

    def judge(self, alert: AlertIn) -> Callable[[Mapping[str, Any]], dict[str, list[Any]]]:
        """What the alert changes against a stored row's attributes (for an unknown baseline)."""
        latest = frigate_attributes(alert.attributes)
        return lambda stored: changes(frigate_attributes(stored), latest)

    def _admit(self, result: Matched | Ignored, now: float) -> AlertIn | Ignored:
        if isinstance(result, Matched) and not self.cooldown.admit(result, now):
            result = Ignored(IgnoredReason.COOLDOWN)
        if isinstance(result, Ignored):
            self.ignored[result.reason.value] += 1
            return result
        return result.alert
