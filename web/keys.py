"""Typed keys of the application, shared by the routes."""

from __future__ import annotations

from aiohttp import web

from web.runtime import Runtime

RUNTIME: web.AppKey[Runtime] = web.AppKey("runtime", Runtime)
