"""Web services: deploy, look up, update, delete, keys and logs (v1's Webservice).

The SDK and the CLI call these; the agent (``service_keeper``) prepares each new version
and keeps the serving processes alive. A service's keys live beside it, never in the store
or a log: ``keys.secret`` (0600, for get_keys) and ``auth.json`` (their SHA-256 hashes,
which the scoring server checks).
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runyard._config import make_private, make_private_dir
from runyard._entities import ServiceInfo
from runyard._services import Services, registry
from runyard._services.agent_client import agent_pid, ensure_agent
from runyard._services.service_setup import service_folder
from runyard._services.snapshots import list_source_files
from runyard._serving.base import (
    DELETING,
    FAILED,
    HEALTHY,
    TRANSITIONING,
    UNHEALTHY,
    ServiceReport,
    ServingBackend,
)
from runyard._serving.host import AUTH, read_json, write_json
from runyard._serving.local import LocalServing
from runyard.exceptions import ServiceExists, WebserviceException

KEYS = "keys.secret"
KEY_NAMES = ("Primary", "Secondary")
POLL = 0.2  # seconds between looks while waiting for a deployment
# Deployment settings the serving processes are started with: changing one is a new version.
LAUNCH_FIELDS = {"workers", "cpu_cores", "memory_gb", "scoring_timeout_ms"}


def backend(services: Services) -> ServingBackend:
    return LocalServing(services.layout.services_dir)


@dataclass(frozen=True, slots=True)
class ServiceView:
    """A service as the SDK shows it: its record and what its processes say now."""

    info: ServiceInfo
    state: str
    port: int | None
    error: str | None
    served_generation: int
    failed: bool  # the latest version cannot start (deploy/update failed)
    restarts: int

    @property
    def scoring_uri(self) -> str | None:
        return f"http://{self._host()}:{self.port}/score" if self.port else None

    @property
    def swagger_uri(self) -> str | None:
        return f"http://{self._host()}:{self.port}/swagger.json" if self.port else None

    def _host(self) -> str:
        host = str(self.info.spec.get("deployment", {}).get("host") or "127.0.0.1")
        return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def view_of(info: ServiceInfo, report: ServiceReport) -> ServiceView:
    failed_gen = info.state.get("failed_generation") or report.failed_generation
    failed = failed_gen == info.generation and report.generation < info.generation
    error = info.state.get("error") if info.state.get("failed_generation") else None
    error = error or report.error
    if info.status == DELETING:
        state = TRANSITIONING
    elif failed:
        state = report.state if report.alive and report.generation else FAILED
    elif report.generation < info.generation:
        state = TRANSITIONING
    else:
        state = report.state
    port = report.port or info.state.get("port")
    return ServiceView(
        info=info,
        state=state,
        port=int(port) if port else None,
        error=error,
        served_generation=report.generation,
        failed=failed,
        restarts=report.restarts,
    )


def view(services: Services, name: str) -> ServiceView:
    info = services.store.get_service(name)
    _keep_agent(services)
    return view_of(info, backend(services).status(name))


def list_views(services: Services) -> list[ServiceView]:
    serving = backend(services)
    infos = services.store.list_services()
    if infos:
        _keep_agent(services)
    return [view_of(info, serving.status(info.name)) for info in infos]


def _keep_agent(services: Services) -> None:
    """Services are supervised by the workspace's agent: after it died or the machine
    restarted, the first look at a service starts it again, and it takes them back."""
    if agent_pid(services.layout) is None:
        ensure_agent(services.layout, services.settings)


# ---- deploy and update -----------------------------------------------------------------------
def _stage_source(services: Services, name: str, source: Path, entry: Path) -> Path:
    """Copies the source folder (ignore files honoured, as for run snapshots) beside the
    service now, as v1 uploads it at deploy: later edits do not change the service."""
    folder = make_private_dir(service_folder(services, name))
    staging = folder / f"staging-{uuid.uuid4().hex[:12]}"
    staging.mkdir()
    for item in list_source_files(source):
        dest = staging / item.rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(item.path, dest)
    if not (staging / entry).is_file():  # an ignore file left it out
        dest = staging / entry
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / entry, dest)
    return staging


def _inference_spec(
    services: Services, name: str, inference: Mapping[str, Any]
) -> tuple[dict[str, Any], Path]:
    entry = Path(str(inference["entry_script"]))
    source = Path(str(inference.get("source_directory") or entry.parent))
    try:
        rel = entry.resolve().relative_to(source.resolve())
    except ValueError:
        raise WebserviceException(
            f"entry_script {str(entry)!r} is not inside source_directory {str(source)!r}: "
            "give entry_script relative to source_directory."
        ) from None
    staging = _stage_source(services, name, source.resolve(), rel)
    spec = {k: v for k, v in inference.items() if k not in ("entry_script", "source_directory")}
    spec.update(entry_script=str(rel), source_directory=str(source))
    return spec, staging


def _models(services: Services, models: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    if not models:
        raise WebserviceException(
            "Model.deploy needs at least one model: pass models=[model] with a registered "
            "Model (Model(ws, name) or run.register_model(...))."
        )
    found = []
    for entry in models:
        mv = registry.get_model(services, str(entry["name"]), entry.get("version"))
        found.append({"name": mv.name, "version": mv.version, "id": mv.id})
    return found


def deploy(
    services: Services,
    name: str,
    *,
    models: Sequence[Mapping[str, Any]],
    inference: Mapping[str, Any],
    deployment: Mapping[str, Any],
    overwrite: bool = False,
) -> ServiceInfo:
    """Records the service and wakes the agent, which builds and starts it. An existing
    name is refused unless ``overwrite``: then the new version replaces the old one on the
    same port, with the same keys unless new ones are given."""
    found = _models(services, models)
    if not overwrite and name in {s.name for s in services.store.list_services()}:
        raise ServiceExists(name)  # before copying anything
    for label, field in zip(KEY_NAMES, ("primary_key", "secondary_key"), strict=True):
        if deployment.get(field) is not None:
            _check_key(label, deployment[field])  # a bad key changes nothing
    inference_spec, staging = _inference_spec(services, name, inference)
    deploy_spec = {k: v for k, v in deployment.items() if k not in ("primary_key", "secondary_key")}
    deploy_spec.setdefault("host", services.settings.serving_host)
    deploy_spec.setdefault("max_body_bytes", services.settings.serving_max_body_bytes)
    spec = {"models": found, "inference": inference_spec, "deployment": deploy_spec}
    spec["staging"] = str(staging)
    _write_keys(
        services,
        name,
        bool(deployment.get("auth_enabled")),
        given=(deployment.get("primary_key"), deployment.get("secondary_key")),
    )
    info = services.store.create_service(
        name=name,
        compute_type=str(deployment.get("compute_type") or "ACI"),
        spec=spec,
        state={"failed_generation": None, "error": None},
        overwrite=overwrite,
    )
    ensure_agent(services.layout, services.settings)
    return info


def update(
    services: Services,
    name: str,
    *,
    models: Sequence[Mapping[str, Any]] | None = None,
    inference: Mapping[str, Any] | None = None,
    deployment: Mapping[str, Any] | None = None,
) -> ServiceInfo:
    """Tags, properties, description and auth change at once; new models or a new
    inference configuration make a new version, swapped in without dropping a request."""
    info = services.store.get_service(name)
    spec: dict[str, Any] = {}
    changes = dict(deployment or {})
    if changes:
        merged = {**info.spec.get("deployment", {})}
        if "recorded" in changes:
            merged["recorded"] = {**merged.get("recorded", {}), **changes.pop("recorded")}
        for key in ("tags", "properties"):
            if key in changes and changes[key] is not None:
                merged[key] = dict(changes.pop(key))
        merged.update({k: v for k, v in changes.items() if v is not None})
        keys = (merged.pop("primary_key", None), merged.pop("secondary_key", None))
        if "auth_enabled" in changes or any(keys):
            _write_keys(services, name, bool(merged.get("auth_enabled")), given=keys)
        spec["deployment"] = merged
    launch_change = bool(LAUNCH_FIELDS & set(changes))
    new_version = models is not None or inference is not None or launch_change
    if models is not None:
        spec["models"] = _models(services, models)
    if inference is not None:
        spec["inference"], staging = _inference_spec(services, name, inference)
        spec["staging"] = str(staging)
    elif new_version:
        spec["staging"] = str(_restage(services, info))
    updated = services.store.update_service(
        name,
        spec=spec,
        state={"failed_generation": None, "error": None} if new_version else None,
        status=TRANSITIONING if new_version else None,
        new_generation=new_version,
    )
    assert updated is not None
    if new_version:
        ensure_agent(services.layout, services.settings)
    return updated


def _restage(services: Services, info: ServiceInfo) -> Path:
    """A copy of the served version's source folder, for a new version with new models."""
    folder = service_folder(services, info.name)
    served = folder / f"gen-{info.state.get('prepared_generation') or info.generation}" / "app"
    source = served if served.is_dir() else Path(str(info.spec.get("staging") or ""))
    if not source.is_dir():
        raise WebserviceException(
            f"The source folder of service {info.name!r} is gone; update it with "
            "inference_config=InferenceConfig(entry_script=..., source_directory=...)."
        )
    staging = folder / f"staging-{uuid.uuid4().hex[:12]}"
    shutil.copytree(source, staging, symlinks=True)
    return staging


def delete(services: Services, name: str) -> None:
    """Stops the service, frees its port and removes it (keys and logs included)."""
    services.store.get_service(name)  # ServiceNotFound
    services.store.update_service(name, status=DELETING)
    backend(services).delete(name)
    services.store.delete_service(name)
    shutil.rmtree(service_folder(services, name), ignore_errors=True)


# ---- keys --------------------------------------------------------------------------------------
def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _read_keys(services: Services, name: str) -> dict[str, str]:
    data = read_json(service_folder(services, name) / KEYS) or {}
    return {k: str(v) for k, v in data.items() if k in KEY_NAMES and v}


def _write_keys(
    services: Services,
    name: str,
    auth_enabled: bool,
    *,
    given: tuple[Any, Any] = (None, None),
) -> dict[str, str]:
    """Keeps the service's keys (new ones where none exist or ``given``), then writes the
    hashes the server checks; it re-reads them at the next request."""
    folder = make_private_dir(service_folder(services, name))
    keys = _read_keys(services, name)
    for label, value in zip(KEY_NAMES, given, strict=True):
        if value is not None:
            keys[label] = _check_key(label, value)
        keys.setdefault(label, secrets.token_urlsafe(24))
    write_json(folder / KEYS, keys)
    make_private(folder / KEYS)
    auth = {"auth_enabled": auth_enabled, "key_sha256": [_hash(keys[k]) for k in KEY_NAMES]}
    write_json(folder / AUTH, auth)
    return keys


def _check_key(label: str, value: Any) -> str:
    if not isinstance(value, str) or len(value) < 8 or any(c.isspace() for c in value):
        raise WebserviceException(
            f"The {label.lower()} key must be a str of at least 8 characters without spaces; "
            "leave it out to have one generated."
        )
    return value


def _require_auth(services: Services, name: str) -> None:
    info = services.store.get_service(name)
    if not info.spec.get("deployment", {}).get("auth_enabled"):
        raise WebserviceException(
            f"Service {name} has no keys: it was deployed with auth_enabled=False. Turn key "
            "authentication on with service.update(auth_enabled=True), then call get_keys()."
        )


def get_keys(services: Services, name: str) -> tuple[str, str]:
    _require_auth(services, name)
    keys = _read_keys(services, name)
    if set(keys) != set(KEY_NAMES):
        keys = _write_keys(services, name, True)
    return keys["Primary"], keys["Secondary"]


def regen_key(services: Services, name: str, key: str, set_key: str | None = None) -> None:
    """Replaces one key (a new random one, or ``set_key``); the old one is refused from
    the next request on."""
    if key not in KEY_NAMES:
        raise WebserviceException(
            f"Error, unsupported key {key!r}: regen_key takes key='Primary' or key='Secondary'."
        )
    _require_auth(services, name)
    new = set_key if set_key is not None else secrets.token_urlsafe(24)
    given = (new, None) if key == "Primary" else (None, new)
    _write_keys(services, name, True, given=given)


def auth_of(services: Services, name: str) -> Path:
    return service_folder(services, name) / AUTH


# ---- logs and waiting ----------------------------------------------------------------------------
def logs(services: Services, name: str, num_lines: int = 5000, init: bool = False) -> str:
    services.store.get_service(name)  # ServiceNotFound
    return backend(services).logs(name, num_lines=num_lines, init=init)


def wait_for_deployment(
    services: Services,
    name: str,
    *,
    timeout_sec: float | None = None,
    show: Callable[[str], None] | None = None,
) -> ServiceView:
    """Waits until the latest version serves (Healthy or Unhealthy) or cannot (Failed).

    Raises:
        WebserviceException: Failed (v1's text, naming get_logs()), or the timeout passed.
    """
    deadline = None if timeout_sec is None else time.monotonic() + float(timeout_sec)
    shown = 0
    while True:
        current = view(services, name)  # ServiceNotFound if deleted meanwhile
        done = current.served_generation >= current.info.generation and current.state in (
            HEALTHY,
            UNHEALTHY,
        )
        if show is not None:
            shown = _show_progress(services, name, shown, show)
        if current.failed or current.state == FAILED:
            raise WebserviceException(
                "Service deployment polling reached non-successful terminal state, current "
                f"service state: Failed\nOperation ID: {name}-{current.info.generation}\n"
                f"Error: {current.error or 'the service stopped'}\n"
                "More information can be found using '.get_logs()'"
            )
        if done:
            return current
        if deadline is not None and time.monotonic() > deadline:
            raise WebserviceException(
                f"Service {name} did not become Healthy within {timeout_sec} s (state: "
                f"{current.state}). It keeps starting; call wait_for_deployment() again, or "
                "look at service.get_logs()."
            )
        time.sleep(POLL)


def _show_progress(services: Services, name: str, shown: int, show: Callable[[str], None]) -> int:
    """Prints the service log's new lines of this start (build, init()) as they come."""
    text = backend(services).logs(name, num_lines=100_000, init=True)
    lines = text.splitlines()
    if len(lines) < shown:
        shown = 0
    for line in lines[shown:]:
        show(line)
    return len(lines)
