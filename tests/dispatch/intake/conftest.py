"""Intake tests drive a service directly, like the core's (tests/dispatch/core/harness.py)."""

from tests.dispatch.core.harness import desk

__all__ = ["desk"]
