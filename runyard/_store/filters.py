"""The tag/property filters shared by list_runs and list_models."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any


def matches(stored: Mapping[str, Any], wanted: Mapping[str, Any] | Collection[str] | None) -> bool:
    """A mapping requires key == value (a None value: key present); a collection of keys
    requires every key present."""
    if wanted is None:
        return True
    if isinstance(wanted, Mapping):
        return all(k in stored and (v is None or stored[k] == v) for k, v in wanted.items())
    # A lone str is one key, not a collection of characters.
    keys = [wanted] if isinstance(wanted, str) else wanted
    return all(k in stored for k in keys)
