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

from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from dispatch.shared.errors import Forbidden

if TYPE_CHECKING:
    from dispatch.access.auth import Principal

PATTERN_MAX = 128


class BindingError(ValueError):
    """A pattern given at `token issue` that cannot be one."""


@dataclass(frozen=True)
class Binding:
    """Glob patterns (`gauge-*`, `ops@city.example`), matched case-sensitively."""

    sources: tuple[str, ...] = ()
    cap_senders: tuple[str, ...] = ()

    @classmethod
    def parse(cls, sources: Sequence[str], cap_senders: Sequence[str]) -> Binding:
        for flag, patterns in (("--source", sources), ("--cap-sender", cap_senders)):
            for pattern in patterns:
                if not pattern.strip() or pattern != pattern.strip() or len(pattern) > PATTERN_MAX:
                    raise BindingError(
                        f"{flag} {pattern!r}: a name or glob of 1 to {PATTERN_MAX} characters, "
                        "without surrounding spaces"
                    )
        return cls(tuple(dict.fromkeys(sources)), tuple(dict.fromkeys(cap_senders)))

    def allows_source(self, source: str) -> bool:
        return any(fnmatchcase(source, pattern) for pattern in self.sources)

    def allows_cap_sender(self, sender: str) -> bool:
        return any(fnmatchcase(sender, pattern) for pattern in self.cap_senders)

    def describe(self) -> str:
        sources = ", ".join(self.sources) or "none"
        senders = ", ".join(self.cap_senders) or "none"
        return f"sources {sources}; CAP senders {senders}"


UNBOUND = "any source (unbound); CAP Cancel/Update and Alertmanager resolves only of the same sender"


def describe(binding: Binding | None) -> str:
    """One line for wherever a token is shown."""
    return binding.describe() if binding is not None else UNBOUND


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
