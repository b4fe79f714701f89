"""Registered environments: register, get and list through the workspace's store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from runyard._envs import registry

if TYPE_CHECKING:
    from runyard._services import Services


def register_environment(services: Services, name: str, definition: Mapping[str, Any]) -> str:
    """The version ("1", "2", ...) the definition is registered under (kept when unchanged)."""
    return registry.register_environment(services.store, name, definition)


def get_environment(
    services: Services, name: str, version: str | None = None, label: str | None = None
) -> dict[str, Any]:
    """A curated or registered environment's definition (by label, version, or latest)."""
    return registry.get_environment(services.store, name, version, label)


def label_environment(services: Services, name: str, version: str, labels: Sequence[str]) -> None:
    """Moves each label onto that registered version."""
    registry.label_environment(services.store, name, version, labels)


def list_environments(services: Services) -> dict[str, dict[str, Any]]:
    """{name: definition of the latest version}, curated environments first."""
    return registry.list_environments(services.store)
