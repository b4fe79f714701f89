"""Registered environments (``Environment.register/get/list``), over a narrow store API.

The store keeps opaque definition JSON per (name, version). Curated environments are not
stored: they are looked up here first, and their names (prefixes AzureML, Microsoft) are
reserved.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from runyard._envs.curated import CURATED_VERSION, curated_names, get_curated
from runyard.exceptions import EnvironmentNotFound, UserErrorException

RESERVED_PREFIXES = ("azureml", "microsoft")


class EnvironmentRecordLike(Protocol):
    # Read-only members, so frozen dataclasses (runyard._entities.EnvironmentRecord) match.
    @property
    def version(self) -> str: ...

    @property
    def definition_json(self) -> str: ...


class EnvironmentStore(Protocol):
    """The environment methods of ``runyard._store.base.Store``."""

    def save_environment(self, name: str, definition_json: str, content_hash: str) -> str:
        """Stores a new version ("1", "2", ...) unless the latest version of ``name`` has
        ``content_hash``, in which case it returns that version. Atomic under concurrency."""

    def get_environment(
        self, name: str, version: str | None = None, *, label: str | None = None
    ) -> EnvironmentRecordLike:
        """By label, else version, else the latest. Raises EnvironmentNotFound."""

    def label_environment(self, name: str, version: str, labels: Sequence[str]) -> None:
        """Moves each label onto that version. Raises EnvironmentNotFound."""

    def list_environments(self) -> Sequence[EnvironmentRecordLike]:
        """The latest version of each name."""


def _definition(record: EnvironmentRecordLike) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(record.definition_json)
    # Stored without a version (so re-registering hashes the same); the record has it.
    data["version"] = record.version
    return data


def content_hash(definition: Mapping[str, Any]) -> str:
    """Hash of everything but name and version, so an identical re-register keeps its version."""
    body = {k: v for k, v in definition.items() if k not in ("name", "version")}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()


def register_environment(store: EnvironmentStore, name: str, definition: Mapping[str, Any]) -> str:
    if name.lower().startswith(RESERVED_PREFIXES):
        raise UserErrorException(
            f"Environment name {name!r} starts with a reserved prefix (AzureML, Microsoft), "
            "which curated environments use. Clone it under another name: "
            f"env.clone('my-{name}').register(ws)."
        )
    data = {**definition, "name": name, "version": None}
    return store.save_environment(name, json.dumps(data, sort_keys=True), content_hash(data))


def get_environment(
    store: EnvironmentStore, name: str, version: str | None = None, label: str | None = None
) -> dict[str, Any]:
    curated = get_curated(name)
    if curated is not None:
        if label is not None:
            raise EnvironmentNotFound(name, label=label)
        if version not in (None, CURATED_VERSION):
            raise EnvironmentNotFound(name, version)
        return curated
    return _definition(store.get_environment(name, version, label=label))


def label_environment(
    store: EnvironmentStore, name: str, version: str, labels: Sequence[str]
) -> None:
    """v1's Environment.label: labels are non-empty strs; curated environments take none."""
    if isinstance(labels, str) or not isinstance(labels, Sequence) or not labels:
        raise UserErrorException(
            f"labels must be a non-empty list of str, e.g. ['production'], got {labels!r}."
        )
    bad = [label for label in labels if not isinstance(label, str) or not label.strip()]
    if bad:
        raise UserErrorException(f"Environment labels must be non-empty strs; got {bad!r}.")
    if get_curated(name) is not None:
        raise UserErrorException(
            f"{name!r} is a curated environment; labels go on registered ones. Register a "
            f"clone first: Environment.get(ws, {name!r}).clone('my-env').register(ws)."
        )
    store.label_environment(name, str(version), list(labels))


def list_environments(store: EnvironmentStore) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for name in curated_names():
        curated = get_curated(name)
        assert curated is not None
        found[name] = curated
    for record in store.list_environments():
        data = _definition(record)
        found[data["name"]] = data
    return found
