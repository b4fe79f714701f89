"""A run's tags (changeable) and properties (set once)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from runyard.exceptions import UserErrorException

if TYPE_CHECKING:
    from runyard._entities import RunInfo
    from runyard._services import Services


def _check_str_map(what: str, values: Any, *, allow_none: bool) -> dict[str, Any]:
    if not isinstance(values, Mapping):
        raise UserErrorException(
            f"{what} must be a dict of str to str, got {type(values).__name__} ({values!r:.80})."
        )
    out: dict[str, Any] = {}
    for key, value in values.items():
        if not isinstance(key, str) or not key:
            raise UserErrorException(f"{what} key {key!r} is not allowed: use a non-empty str.")
        if value is None and allow_none:
            out[key] = None
        elif isinstance(value, str | int | float | bool):
            out[key] = str(value)
        else:
            raise UserErrorException(
                f"{what} value for {key!r} is a {type(value).__name__} ({value!r:.80}); "
                "use a str (or a number, stored as its text)."
            )
    return out


def set_tags(services: Services, run_id: str, tags: Any) -> RunInfo:
    return services.store.set_tags(run_id, _check_str_map("Tag", tags, allow_none=True))


def remove_tags(services: Services, run_id: str, keys: Any) -> RunInfo:
    if isinstance(keys, str):
        keys = [keys]
    return services.store.remove_tags(run_id, list(keys))


def add_properties(services: Services, run_id: str, properties: Any) -> RunInfo:
    checked = _check_str_map("Property", properties, allow_none=False)
    return services.store.add_properties(run_id, checked)
