"""The run a script sees: ``Run.get_context()`` inside a submitted job, or offline.

Job side, so import-light: no SQLAlchemy, rich or typer at import time. Metrics, tags and
properties go to the run's append-only spool (``runyard._spool``), which the agent's
supervisor ingests; files go straight into the artifact store. Everything else (reads such
as ``get_metrics`` and ``get_details``, child runs, ``register_model``) goes to the agent
over the job channel (``runyard._services.job_channel``): the job never opens the store.
"""

from __future__ import annotations

import io
import logging
import os
import threading
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runyard import _jobenv
from runyard._config import WorkspaceLayout
from runyard._metric_values import JSON_KINDS, check_metric_name
from runyard._spool import IMAGE, LIST, SCALAR, TABLE, SpoolWriter
from runyard.core._metric_points import (
    image_artifact,
    json_point,
    list_points,
    row_point,
    table_points,
)
from runyard.core.run import Run
from runyard.exceptions import MetricTypeConflict, RunEnvironmentException, UserErrorException

if TYPE_CHECKING:
    from runyard._services import run_files

# Job side: a job's Run.get_context() imports this module, so what it imports is paid at
# every job's start. The services (and the SDK modules that only some methods need) are
# imported inside the methods that use them ("late: job side"); tests/core/test_imports.py
# holds a job's start to what logging needs.

log = logging.getLogger(__name__)

# The JSON metrics' spool kinds are their MetricKind values ("confusion_matrix" ...).
_KIND_WORDS = {SCALAR: "scalar", LIST: "list", TABLE: "table", IMAGE: "image"}
_KIND_WORDS.update({kind: kind for kind in JSON_KINDS})
_cache: dict[tuple[str, ...], Run] = {}
_cache_lock = threading.Lock()


class _SubmittedRun(Run):
    """The run of the submitted job this process belongs to (v1's ``_SubmittedRun``).

    ``experiment`` may be a function that makes it: the Workspace and Experiment (and the
    modules behind them) are then made on first use, not at every job's start, since
    logging needs neither."""

    def __init__(
        self,
        experiment: Any | Callable[[], Any],
        run_id: str,
        spool: str,
        workspace_dir: str,
    ) -> None:
        self._made_experiment: Any = None
        self._make_experiment = experiment if callable(experiment) else None
        super().__init__(None if callable(experiment) else experiment, run_id)  # type: ignore[arg-type]
        self._spool = SpoolWriter(spool)
        self._workspace_dir = Path(workspace_dir)
        self._kinds: dict[str, str] = {}
        self._uploads: run_files.ArtifactsOnly | None = None

    @property  # type: ignore[override]  # Run's is a plain attribute
    def _experiment(self) -> Any:
        if self._made_experiment is None and self._make_experiment is not None:
            self._made_experiment = self._make_experiment()
        return self._made_experiment

    @_experiment.setter
    def _experiment(self, experiment: Any) -> None:
        self._made_experiment = experiment

    @property
    def _services(self) -> Any:
        # Reads, child runs and registrations go to the agent over the job channel; the job
        # never opens the store (it may have no SQLAlchemy), see _services/job_channel.py.
        return self._experiment.workspace._services

    # ---- metrics: one spool record per call ----------------------------------------
    def _kind(self, name: str, kind: str) -> None:
        old = self._kinds.setdefault(name, kind)
        if old != kind:
            raise MetricTypeConflict(self._run_id, name, _KIND_WORDS[old], _KIND_WORDS[kind])

    def log(self, name: str, value: Any, description: str = "", step: int | None = None) -> None:
        """Logs one value (kept once this returns, even if the process is then killed).

        Raises:
            UserErrorException: the value is not a number, str or bool, or a list.
        """
        if self._kinds.get(name) != SCALAR:
            check_metric_name(name)
            self._kind(name, SCALAR)
        if step is not None and (type(step) is not int):
            raise UserErrorException(f"run.log({name!r}, ..., step={step!r}): step must be an int.")
        self._spool.scalar(name, value, description, step)

    def log_list(self, name: str, value: Any, description: str = "") -> None:
        """Logs a list of values under one name."""
        points = list_points(name, value, description)
        self._kind(name, LIST)
        self._spool.record(name, LIST, [p.value for p in points], description)

    def log_row(self, name: str, description: str | None = None, **kwargs: Any) -> None:
        """Logs one table row; the keyword arguments are its columns."""
        point = row_point(name, kwargs, description or "", "log_row")
        self._kind(name, TABLE)
        self._spool.record(name, TABLE, point.value, description or "")

    def log_table(self, name: str, value: Mapping[str, Any], description: str = "") -> None:
        """Logs a table given as {column: [values]}."""
        points = table_points(name, value, description)
        self._kind(name, TABLE)
        self._spool.record(name, TABLE, [p.value for p in points], description)

    def log_image(
        self, name: str, path: Any = None, plot: Any = None, description: str = ""
    ) -> None:
        """Logs a png file (``path``) or a matplotlib figure (``plot``) as an image."""
        # late: job side (see the note at the top of this module)
        from runyard._services import run_files

        check_metric_name(name)
        artifact, data = image_artifact(name, path, plot)
        self._kind(name, IMAGE)
        run_files.upload_file(self._upload_target(), self._run_id, artifact, io.BytesIO(data))
        self._spool.record(name, IMAGE, artifact, description)

    def _log_json(self, method: str, name: str, value: Any, description: str) -> None:
        point = json_point(name, value, description or "", method)
        self._kind(name, point.kind.value)
        self._spool.record(name, point.kind.value, point.value, description or "")

    def flush(self, timeout_seconds: int = 300) -> None:
        """Returns at once: each record is in the spool when its log call returns."""

    # ---- tags and properties: applied by the supervisor from the spool ------------------
    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Sets tags (visible in the run's details once the agent ingests them)."""
        if not isinstance(tags, Mapping):
            raise UserErrorException(
                f"set_tags takes a dict of tag -> value, got {type(tags).__name__}."
            )
        self._spool.tags({_tag_key(k): None if v is None else str(v) for k, v in tags.items()})

    def add_properties(self, properties: Mapping[str, Any]) -> None:
        """Adds properties (immutable once set)."""
        if not isinstance(properties, Mapping):
            raise UserErrorException(
                f"add_properties takes a dict of name -> value, got {type(properties).__name__}."
            )
        self._spool.properties({_tag_key(k): str(v) for k, v in properties.items()})

    # ---- files: straight into the artifact store ------------------------------------------
    def _upload_target(self) -> run_files.ArtifactsOnly:
        # late: job side (see the note at the top of this module)
        from runyard._services import run_files

        if self._uploads is None:
            self._uploads = run_files.job_artifacts(WorkspaceLayout(self._workspace_dir))
        return self._uploads

    # ---- status belongs to the runtime (v1) ----------------------------------------------
    def complete(self, _set_status: bool = True) -> None:
        """Does nothing: the runtime sets Completed from the script's exit code (as v1)."""

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        # `with Run.get_context() as run:` in a job: the exception (if any) propagates and
        # the script's exit code sets the status; no advice about run.fail() is due here.
        return None

    def fail(
        self,
        error_details: Any = None,
        error_code: str | None = None,
        _set_status: bool = True,
        **kw: Any,
    ) -> None:
        """Changes nothing (as v1): the runtime sets the status from the exit code. Exit
        with a non-zero code (raise, or sys.exit(1)) to end the run Failed."""
        log.warning(
            "run.fail() inside a submitted run does not change its status; the run ends Failed "
            "when the script exits with a non-zero code (raise an exception or sys.exit(1))."
        )

    def cancel(self) -> None:
        log.warning("run.cancel() inside the run itself is ignored; cancel it from outside.")

    @property
    def input_datasets(self) -> dict[str, Any]:
        """{name: local path} of mounted or downloaded inputs; direct inputs' datasets."""
        # late: job side (only scripts that read their datasets pay for runyard.data)
        from runyard.data import run_datasets

        return run_datasets.input_datasets(os.environ)

    @property
    def output_datasets(self) -> dict[str, Any]:
        """{name: local folder} of the run's output datasets (OutputFileDatasetConfig)."""
        return dict(_jobenv.output_datasets(os.environ))


def _tag_key(key: Any) -> str:
    if not isinstance(key, str) or not key:
        raise UserErrorException(f"Tag and property names must be non-empty str, got {key!r}.")
    return key


class _OfflineRun:
    """What get_context returns outside a submitted run: prints what would be logged
    (v1's wording) and raises nothing, so a script runs unchanged on a laptop."""

    def __init__(self, run_id: str | None = None) -> None:
        self.id = run_id or f"OfflineRun_{uuid.uuid4()}"
        self.parent = None  # v1 lacks it and scripts crash on it (AML notebooks #1358)

    def __repr__(self) -> str:
        return f"_OfflineRun(id={self.id!r})"

    def _attempt(self, what: str, name: Any, value: Any) -> None:
        print(f"Attempted to log {what} metric {name}:\n{value}")

    def log(self, name: str, value: Any, description: str = "", step: int | None = None) -> None:
        self._attempt("scalar", name, value)

    def log_list(self, name: str, value: Any, description: str = "") -> None:
        self._attempt("list", name, value)

    def log_row(self, name: str, description: str | None = None, **kwargs: Any) -> None:
        self._attempt("row", name, kwargs)

    def log_table(self, name: str, value: Any, description: str = "") -> None:
        self._attempt("table", name, value)

    def log_image(
        self, name: str, path: Any = None, plot: Any = None, description: str = ""
    ) -> None:
        self._attempt("image", name, path if path is not None else plot)

    def log_confusion_matrix(self, name: str, value: Any, description: str = "") -> None:
        self._attempt("confusion_matrix", name, value)

    def log_accuracy_table(self, name: str, value: Any, description: str = "") -> None:
        self._attempt("accuracy_table", name, value)

    def log_residuals(self, name: str, value: Any, description: str = "") -> None:
        self._attempt("residual", name, value)

    def log_predictions(self, name: str, value: Any, description: str = "") -> None:
        self._attempt("predictions", name, value)

    def flush(self, timeout_seconds: int = 300) -> None:
        print(f"Attempted to flush run with id {self.id}")

    def tag(self, key: str, value: Any = None) -> None:
        print(f"Attempted to set tag {key} to {value}")

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        print(f"Attempted to set tags {dict(tags)}")

    def add_properties(self, properties: Mapping[str, Any]) -> None:
        print(f"Attempted to add properties {dict(properties)}")

    def upload_file(self, name: str, path_or_stream: Any, datastore_name: Any = None) -> None:
        print(f"Attempted to upload file {name} from {path_or_stream}")

    def upload_files(self, names: Any, paths: Any, *args: Any, **kwargs: Any) -> None:
        print(f"Attempted to upload files {list(names)} from {list(paths)}")

    def upload_folder(self, name: str, path: Any, datastore_name: Any = None) -> None:
        print(f"Attempted to upload folder {name} from {path}")

    def complete(self, *args: Any, **kwargs: Any) -> None:
        pass

    def fail(self, *args: Any, **kwargs: Any) -> None:
        pass

    def cancel(self) -> None:
        pass

    def child_run(self, name: str | None = None, run_id: str | None = None, outputs: Any = None):
        return _OfflineRun(run_id or f"{self.id}.{name or uuid.uuid4()}")

    @property
    def input_datasets(self) -> dict[str, Any]:
        return {}

    def __enter__(self) -> _OfflineRun:
        print(f"[START] Run {self.id} context")
        return self

    def __exit__(self, *exc: Any) -> None:
        print(f"[STOP] Run {self.id} context")


def _channel_services(layout: WorkspaceLayout, settings: Any) -> Any:
    """A job's Services: the store through the agent (opened on the first call that needs
    more than logging)."""
    # late: job side (see the note at the top of this module)
    from runyard._services.job_channel import channel_services

    return channel_services(layout, settings)


def _job_experiment(env: Mapping[str, str]) -> Any:
    """The submitted run's Experiment, in a Workspace that reaches the store through the
    agent (made when the run first needs more than its spool)."""
    # late: job side (see the note at the top of this module)
    from runyard.core.experiment import Experiment
    from runyard.core.workspace import Workspace

    workspace = Workspace._from_layout(
        WorkspaceLayout(Path(env[_jobenv.WORKSPACE_DIR])),
        name=env[_jobenv.WORKSPACE_NAME],
        subscription_id=env.get(_jobenv.SUBSCRIPTION, ""),
        resource_group=env.get(_jobenv.RESOURCE_GROUP, ""),
    )
    workspace._opener = _channel_services
    return Experiment(workspace, env[_jobenv.EXPERIMENT_NAME], _create_in_cloud=False)


def _submitted_run(env: Mapping[str, str]) -> Run:
    key = tuple(env.get(n, "") for n in (*_jobenv.REQUIRED, _jobenv.SUBSCRIPTION))
    with _cache_lock:
        run = _cache.get(key)
        if run is None:
            values = dict(env)  # as it is now: the run's workspace is made later
            run = _SubmittedRun(
                lambda: _job_experiment(values),
                env[_jobenv.RUN_ID],
                env[_jobenv.SPOOL],
                env[_jobenv.WORKSPACE_DIR],
            )
            _cache[key] = run
        return run


def get_context(allow_offline: bool = True) -> Any:
    """The submitted run this process belongs to, else an offline run.

    Args:
        allow_offline: Outside a submitted run, return an offline run (True) or raise.

    Returns:
        A ``_SubmittedRun`` (the same object on every call) or an ``_OfflineRun``.

    Raises:
        RunEnvironmentException: outside a submitted run with ``allow_offline=False``.
    """
    missing = _jobenv.missing_variables(os.environ)
    if not missing:
        return _submitted_run(os.environ)
    if allow_offline:
        return _OfflineRun()
    raise RunEnvironmentException(
        "Run.get_context(allow_offline=False) found no submitted run: environment variables "
        f"{', '.join(missing)} are not set. Submit the script with experiment.submit("
        "ScriptRunConfig(...)), or call Run.get_context() (allow_offline=True) to get an "
        "offline run that prints metrics."
    )
