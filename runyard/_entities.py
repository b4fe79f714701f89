"""Frozen records that cross layers. No behaviour beyond small derived properties."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple


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

    def is_active(self) -> bool:
        """True while an agent supervises the run (it holds capacity, its job may run)."""
        return self in ACTIVE_STATUSES

    def __str__(self) -> str:
        return self.value


_TERMINAL = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELED})
ACTIVE_STATUSES = frozenset(
    {
        RunStatus.PREPARING,
        RunStatus.STARTING,
        RunStatus.RUNNING,
        RunStatus.FINALIZING,
        RunStatus.CANCEL_REQUESTED,
    }
)


class ErrorCode(str, enum.Enum):
    """The codes Runyard itself gives a run's error. A user's ``run.fail(error_code=...)``
    and a failed environment build (the builder's exception name) give other strings."""

    USER_ERROR = "UserError"  # the script exited non-zero; run.fail() without a code
    PROCESS_KILLED = "ProcessKilled"  # the script was killed by a signal
    AGENT_STOPPED = "AgentStopped"  # runyard agent stop / SIGTERM while the run was active
    AGENT_DIED = "AgentDied"  # the supervising agent disappeared
    SUPERVISOR_ERROR = "SupervisorError"  # a bug of ours while supervising the run
    DATASET_INPUT_FAILED = "DatasetInputFailed"
    COMPUTE_TARGET_NOT_FOUND = "ComputeTargetNotFound"
    MAX_RUN_DURATION_EXCEEDED = "MaxRunDurationExceeded"
    DISK_FULL = "DiskFull"  # a write of the run's spool, files or records found no space
    EARLY_TERMINATION = "EarlyTermination"  # a sweep's policy stopped this child run
    NODE_LOST = "NodeLost"  # the run's node died under it, and no retry was left

    def __str__(self) -> str:
        return self.value


class MetricKind(str, enum.Enum):
    """How a metric name was logged; fixes the shape get_metrics returns."""

    SCALAR = "scalar"  # run.log: one value per call
    LIST = "list"  # run.log_list: values of one list
    TABLE = "table"  # run.log_row / run.log_table: each point is one row (a dict)
    IMAGE = "image"  # run.log_image: the point's value is the artifact name
    # v1's JSON metrics (azureml.v1.<kind>): each point's value is the logged JSON object.
    CONFUSION_MATRIX = "confusion_matrix"
    ACCURACY_TABLE = "accuracy_table"
    RESIDUALS = "residuals"
    PREDICTIONS = "predictions"


class MetricPoint(NamedTuple):
    """One logged value. ``value`` is float | int | bool | str for scalars and lists,
    a dict column -> value for table rows, and the artifact name for images.

    A NamedTuple, not a frozen dataclass like its neighbours: ingest makes a million of
    them per million points, and a frozen dataclass's __init__ is 3x slower to build."""

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
    archived_time: datetime | None = None  # set by Experiment.archive, cleared by reactivate


@dataclass(frozen=True, slots=True)
class RunError:
    """Why a run Failed (or was Canceled with a reason)."""

    code: ErrorCode | str
    message: str
    exit_code: int | None = None  # the script's, when it ended by itself or by a signal
    last_error_lines: tuple[str, ...] = ()  # its last traceback from the driver log

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape (v1's details["error"]["error"]): code, message, and the rest
        when known."""
        out: dict[str, Any] = {"code": str(self.code), "message": self.message}
        if self.exit_code is not None:
            out["exit_code"] = self.exit_code
        if self.last_error_lines:
            out["last_error_lines"] = list(self.last_error_lines)
        return out


@dataclass(frozen=True, slots=True)
class JobRef:
    """What identifies a launched job to the compute backend that launched it, so that a
    later agent can find it again (``ComputeBackend.reattach``)."""

    backend: str  # the compute type whose backend launched it ("local", "AmlCompute" ...)
    job_id: str  # the backend's id: a pid for local processes
    # Tells the job from a later one given the same id (a local process: its start time).
    instance: str | None = None


@dataclass(frozen=True, slots=True)
class RunRuntime:
    """The agent's bookkeeping of a run (never shown to v1 code as such). None: not
    recorded yet. ``Store.update_run(runtime=...)`` merges the fields that are not None."""

    submitted_by: str | None = None
    agent_pid: int | None = None  # the agent that claimed the run last
    prepared_python: str | None = None  # a cluster run's built interpreter, once Prepared
    scaling: str | None = None  # the 'Scaling: ...' line when its cluster grew for it
    node_id: str | None = None  # the cluster node it was placed on
    job: JobRef | None = None  # its launched job
    workdir: str | None = None  # the job's working copy
    exit_code: int | None = None  # recorded as soon as the job ended
    timed_out_after: float | None = None  # max_run_duration_seconds, once it passed
    # Where the job runs, as its backend describes each node (Ray node and actor ids ...).
    placement: tuple[Mapping[str, Any], ...] | None = None
    # Earlier attempts whose node was lost under them: attempt, node, reason, times.
    attempts: tuple[Mapping[str, Any], ...] | None = None


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
    error: RunError | None = None  # once the run Failed (or was Canceled with a reason)
    runtime: RunRuntime = field(default_factory=RunRuntime)
    # True for runs the agent runs (submitted scripts); False for runs a process logs to
    # itself (start_logging, child_run).
    agent_managed: bool = False


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
class ServiceInfo:
    """A deployed web service (v1's Webservice). ``spec`` is what the user asked for (models,
    inference config, deploy configuration); ``generation`` counts the deploys and updates of
    that spec, and the serving backend reports in ``state`` which generation it serves."""

    name: str
    compute_type: str  # "ACI" | "AKS" | "Local"
    spec: Mapping[str, Any]
    state: Mapping[str, Any]  # port, pid, served generation, restarts, error ...
    status: str  # Transitioning | Healthy | Unhealthy | Failed | Deleting
    generation: int
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
