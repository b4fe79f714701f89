"""Where an OutputFileDatasetConfig's files come from and go: its ``source`` folder in the
job and its ``destination`` on a datastore, checked when the configuration is made."""

from __future__ import annotations

from typing import Any

from runyard._services.datastores import DEFAULT_OUTPUT_PATH, clean_relative
from runyard.exceptions import UserErrorException

_PLACEHOLDERS = ("{run-id}", "{output-name}")  # v1's, filled in when the run ends


def destination_entry(destination: Any) -> dict[str, Any]:
    """(datastore or its name, path template) as {"datastore": name | None, "path": ...}."""
    if destination is None:
        return {"datastore": None, "path": DEFAULT_OUTPUT_PATH}
    if not isinstance(destination, tuple | list) or len(destination) != 2:
        raise UserErrorException(
            f"destination={destination!r}: pass a (datastore, path) tuple, e.g. "
            "(ws.get_default_datastore(), 'prepared/{run-id}'), or None for the default "
            f"({DEFAULT_OUTPUT_PATH!r} on the default datastore)."
        )
    store, path = destination
    store_name = store if isinstance(store, str) else getattr(store, "name", None)
    if not isinstance(store_name, str) or not store_name:
        raise UserErrorException(
            f"destination datastore {store!r} is neither a Datastore nor a datastore's name; "
            "pass ws.get_default_datastore() or Datastore.get(ws, 'name')."
        )
    if path is None:
        path = DEFAULT_OUTPUT_PATH
    if not isinstance(path, str):
        raise UserErrorException(
            f"destination path {path!r} is not a str; pass a folder on the datastore such "
            "as 'prepared/{run-id}'."
        )
    for part in _braced(path):
        if part not in _PLACEHOLDERS:
            raise UserErrorException(
                f"destination path {path!r} has the placeholder {part}, which is not one of "
                f"{list(_PLACEHOLDERS)} (v1's). Remove it or use one of those."
            )
    clean_relative(path, what="destination path")
    return {"datastore": store_name, "path": path}


def _braced(path: str) -> list[str]:
    found, start = [], path.find("{")
    while start != -1:
        end = path.find("}", start)
        found.append(path[start : end + 1] if end != -1 else path[start:])
        start = path.find("{", end if end != -1 else len(path))
    return found


def checked_source(source: Any) -> str | None:
    if source is None:
        return None
    if not isinstance(source, str) or not source.strip():
        raise UserErrorException(
            f"source={source!r}: pass a folder relative to the job's working directory, "
            "e.g. 'prepared', or None for one Runyard makes."
        )
    if source.startswith(("/", "\\")) or (len(source) > 1 and source[1] == ":"):
        raise UserErrorException(
            f"source={source!r} is an absolute path. Runyard keeps a run's output folders "
            "inside its working directory, so concurrent runs never share one: pass a "
            f"relative path such as {source.strip('/').rpartition('/')[2] or 'prepared'!r}, "
            "or None."
        )
    try:
        return clean_relative(source, what="source") or None
    except UserErrorException:
        raise UserErrorException(
            f"source={source!r} leaves the job's working directory; pass a folder inside "
            "it, e.g. 'prepared'."
        ) from None
