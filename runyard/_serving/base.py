"""The serving backend interface, and the records that cross it."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# v1's service states (Webservice.state)
TRANSITIONING = "Transitioning"
HEALTHY = "Healthy"
UNHEALTHY = "Unhealthy"
FAILED = "Failed"
DELETING = "Deleting"


@dataclass(frozen=True, slots=True)
class ServiceLaunch:
    """One generation of a service, ready to serve: everything is on this machine."""

    name: str
    generation: int
    python: str  # the model environment's interpreter
    app_root: str  # AML_APP_ROOT: holds azureml-models/ and app/ (the source folder)
    source_directory: str
    entry_script: str  # absolute path
    model_dir: str  # AZUREML_MODEL_DIR
    env: Mapping[str, str] = field(default_factory=dict)  # PYTHONPATH and the like
    workers: int = 1
    host: str = "127.0.0.1"
    port: int | None = None  # None: a free port, then kept
    cpu_cores: float | None = None
    memory_gb: float | None = None
    max_body_bytes: int = 100 * 1024 * 1024
    timeout_ms: int = 60_000

    def to_json(self) -> dict[str, Any]:
        return {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in _fields(self).items()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ServiceLaunch:
        return cls(**{k: data[k] for k in _fields_of(cls) if k in data})


def _fields(launch: ServiceLaunch) -> dict[str, Any]:
    return {name: getattr(launch, name) for name in _fields_of(type(launch))}


def _fields_of(cls: type) -> tuple[str, ...]:
    return tuple(cls.__dataclass_fields__)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class ServiceReport:
    """What the backend says of a service now."""

    state: str  # Transitioning | Healthy | Unhealthy | Failed
    port: int | None = None
    generation: int = 0  # the generation being served (0: none yet)
    error: str | None = None  # why it is Failed / Unhealthy, or why the last update failed
    failed_generation: int | None = None  # the generation whose start failed, if any
    restarts: int = 0  # scoring processes restarted after a crash
    pids: tuple[int, ...] = ()  # host first, then its workers
    alive: bool = False  # the serving process (host) is running

    def to_state(self) -> dict[str, Any]:
        return {
            "port": self.port,
            "served_generation": self.generation,
            "error": self.error,
            "failed_generation": self.failed_generation,
            "restarts": self.restarts,
            "pids": list(self.pids),
        }


class ServingBackend(abc.ABC):
    """Runs deployed services. Every method is safe to call from any process of the
    workspace (the SDK, the CLI, the agent)."""

    kind: str

    @abc.abstractmethod
    def deploy(self, launch: ServiceLaunch) -> None:
        """Starts ``launch``; when the service already serves an older generation, swaps
        the new one in (update) without dropping a request."""

    def update(self, launch: ServiceLaunch) -> None:
        """The same as deploy: a running service swaps the new generation in."""
        self.deploy(launch)

    @abc.abstractmethod
    def status(self, name: str) -> ServiceReport:
        """The service's state as its processes report it (Transitioning when unknown)."""

    @abc.abstractmethod
    def logs(self, name: str, num_lines: int = 5000, init: bool = False) -> str:
        """The last ``num_lines`` lines of the service's log; ``init``: the log of the
        latest start (build, init()) only."""

    @abc.abstractmethod
    def revive(self, name: str) -> bool:
        """Starts the service's serving process again if it is gone (the agent calls this
        for every service it owns); True if it was started."""

    @abc.abstractmethod
    def delete(self, name: str) -> None:
        """Stops every process of the service and frees its port."""
