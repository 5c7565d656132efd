"""The core's tests drive a service directly (tests/dispatch/core/harness.py)."""

from tests.dispatch.core.harness import desk

__all__ = ["desk"]
