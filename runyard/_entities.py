"""Frozen records that cross layers. No behaviour beyond small derived properties."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class RunStatus(str, enum.Enum):
    """v1's run status strings, in transition order."""

    NOT_STARTED = "NotStarted"
    QUEUED = "Queued"
    PREPARING = "Preparing"
    PROVISIONING = "Provisioning"
    STARTING = "Starting"
    RUNNING = "Running"
    CANCEL_REQUESTED = "CancelRequested"
    FINALIZING = "Finalizing"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELED = "Canceled"

    def is_terminal(self) -> bool:
        return self in _TERMINAL

    def __str__(self) -> str:
        return self.value


_TERMINAL = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELED})


class MetricKind(str, enum.Enum):
    """How a metric name was logged; fixes the shape get_metrics returns."""

    SCALAR = "scalar"  # run.log: one value per call
    LIST = "list"  # run.log_list: values of one list
    TABLE = "table"  # run.log_row / run.log_table: each point is one row (a dict)
    IMAGE = "image"  # run.log_image: the point's value is the artifact name


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """One logged value. ``value`` is float | int | bool | str for scalars and lists,
    a dict column -> value for table rows, and the artifact name for images."""

    name: str
    kind: MetricKind
    value: Any
    time: float  # seconds since the epoch (UTC)
    step: int | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class MetricSeries:
    name: str
    kind: MetricKind
    values: list[Any]
    description: str = ""


@dataclass(frozen=True, slots=True)
class ExperimentInfo:
    id: str
    name: str
    created_time: datetime
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RunInfo:
    run_id: str
    experiment_name: str
    number: int
    status: RunStatus
    run_type: str  # "azureml.scriptrun", "interactive", "hyperdrive" ...
    created_time: datetime
    parent_run_id: str | None = None
    display_name: str | None = None
    description: str | None = None
    target: str = "local"
    tags: Mapping[str, str | None] = field(default_factory=dict)
    properties: Mapping[str, str] = field(default_factory=dict)
    # v1's runDefinition: script, arguments, source directory, snapshot id, environment ...
    definition: Mapping[str, Any] = field(default_factory=dict)
    start_time: datetime | None = None
    end_time: datetime | None = None
    # {"code": ..., "message": ...} once the run Failed (or was Canceled with a reason)
    error: Mapping[str, Any] | None = None
    # Supervisor bookkeeping: pid, working dir, agent id ... (never shown to v1 code as such)
    runtime: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ModelVersion:
    name: str
    version: int
    created_time: datetime
    # Prefix in the artifact store under which this version's files live ("models/<uuid>").
    artifact_prefix: str
    # The registered path's basename: a file name, or a folder name for a folder model.
    model_path: str
    tags: Mapping[str, str | None] = field(default_factory=dict)
    properties: Mapping[str, str] = field(default_factory=dict)
    description: str | None = None
    run_id: str | None = None
    experiment_name: str | None = None
    model_framework: str | None = None
    model_framework_version: str | None = None

    @property
    def id(self) -> str:
        return f"{self.name}:{self.version}"


@dataclass(frozen=True, slots=True)
class EnvironmentRecord:
    name: str
    version: str  # v1's versions are strings: "1", "2", ...
    definition_json: str  # the Environment serialized by runyard.core.environment
    content_hash: str
    created_time: datetime


@dataclass(frozen=True, slots=True)
class ComputeTargetInfo:
    name: str
    compute_type: str  # "AmlCompute", ...
    # What the user asked for: vm_size, vm_priority, min_nodes, max_nodes,
    # idle_seconds_before_scaledown, tags, description ...
    config: Mapping[str, Any]
    # What the compute backend reports: nodes, allocation state, errors ...
    state: Mapping[str, Any]
    provisioning_state: str  # Creating | Succeeded | Failed | Canceled | Deleting
    created_time: datetime
    modified_time: datetime


@dataclass(frozen=True, slots=True)
class DatastoreInfo:
    name: str
    datastore_type: str  # "LocalFolder" (the embedded default), later "AzureBlob", "S3" ...
    config: Mapping[str, Any]  # e.g. {"url": "file:///..."} for fsspec
    is_default: bool
    created_time: datetime


@dataclass(frozen=True, slots=True)
class DatasetInfo:
    id: str
    name: str | None  # None for an unregistered dataset saved for lineage
    version: int | None
    # {"type": "File" | "Tabular", "paths": [{"datastore": ..., "path": ...} | {"url": ...}],
    #  ... reader options for tabular data}
    definition: Mapping[str, Any]
    description: str | None
    tags: Mapping[str, str | None]
    created_time: datetime
