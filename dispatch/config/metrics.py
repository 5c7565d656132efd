"""Settings of the Prometheus metrics: where `/metrics` is served, and to whom."""

from __future__ import annotations

from pydantic import Field, field_validator

from dispatch.shared.geo import Strict


class MetricsSettings(Strict):
    """`/metrics` on the main port needs an admin token or session; a separate listener does not."""

    listen: str | None = Field(
        None,
        description=(
            "host:port of a second listener that serves /metrics without authentication, for a "
            "Prometheus on the same host or a trusted network (e.g. 127.0.0.1:9464; port 0 picks a "
            "free one). None: /metrics only on the main port, for a token whose role may read_metrics."
        ),
    )

    @field_validator("listen")
    @classmethod
    def _host_and_port(cls, value: str | None) -> str | None:
        if value is None:
            return None
        host, separator, port = value.rpartition(":")
        if not separator or not host or not port.isdigit() or int(port) > 65535:
            raise ValueError(f"listen must be host:port (e.g. 127.0.0.1:9464), not {value!r}")
        return value

    @property
    def host(self) -> str:
        assert self.listen is not None
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        assert self.listen is not None
        return int(self.listen.rpartition(":")[2])
