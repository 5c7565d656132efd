"""A gateway token's binding: the alert sources and CAP senders it may post as (see `speaks_for`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

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
