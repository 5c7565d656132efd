"""Settings of the people's screens: the map, login sessions, the local time zone and language."""

from __future__ import annotations

from enum import StrEnum
from typing import Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from dispatch.config.values import Seconds
from dispatch.shared.geo import Strict


class TileCoordinates(StrEnum):
    WGS84 = "wgs84"
    """The tiles are drawn in WGS-84 (OpenStreetMap, most intranet GIS servers, 天地图)."""
    GCJ02 = "gcj02"
    """The tiles are drawn in GCJ-02 (高德/腾讯 style): our WGS-84 positions and polygons are
    shifted onto them in the browser, and a point picked on the map is shifted back."""


class MapSettings(Strict):
    """The map of the console, the tablet app and the big screen."""

    tile_url: str | None = Field(
        None,
        description=(
            "A tile layer under the jurisdiction polygons, e.g. an intranet tile server "
            "`https://tiles.city.local/{z}/{x}/{y}.png`. None: polygons only (works offline)."
        ),
    )
    tile_attribution: str = Field("", description="Credit shown in the map's corner.")
    tile_coordinates: TileCoordinates = Field(
        TileCoordinates.WGS84, description="Datum the tiles are drawn in: wgs84 or gcj02."
    )
    min_zoom: int = Field(7, ge=0, le=22, description="Farthest out a user may zoom.")
    max_zoom: int = Field(18, ge=0, le=22, description="Farthest in a user may zoom.")

    @field_validator("tile_url")
    @classmethod
    def _tile_template(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://", "/")):
            raise ValueError("must be an http(s) URL or a path on this server")
        if not all(part in value for part in ("{z}", "{x}", "{y}")):
            raise ValueError("must contain {z}, {x} and {y}")
        return value

    @model_validator(mode="after")
    def _zooms(self) -> Self:
        if self.min_zoom > self.max_zoom:
            raise ValueError("min_zoom is above max_zoom")
        return self


class SecureCookie(StrEnum):
    AUTO = "auto"
    """Secure when the request came over TLS to this server (`serve --tls-cert`)."""
    ALWAYS = "always"
    """Always Secure: TLS ends at a reverse proxy in front of this server."""


class Sessions(Strict):
    """Logins of people in browsers (machines keep using bearer tokens)."""

    ttl: Seconds = Field(12 * 3600.0, description="A login lasts this long (a dispatcher's shift).")
    screen_ttl: Seconds = Field(
        30 * 86400.0, description="A big-screen (screen role) login lasts this long: a kiosk is not re-keyed."
    )
    secure_cookie: SecureCookie = Field(
        SecureCookie.AUTO, description="auto: Secure over TLS; always: also behind a TLS proxy."
    )
    max_failed_logins: int = Field(
        5, ge=1, le=100, description="Wrong passwords in a row before the account is slowed down."
    )
    lockout: Seconds = Field(
        30.0, description="The first wait after that many failures; each further failure doubles it."
    )
    lockout_max: Seconds = Field(900.0, description="The longest wait.")


class Language(StrEnum):
    ZH_CN = "zh-CN"
    EN = "en"


def check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError(f"unknown time zone {value!r} (use an IANA name like Asia/Shanghai)") from err
    return value
