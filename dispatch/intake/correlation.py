"""Correlation: which open incident an alert joins, by signal, place, distance and time."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import sqlalchemy as sa

from dispatch.config.model import Config, Jurisdiction
from dispatch.intake.alerts import AlertIn
from dispatch.shared.geo import distance_m
from dispatch.storage.records import Incident
from dispatch.storage.tables import alert_table, incident_table
from dispatch.storage.writer import Tx
from state_machines import OPEN_INCIDENT_STATES

_OPEN = sorted(state.value for state in OPEN_INCIDENT_STATES)
SIGNAL_CACHE_SIZE = 200_000

_last_open_incident_of_signal = (
    sa.select(alert_table.c.incident_id)
    .join(incident_table, alert_table.c.incident_id == incident_table.c.id)
    .where(
        alert_table.c.source == sa.bindparam("source"),
        alert_table.c.category == sa.bindparam("category"),
        incident_table.c.state.in_(_OPEN),
    )
    .order_by(alert_table.c.id.desc())
    .limit(1)
)

# Only what correlation and counting need: the JSON columns are not decoded for every candidate.
_candidate_columns = [
    incident_table.c[name]
    for name in (
        "id",
        "category",
        "jurisdiction_id",
        "place",
        "state",
        "lat",
        "lon",
        "severity",
        "alert_count",
        "last_alert_at",
        "updated_at",
        "policy_name",
    )
]
_candidates = sa.select(*_candidate_columns).where(
    sa.or_(
        incident_table.c.id.in_(sa.bindparam("ids", expanding=True)),
        sa.and_(
            incident_table.c.place.in_(sa.bindparam("places", expanding=True)),
            incident_table.c.last_alert_at >= sa.bindparam("since"),
            incident_table.c.state.in_(_OPEN),
        ),
    )
)


@dataclass(slots=True)
class Candidate:
    """What correlation and counting need of an open incident (no JSON columns decoded)."""

    id: int
    category: str
    jurisdiction_id: str
    place: str
    state: str
    lat: float | None
    lon: float | None
    severity: int
    alert_count: int
    last_alert_at: float
    updated_at: float
    policy_name: str


Joinable = Candidate | Incident
"""An incident an alert may join: one read for correlation, or one this pass opened."""


@dataclass(frozen=True)
class Placed:
    node: Jurisdiction
    outside_area: bool


class Candidates:
    """Open incidents an alert of this pass may join, as one shared row per incident."""

    def __init__(self, config: Config, now: float) -> None:
        self.config = config
        self.since = now - config.correlation.window
        self.by_signal: dict[tuple[str, str], Joinable] = {}
        self.by_place: dict[str, list[Joinable]] = {}

    def add(self, row: Joinable) -> None:
        self.by_place.setdefault(row.place, []).append(row)

    def find(self, alert: AlertIn, placed: Placed) -> Joinable | None:
        radius = self.config.correlation.radius_m
        same = self.by_signal.get((alert.source, alert.category))
        if same is not None and same.state in OPEN_INCIDENT_STATES:
            distance = _distance(alert, same)
            # Without two positions, the same signal must at least come from the same place:
            # a hotline line's calls from two towns are two incidents.
            if (distance is None and same.jurisdiction_id == placed.node.id) or (
                distance is not None and distance <= radius
            ):
                return same
        best: tuple[float, Joinable] | None = None
        for row in self.by_place.get(place_key(alert.category, placed.node.id), ()):
            if row.state not in OPEN_INCIDENT_STATES or row.last_alert_at < self.since:
                continue
            distance = _distance(alert, row)
            if distance is None:
                distance = 0.0  # known only by jurisdiction: same node, same category, same time
            elif distance > radius:
                continue
            if best is None or distance < best[0]:
                best = (distance, row)
        return best[1] if best else None


def place_key(category: str, jurisdiction_id: str) -> str:
    return f"{category}/{jurisdiction_id}"


def _distance(alert: AlertIn, row: Joinable) -> float | None:
    if alert.location is None or row.lat is None or row.lon is None:
        return None
    return distance_m(alert.location.lat, alert.location.lon, row.lat, row.lon)


class Correlator:
    """Finds candidates in the database, remembering which incident each signal last joined."""

    def __init__(self, config: Config) -> None:
        self.config = config
        # (source, category) → the incident its last alert joined. Writer thread only; filled
        # after commit, so it never remembers what a rolled-back pass did.
        self._signals: OrderedDict[tuple[str, str], int] = OrderedDict()

    def load(self, tx: Tx, alerts: list[AlertIn], placed: list[Placed]) -> Candidates:
        """The open incidents that alerts of this pass may join."""
        candidates = Candidates(self.config, tx.now)
        signal_ids: dict[tuple[str, str], int] = {}
        for alert in alerts:
            signal = (alert.source, alert.category)
            if signal in signal_ids:
                continue
            cached = self._signals.get(signal)
            if cached is not None:
                signal_ids[signal] = cached
                continue
            found = tx.connection.execute(
                _last_open_incident_of_signal, {"source": signal[0], "category": signal[1]}
            ).scalar()
            if found is not None:
                signal_ids[signal] = found
        places = sorted(
            {place_key(alert.category, where.node.id) for alert, where in zip(alerts, placed, strict=True)}
        )
        if not places and not signal_ids:
            return candidates
        rows = {
            row["id"]: Candidate(**row)
            for row in tx.connection.execute(
                _candidates,
                {"ids": sorted(set(signal_ids.values())), "places": places, "since": candidates.since},
            ).mappings()
        }
        for row in rows.values():
            if row.state in OPEN_INCIDENT_STATES and row.last_alert_at >= candidates.since:
                candidates.add(row)
        stale: list[tuple[str, str]] = []
        for signal, incident_id in signal_ids.items():
            remembered = rows.get(incident_id)
            if remembered is not None and remembered.state in OPEN_INCIDENT_STATES:
                candidates.by_signal[signal] = remembered
            else:
                stale.append(signal)
        for signal in stale:
            # The remembered incident closed or was merged; the alert table knows the rest.
            self._signals.pop(signal, None)
            found = tx.connection.execute(
                _last_open_incident_of_signal, {"source": signal[0], "category": signal[1]}
            ).scalar()
            if found is not None and found != signal_ids[signal]:
                if found not in rows:
                    rows[found] = Candidate(
                        **tx.connection.execute(
                            sa.select(*_candidate_columns).where(incident_table.c.id == found)
                        )
                        .mappings()
                        .one()
                    )
                candidates.by_signal[signal] = rows[found]
        return candidates

    def remember(self, signals: dict[tuple[str, str], int]) -> None:
        for signal, incident_id in signals.items():
            self._signals[signal] = incident_id
            self._signals.move_to_end(signal)
        while len(self._signals) > SIGNAL_CACHE_SIZE:
            self._signals.popitem(last=False)
