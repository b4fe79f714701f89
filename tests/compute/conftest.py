"""Compute tests share the runtime fixtures: a real workspace and a real agent."""

from tests.runtime.conftest import services, source  # noqa: F401
