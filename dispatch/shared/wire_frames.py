"""Wire frames: one message as every socket gets it, its WebSocket frame's bytes built once."""

from __future__ import annotations

import struct
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Frame:
    """One message as the wire carries it, built once for every socket that gets it."""

    seq: int
    """The event's seq, or 0 for what rides along (alarms, positions): never replayed."""
    data: bytes
    """The whole WebSocket text frame, header included (a server's frames are not masked)."""
    task_id: int | None = None
    """A task_assigned frame's task: sending it to a responder's device counts as pushed."""


def wire_frame(text: str) -> bytes:
    """An unmasked, final, uncompressed WebSocket text frame (RFC 6455 §5.2), as servers send."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        return struct.pack("!BB", 0x81, size) + payload
    if size < 1 << 16:
        return struct.pack("!BBH", 0x81, 126, size) + payload
    return struct.pack("!BBQ", 0x81, 127, size) + payload
