"""A run's ``runtime`` and ``error`` JSON columns <-> their entities, in one place.

Rows written before these were typed are read too: ``pid`` (now ``job``), ``prepared``
(``prepared_python``) and ``timed_out`` (``timed_out_after``) keep their JSON names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from runyard._entities import ErrorCode, JobRef, RunError, RunRuntime

# RunRuntime field -> JSON key, where the key predates the field.
_JSON_KEYS = {"prepared_python": "prepared", "timed_out_after": "timed_out"}
_LOCAL_BACKEND = "local"


def _key(field: str) -> str:
    return _JSON_KEYS.get(field, field)


def runtime_from_json(data: Mapping[str, Any]) -> RunRuntime:
    values: dict[str, Any] = {}
    for field in dataclasses.fields(RunRuntime):
        value = data.get(_key(field.name))
        if value is not None:
            values[field.name] = value
    for name in ("placement", "attempts"):  # JSON lists of objects
        if isinstance(values.get(name), list):
            values[name] = tuple(dict(item) for item in values[name])
    job = data.get("job")
    if isinstance(job, Mapping):
        instance = job.get("instance")
        values["job"] = JobRef(
            backend=str(job["backend"]),
            job_id=str(job["job_id"]),
            instance=None if instance is None else str(instance),
        )
    elif isinstance(data.get("pid"), int):  # written before jobs had a backend
        values["job"] = JobRef(backend=_LOCAL_BACKEND, job_id=str(data["pid"]))
    return RunRuntime(**values)


def runtime_changes(runtime: RunRuntime) -> dict[str, Any]:
    """The JSON keys to merge into the stored runtime: the fields that are not None."""
    out: dict[str, Any] = {}
    for field in dataclasses.fields(RunRuntime):
        value = getattr(runtime, field.name)
        if value is None:
            continue
        if isinstance(value, JobRef):
            job = {"backend": value.backend, "job_id": value.job_id}
            value = job if value.instance is None else {**job, "instance": value.instance}
        if isinstance(value, tuple):
            value = [dict(item) for item in value]
        out[_key(field.name)] = value
    return out


def _code(value: Any) -> ErrorCode | str:
    try:
        return ErrorCode(value)
    except ValueError:
        return str(value)


def error_from_json(data: Mapping[str, Any] | None) -> RunError | None:
    if data is None:
        return None
    exit_code = data.get("exit_code")
    return RunError(
        code=_code(data.get("code", ErrorCode.USER_ERROR.value)),
        message=str(data.get("message", "")),
        exit_code=exit_code if isinstance(exit_code, int) else None,
        last_error_lines=tuple(str(line) for line in data.get("last_error_lines") or ()),
    )
