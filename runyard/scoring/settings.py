"""What a scoring worker is told through its environment, read once at its start."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

ENTRY_SCRIPT = "AZUREML_ENTRY_SCRIPT"
SOURCE_DIRECTORY = "AZUREML_SOURCE_DIRECTORY"
SERVICE_NAME = "RUNYARD_SERVICE_NAME"
SERVICE_AUTH = "RUNYARD_SERVICE_AUTH"
MAX_BODY_BYTES = "RUNYARD_SERVICE_MAX_BODY_BYTES"
TIMEOUT_MS = "RUNYARD_SERVICE_TIMEOUT_MS"

DEFAULT_MAX_BODY_BYTES = 100 * 1024 * 1024
DEFAULT_TIMEOUT_MS = 60_000  # v1's scoring_timeout_ms default (AKS)


class SettingsError(ValueError):
    """A worker variable is missing or malformed; the message names it and the fix."""


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    entry_script: str
    source_directory: str | None
    service_name: str
    auth_file: str | None  # None: key auth off
    max_body_bytes: int
    timeout_ms: int

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> WorkerSettings:
        entry_script = environ.get(ENTRY_SCRIPT, "")
        if not entry_script:
            raise SettingsError(
                f"{ENTRY_SCRIPT} is not set: set it to the absolute path of the scoring script "
                "(the one with init() and run())."
            )
        return cls(
            entry_script=entry_script,
            source_directory=environ.get(SOURCE_DIRECTORY) or None,
            service_name=environ.get(SERVICE_NAME) or "service",
            auth_file=environ.get(SERVICE_AUTH) or None,
            max_body_bytes=_positive_int(environ, MAX_BODY_BYTES, DEFAULT_MAX_BODY_BYTES),
            timeout_ms=_positive_int(environ, TIMEOUT_MS, DEFAULT_TIMEOUT_MS),
        )


def _positive_int(environ: Mapping[str, str], name: str, default: int) -> int:
    text = environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise SettingsError(
            f"{name}={text!r} is not a positive whole number; unset it for {default}."
        )
    return value
