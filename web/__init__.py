"""The aiohttp application: REST API, health endpoints (and, next, WebSockets and the console)."""

from web.app import create_app

__all__ = ["create_app"]
