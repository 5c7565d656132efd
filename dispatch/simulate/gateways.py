"""What simulated gateways post: Frigate's `frigate/events` messages and call-takers' hotline entries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from dispatch.shared.clock import to_rfc3339
from dispatch.simulate.happenings import FrigateMessage, HotlineCall, Tracked


def frigate_event(message: FrigateMessage, epoch: Callable[[float], float]) -> dict[str, Any]:
    """The JSON Frigate publishes; `epoch` maps scenario seconds to the run's clock.

    Frigate's id is the start time and a random suffix (`1790000000.475377-mxklsc`): every
    message of one object carries it, and a new run gets new ids.
    """
    started = epoch(message.started_at)
    object_id = f"{started:.6f}-{message.object_key}"
    frame_time = epoch(message.at)
    return {
        "type": message.type,
        "before": _tracked(message, message.before, object_id, started, frame_time, epoch),
        "after": _tracked(message, message.after, object_id, started, frame_time, epoch),
    }


def _tracked(
    message: FrigateMessage,
    state: Tracked,
    object_id: str,
    started: float,
    frame_time: float,
    epoch: Callable[[float], float],
) -> dict[str, Any]:
    left, top, right, bottom = state.box
    return {
        "id": object_id,
        "camera": message.camera,
        "frame_time": round(frame_time, 6),
        "label": message.label,
        "sub_label": None,
        "score": state.score,
        "top_score": state.top_score,
        "false_positive": False,
        "start_time": round(started, 6),
        "end_time": None if state.ended_at is None else round(epoch(state.ended_at), 6),
        "box": [left, top, right, bottom],
        "area": (right - left) * (bottom - top),
        "region": [max(0, left - 120), max(0, top - 120), right + 120, bottom + 120],
        "current_zones": list(state.current_zones),
        "entered_zones": list(state.entered_zones),
        "thumbnail": None,
        "has_snapshot": state.has_snapshot,
        "has_clip": state.has_clip,
        "stationary": state.stationary,
        "motionless_count": 0,
        "position_changes": 1,
        "attributes": {},
        "active": state.ended_at is None,
    }


def hotline_entry(call: HotlineCall, received_at: float) -> dict[str, Any]:
    """A call-taker's entry (`POST /api/v1/hotline/calls`, type entry).

    The call id carries the date and the call's number of the day, like a call center's.
    """
    stamp = datetime.fromtimestamp(received_at, UTC).strftime("%Y%m%d%H%M%S")
    return {
        "type": "entry",
        "call_id": f"{call.line}-{stamp}-{call.serial:06d}",
        "caller_number": call.caller_number,
        "caller_name": call.caller_name,
        "line": call.line,
        "location": {"lat": call.point.lat, "lon": call.point.lon},
        "address": call.address,
        "category": call.category,
        "statement": call.statement,
        "received_at": to_rfc3339(received_at),
    }
