"""Whom a gateway token speaks for: the alert sources and CAP senders it may post as.

Set at `dispatch token issue --source GLOB --cap-sender GLOB` (each repeatable) and kept with
the token. A bound token posting for anything else is refused (403) before anything is stored.
A gateway token without a binding (every token issued before bindings existed, or one issued
without either flag) still posts for any source: that is what it was issued for. Whatever the
token, a CAP Cancel or Update touches only CAP alerts of its own sender and an Alertmanager
resolve only Alertmanager alerts of its own receiver (dispatch/intake/status.py), so an unbound
token cannot withdraw or resolve another sender's alerts either.
"""

from __future__ import annotations

from dispatch.access.binding import PATTERN_MAX, UNBOUND, Binding, BindingError, describe
from dispatch.access.principal import Principal
from dispatch.shared.errors import Forbidden

__all__ = [
    "PATTERN_MAX",
    "UNBOUND",
    "Binding",
    "BindingError",
    "check_cap_sender",
    "check_link_peer",
    "check_source",
    "describe",
]


def check_source(principal: Principal, source: str, field: str = "source") -> None:
    """Forbidden when the caller's token is bound and `source` is not among what it speaks for."""
    binding = principal.binding
    if binding is not None and not binding.allows_source(source):
        raise Forbidden(
            f"this gateway token does not speak for source {source!r} (it speaks for {binding.describe()})",
            field=field,
        )


def check_cap_sender(principal: Principal, sender: str, field: str = "sender") -> None:
    """Forbidden when the caller's token is bound and `sender` is not a CAP sender it speaks for."""
    binding = principal.binding
    if binding is not None and not binding.allows_cap_sender(sender):
        raise Forbidden(
            f"this gateway token does not speak for CAP sender {sender!r} "
            f"(it speaks for {binding.describe()})",
            field=field,
        )


def check_link_peer(principal: Principal, peer: str, field: str | None = None) -> None:
    """Forbidden unless the caller's token is bound to `peer`'s CAP sender id.

    The prefecture link trusts no unbound token: a county posts with a gateway token the
    prefecture issued with `--cap-sender <county id>`, a prefecture with one the county issued
    with `--cap-sender <prefecture id>`.
    """
    binding = principal.binding
    if binding is None or not binding.allows_cap_sender(peer):
        bound = binding.describe() if binding is not None else "nothing (an unbound token)"
        raise Forbidden(
            f"the prefecture link takes only a gateway token bound to CAP sender {peer!r} "
            f"(dispatch token issue --role gateway --cap-sender {peer}); this one speaks for {bound}",
            field=field,
        )
