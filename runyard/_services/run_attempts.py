"""Runs whose node was lost under them (a Ray worker died): tried again on another node up
to the run's ``max_retries`` (v1 has no such setting; Runyard's RunConfiguration does, default
1), each lost attempt recorded in the run's details, or ended Failed naming the lost node."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from runyard._compute.base import MAX_ATTEMPTS
from runyard._entities import ErrorCode, RunError
from runyard.exceptions import UserErrorException

DEFAULT_MAX_RETRIES = 1
MAX_RETRIES_LIMIT = MAX_ATTEMPTS - 1  # backends name each try's processes apart
DEFINITION_KEY = "maxRetries"


def check_max_retries(value: object) -> int:
    """``max_retries`` as given to a run configuration, checked.

    Raises:
        UserErrorException: not a whole number from 0 to MAX_RETRIES_LIMIT.
    """
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_RETRIES_LIMIT:
        raise UserErrorException(
            f"max_retries={value!r} is invalid: pass a whole number from 0 (never retry) to "
            f"{MAX_RETRIES_LIMIT} - how many times a run whose node is lost is tried again "
            f"(default {DEFAULT_MAX_RETRIES})."
        )
    return value


def max_retries(definition: Mapping[str, Any]) -> int:
    value = definition.get(DEFINITION_KEY)
    return DEFAULT_MAX_RETRIES if value is None else int(value)


def attempt_record(
    number: int, lost: str, placement: Sequence[Mapping[str, Any]], started: datetime | None
) -> dict[str, Any]:
    """One lost attempt as the run's details list it."""
    return {
        "attempt": number,
        "status": "NodeLost",
        "reason": lost,
        "nodes": [dict(p) for p in placement],
        "startTimeUtc": started.isoformat() if started else None,
        "endTimeUtc": datetime.now(timezone.utc).isoformat(),
    }


def retry_line(lost: str, retry: int, limit: int) -> str:
    return (
        f"Runyard: {lost}. The run is tried again on another node (retry {retry} of "
        f"max_retries={limit}); metrics it logged so far are kept."
    )


def lost_error(
    lost: str, attempts: int, limit: int, placement: Sequence[Mapping[str, Any]] = ()
) -> RunError:
    tries = "once" if attempts == 1 else f"{attempts} times"
    address = next((str(p["rayAddress"]) for p in placement if p.get("rayAddress")), "...")
    return RunError(
        ErrorCode.NODE_LOST,
        f"{lost}. The run was tried {tries} (max_retries={limit}) and is not tried again. "
        f"Check the cluster's nodes with `ray status --address {address}`; raise "
        "max_retries on the run configuration to retry more.",
    )
