"""A run's details dict (v1's get_details) and the names of its log files."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runyard._entities import RunStatus
from runyard._services.agent_client import revive_agent
from runyard._services.environments import build_warnings
from runyard._services.run_files import list_files, run_key
from runyard._services.runs import _user

if TYPE_CHECKING:
    from runyard._services import Services

_LOG_PREFIXES = ("azureml-logs/", "logs/", "user_logs/")


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def log_file_names(services: Services, run_id: str) -> list[str]:
    return [n for n in list_files(services, run_id) if n.startswith(_LOG_PREFIXES)]


def get_details(services: Services, run_id: str, *, with_logs: bool = False) -> dict[str, Any]:
    """v1's camelCase details dict."""
    info = services.store.get_run(run_id)
    revive_agent(services, [info])
    log_files: dict[str, str] = {}
    for name in log_file_names(services, run_id):
        key = run_key(run_id, name)
        if with_logs:
            log_files[name] = services.artifacts.read_bytes(key).decode("utf-8", "replace")
        else:
            local = services.artifacts.local_path(key)
            log_files[name] = str(local) if local is not None else key
    details: dict[str, Any] = {
        "runId": info.run_id,
        "target": info.target,
        "status": info.status.value,
        "startTimeUtc": _iso(info.start_time),
        "endTimeUtc": _iso(info.end_time),
        "properties": dict(info.properties),
        "inputDatasets": [],
        "outputDatasets": [],
        "runDefinition": dict(info.definition),
        "logFiles": log_files,
        "submittedBy": info.runtime.submitted_by or _user(),
        "warnings": build_warnings(services, run_id),
        "services": {},
    }
    # Runyard's own keys: where the job ran (a Ray run: its Ray node, actor and placement
    # group per node), and the attempts whose node was lost under them.
    if info.runtime.placement:
        details["placement"] = [dict(p) for p in info.runtime.placement]
    if info.runtime.attempts:
        details["attempts"] = [dict(a) for a in info.runtime.attempts]
    if info.error and info.status in (RunStatus.FAILED, RunStatus.CANCELED):
        details["error"] = {"error": info.error.to_dict(), "time": _iso(info.end_time)}
    return details
