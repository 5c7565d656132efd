"""Correlation: which open incident an alert joins, by signal, place, distance and time."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import sqlalchemy as sa

from dispatch.config.model import Config, Jurisdiction
from dispatch.intake.alerts import AlertIn
from dispatch.intake.open_index import ENDED_STATES, OpenIndex
from dispatch.shared.geo import distance_m
from dispatch.storage.records import Incident
from dispatch.storage.tables import alert_table, incident_table
from dispatch.storage.writer import Tx
from state_machines import OPEN_INCIDENT_STATES

_OPEN = sorted(state.value for state in OPEN_INCIDENT_STATES)
_ENDED_VALUES = frozenset(state.value for state in ENDED_STATES)
SIGNAL_CACHE_SIZE = 200_000
ID_CHUNK = 1000
"""Ids read per statement: well inside SQLite's bound-parameter limit."""
SWEEP_EVERY_S = 60.0
"""How often ended incidents are looked for, to drop them from the index (and how far back)."""

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
_by_id = sa.select(*_candidate_columns).where(incident_table.c.id.in_(sa.bindparam("ids", expanding=True)))
_ended_since = sa.select(incident_table.c.id).where(
    incident_table.c.updated_at >= sa.bindparam("since"), incident_table.c.state.in_(sorted(_ENDED_VALUES))
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
    """Finds candidates through the open-incident index, read back from the database by id, and
    remembers which incident each signal last joined."""

    def __init__(self, config: Config) -> None:
        self.config = config
        # (source, category) → the incident its last alert joined. Writer thread only; filled
        # after commit, so it never remembers what a rolled-back pass did.
        self._signals: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._index: OpenIndex | None = None
        # Built inside a transaction that had not committed yet: what it left out as ended may
        # still be open if that transaction fails, so it is built again until one commits.
        self._index_committed = False
        self._swept_at: float | None = None

    @property
    def index(self) -> OpenIndex | None:
        return self._index

    def rebuild(self, tx: Tx) -> None:
        """Load the index from the database (at start; again if its transaction did not commit)."""
        index = OpenIndex.load(tx.connection, self.config.correlation.radius_m)
        self._index, self._index_committed, self._swept_at = index, False, tx.now
        tx.after_commit(lambda: self._trust(index))

    def _trust(self, index: OpenIndex) -> None:
        if self._index is index:
            self._index_committed = True

    def _ready(self, tx: Tx) -> OpenIndex:
        if self._index is None or not self._index_committed:
            self.rebuild(tx)
        else:
            self._sweep(tx)
        assert self._index is not None
        return self._index

    def _sweep(self, tx: Tx) -> None:
        """Drop incidents that ended since the last sweep (memory only: reads check the state)."""
        if self._swept_at is not None and tx.now - self._swept_at < SWEEP_EVERY_S:
            return
        since = (self._swept_at if self._swept_at is not None else tx.now) - SWEEP_EVERY_S
        self._swept_at = tx.now
        ended = list(tx.connection.execute(_ended_since, {"since": since}).scalars())
        if ended:
            index = self._index
            assert index is not None
            tx.after_commit(lambda: index.discard_many(ended))

    def opened(self, incident: Incident) -> None:
        """A pass opened `incident`: later passes of the same transaction must find it too.

        Added at once: should the transaction roll back, the id is read, not found, and dropped.
        """
        if self._index is not None:
            self._index.add(incident.id, incident.place, incident.lat, incident.lon)

    def load(self, tx: Tx, alerts: list[AlertIn], placed: list[Placed]) -> Candidates:
        """The open incidents that alerts of this pass may join."""
        index = self._ready(tx)
        candidates = Candidates(self.config, tx.now)
        signal_ids = self._signal_ids(tx, alerts)
        nearby: set[int] = set()
        for alert, where in zip(alerts, placed, strict=True):
            at = alert.location
            key = place_key(alert.category, where.node.id)
            nearby.update(index.near(key, at.lat if at else None, at.lon if at else None))
        wanted = nearby | set(signal_ids.values())
        if not wanted:
            return candidates
        rows = self._read(tx, wanted, set(signal_ids.values()))
        self._forget_ended(tx, index, wanted, rows)
        for row in rows.values():
            if row.state in OPEN_INCIDENT_STATES and row.last_alert_at >= candidates.since:
                candidates.add(row)
        self._match_signals(tx, candidates, signal_ids, rows)
        return candidates

    def _signal_ids(self, tx: Tx, alerts: list[AlertIn]) -> dict[tuple[str, str], int]:
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
        return signal_ids

    def _read(self, tx: Tx, wanted: set[int], signalled: set[int]) -> dict[int, Candidate]:
        """The rows by id, in the order the place scan read them: ties of distance go the same way.

        That scan (SQLite's plan of one OR) gave the signals' incidents by id first, then the
        places' by the (place, last_alert_at) index.
        """
        ids = sorted(wanted)
        read: list[Candidate] = []
        for start in range(0, len(ids), ID_CHUNK):
            result = tx.connection.execute(_by_id, {"ids": ids[start : start + ID_CHUNK]})
            read.extend(Candidate(**row) for row in result.mappings())
        read.sort(
            key=lambda row: (
                (0, "", 0.0, row.id) if row.id in signalled else (1, row.place, row.last_alert_at, row.id)
            )
        )
        return {row.id: row for row in read}

    def _forget_ended(self, tx: Tx, index: OpenIndex, wanted: set[int], rows: dict[int, Candidate]) -> None:
        # Not in the database: opened by a pass that rolled back. Ended: only once that is
        # committed, as the transaction that ended it may still fail.
        index.discard_many(incident_id for incident_id in wanted if incident_id not in rows)
        ended = [row.id for row in rows.values() if row.state in _ENDED_VALUES]
        if ended:
            tx.after_commit(lambda: index.discard_many(ended))

    def _match_signals(
        self,
        tx: Tx,
        candidates: Candidates,
        signal_ids: dict[tuple[str, str], int],
        rows: dict[int, Candidate],
    ) -> None:
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

    def remember(self, signals: dict[tuple[str, str], int]) -> None:
        for signal, incident_id in signals.items():
            self._signals[signal] = incident_id
            self._signals.move_to_end(signal)
        while len(self._signals) > SIGNAL_CACHE_SIZE:
            self._signals.popitem(last=False)
