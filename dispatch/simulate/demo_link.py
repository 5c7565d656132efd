"""Two demos on one machine joined as county and prefecture: the tokens each issues the other.

`dispatch serve --demo --config dispatch/config/samples/prefecture.yaml --port 8081` runs the
prefecture's demo (its config lists the counties below under `downstream`), and `dispatch serve
--demo --upstream http://127.0.0.1:8081` a county's, linked up to it. Each demo's database is
thrown away at exit, so their tokens are new at every start; they meet in a folder of this user's
under the temporary directory: each writes the tokens it issues to the other, and reads the
other's through `token_file` at every attempt, so either may start first, and a restarted one
is picked up again. Nothing here is for production: there, tokens are issued with `dispatch
token issue` and given through `token_env` or `token_file` (README "Two levels on one machine").
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from dispatch.access.auth import issue_token
from dispatch.config.link import Upstream
from dispatch.config.model import Config
from dispatch.storage import database

DESK_TOKEN = "prefecture.desk.token"
"""The prefecture demo's dispatcher token, for the county demo's simulated prefecture desk."""


def folder() -> Path:
    """Where the two demos of this user meet (created private on first use)."""
    uid = os.getuid() if hasattr(os, "getuid") else 0
    place = Path(tempfile.gettempdir()) / f"dispatch-link-demo-{uid}"
    place.mkdir(mode=0o700, exist_ok=True)
    return place


def _up(county: str) -> str:
    return f"{county}.upstream.token"


def _down(county: str) -> str:
    return f"{county}.downstream.token"


def _write(path: Path, token: str) -> None:
    fresh = path.with_suffix(".new")
    fresh.write_text(token + "\n", encoding="utf-8")
    fresh.chmod(0o600)
    fresh.replace(path)  # whole or not at all: the other demo may be reading it


@dataclass(frozen=True)
class Pairing:
    """One demo's side: its config with the token files, and the tokens it issues the other."""

    config: Config
    place: Path
    upstream_url: str | None
    """A county's: the prefecture demo above (`--upstream`)."""

    @classmethod
    def of(cls, config: Config, upstream_url: str | None) -> Pairing | None:
        """None: a demo alone (no `--upstream`, no `downstream` in its config)."""
        if upstream_url is None and not config.downstream:
            return None
        place = folder()
        changes: dict[str, object] = {}
        if upstream_url is not None:
            changes["upstream"] = Upstream(url=upstream_url, token_file=str(place / _up(config.root.id)))
        if config.downstream:
            changes["downstream"] = [
                link.model_copy(update={"token_env": None, "token_file": str(place / _down(link.county))})
                for link in config.downstream
            ]
        return cls(config.model_copy(update=changes), place, upstream_url)

    @property
    def is_prefecture(self) -> bool:
        return bool(self.config.downstream)

    def issue(self, database_url: str) -> None:
        """Issue, in this demo's fresh database, the tokens the other demo needs, into the folder."""
        engine = database.create_engine(database_url)
        now, config = time.time(), self.config
        try:
            database.create_schema(engine)  # there already when the demo prepared its accounts
            if self.is_prefecture:
                for link in config.downstream:  # a county posts its CAP and acknowledgements with it
                    token = issue_token(
                        engine,
                        config,
                        role="gateway",
                        name=f"demo:{link.county}",
                        cap_senders=[link.county],
                        now=now,
                    )
                    _write(self.place / _up(link.county), token)
                desk = issue_token(
                    engine, config, role="dispatcher", name="simulator:prefecture-desk", now=now
                )
                _write(self.place / DESK_TOKEN, desk)
            if self.upstream_url is not None and config.prefecture is not None:
                above = config.prefecture.id  # the prefecture posts its instructions with it
                token = issue_token(
                    engine, config, role="gateway", name=f"demo:{above}", cap_senders=[above], now=now
                )
                _write(self.place / _down(config.root.id), token)
        finally:
            engine.dispose()

    def desk_token(self) -> str | None:
        """The prefecture demo's dispatcher token, once it has started (None before)."""
        with contextlib.suppress(OSError):
            return (self.place / DESK_TOKEN).read_text(encoding="utf-8").strip() or None
        return None
