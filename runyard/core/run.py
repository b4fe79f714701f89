"""Run: one execution in an experiment (v1's ``azureml.core.Run``), driver side.

Light on purpose: the job side subclasses Run (see the note below the imports).
"""

from __future__ import annotations

import builtins
import sys
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from runyard._entities import RunError, RunInfo, RunStatus
from runyard._reexports import lazy_exports
from runyard.core._run_files import _RunFiles, _tracked_folders
from runyard.core._run_metrics import _RunMetrics
from runyard.core._run_secrets import _RunSecrets
from runyard.exceptions import (
    ActivityFailedException,
    ExperimentExecutionException,
    InvalidStatusTransition,
    RunEnvironmentException,
    SnapshotException,
    UserErrorException,
)

if TYPE_CHECKING:
    from runyard._services import Services
    from runyard.core.experiment import Experiment
    from runyard.core.workspace import Workspace

# Job side: a job's Run.get_context() imports this module, so what it imports is paid at
# every job's start. The services (and the SDK modules that only some methods need) are
# imported inside the methods that use them ("late: job side"); tests/core/test_imports.py
# holds a job's start to what logging needs.

# v1's module constants (azureml._restclient.constants.RunStatus's lists).
RUNNING_STATES = ["NotStarted", "Queued", "Preparing", "Provisioning", "Starting", "Running",
                  "Unapproved", "NotResponding", "Pausing", "Paused"]  # fmt: skip
POST_PROCESSING_STATES = ["CancelRequested", "Finalizing"]

# v1 internals callers may pass; accepted and ignored.
_IGNORED_KWARGS = frozenset(
    {"_run_dto", "_worker_pool", "_user_agent", "_ident", "_batch_upload_metrics", "py_wd",
     "deny_list", "flush_eager", "redirect_output_stream", "_client", "_parent_logger"}
)  # fmt: skip


class Run(_RunFiles, _RunMetrics, _RunSecrets):
    """A run of an experiment.

    ``Run(experiment, run_id)`` reads the run lazily, on the first property that needs it.

    Args:
        experiment: The run's experiment.
        run_id: The run's id.
        outputs: A folder (or list of folders) to track, as in v1: created now, and its
            files uploaded as the run's files when this object completes, fails or cancels
            the run (``outputs/model.pkl`` for the folder ``outputs``).
    """

    def __init__(
        self, experiment: Experiment, run_id: str, outputs: Any = None, **kwargs: Any
    ) -> None:
        info = kwargs.pop("_run_info", None)
        unknown = set(kwargs) - _IGNORED_KWARGS
        if unknown:
            raise UserErrorException(
                f"Run() got unexpected arguments {sorted(unknown)}; it takes experiment, "
                "run_id and outputs."
            )
        self._experiment = experiment
        self._run_id = run_id
        self._outputs = outputs
        self._tracked = _tracked_folders(outputs)
        self._info: RunInfo | None = info

    # ---- lookup ------------------------------------------------------------------------
    @staticmethod
    def get(workspace: Workspace, run_id: str) -> Run:
        """The run with this id in the workspace.

        Raises:
            RunNotFound: No such run (the message says how to list runs).
        """
        # late: job side (see the note at the top of this module)
        from runyard._services import runs

        return _wrap(workspace, runs.get_run(workspace._services, run_id))

    @staticmethod
    def list(
        experiment: Experiment,
        type: str | None = None,
        tags: Any = None,
        properties: Any = None,
        status: str | None = None,
        include_children: bool = False,
        _rehydrate_runs: bool = True,
    ) -> Iterator[Run]:
        """Runs of an experiment, newest first."""
        # late: job side (see the note at the top of this module)
        from runyard._services import runs

        infos = runs.list_runs(
            experiment.workspace._services,
            experiment_name=experiment.name,
            run_type=type,
            tags=tags,
            properties=properties,
            statuses=None if status is None else [status],
            include_children=include_children,
        )
        return iter([_run_class(i)(experiment, i.run_id, _run_info=i) for i in infos])

    @staticmethod
    def get_context(
        allow_offline: bool = True, used_for_context_manager: bool = False, **kwargs: Any
    ) -> Run:
        """Inside a submitted job, its run; elsewhere an offline run (or an error).

        Raises:
            RunEnvironmentException: Outside a job with ``allow_offline=False``.
        """
        # late: cycle Run -> run_context -> Run; run_context subclasses Run at module level
        from runyard.core.run_context import get_context

        return get_context(allow_offline)

    get_submitted_run = get_context

    # ---- plumbing ------------------------------------------------------------------------
    @property
    def _services(self) -> Services:
        return self._experiment.workspace._services

    def _get_info(self) -> RunInfo:
        if self._info is None:
            self._refresh()
        assert self._info is not None
        return self._info

    def _refresh(self) -> RunInfo:
        # late: job side (see the note at the top of this module)
        from runyard._services import runs

        self._info = runs.get_run(self._services, self._run_id)
        return self._info

    def _set(self, info: RunInfo) -> None:
        self._info = info

    # ---- identity ------------------------------------------------------------------------
    @property
    def id(self) -> str:
        return self._run_id

    @property
    def experiment(self) -> Experiment:
        return self._experiment

    @property
    def number(self) -> int:
        return self._get_info().number

    @property
    def name(self) -> str | None:
        return self.display_name

    @property
    def display_name(self) -> str | None:
        return self._get_info().display_name or self._run_id

    @display_name.setter
    def display_name(self, value: str) -> None:
        # late: job side (see the note at the top of this module)
        from runyard._services import runs

        self._set(runs.update_run(self._services, self._run_id, display_name=_text(value)))

    @property
    def description(self) -> str | None:
        return self._get_info().description

    @description.setter
    def description(self, value: str) -> None:
        # late: job side (see the note at the top of this module)
        from runyard._services import runs

        self._set(runs.update_run(self._services, self._run_id, description=_text(value)))

    @property
    def type(self) -> str:
        return self._get_info().run_type

    @property
    def status(self) -> str:
        return self._get_info().status.value

    @property
    def tags(self) -> dict[str, str | None]:
        return dict(self._get_info().tags)

    @property
    def properties(self) -> dict[str, str]:
        return dict(self._get_info().properties)

    @property
    def parent(self) -> Run | None:
        parent_id = self._get_info().parent_run_id
        return None if parent_id is None else Run(self._experiment, parent_id)

    # ---- status --------------------------------------------------------------------------
    def get_status(self) -> str:
        """The current status, read again unless the run already ended."""
        info = self._info
        if info is None or not info.status.is_terminal():
            info = self._refresh()
        return info.status.value

    def get_detailed_status(self) -> dict[str, Any]:
        """``{'status': get_status(), 'details': ...}``; details says why a Queued run
        waits (None in any other status), as in v1."""
        status = self.get_status()
        details = None
        if status == RunStatus.QUEUED.value:
            info = self._get_info()
            details = info.runtime.scaling or (
                f"Run is waiting for a free node on target {info.target!r}."
            )
        return {"status": status, "details": details}

    def get_details(self) -> dict[str, Any]:
        """v1's details dict (runId, status, startTimeUtc, runDefinition, logFiles ...)."""
        # late: job side (see the note at the top of this module)
        from runyard._services import run_details

        return run_details.get_details(self._services, self._run_id)

    def get_details_with_logs(self) -> dict[str, Any]:
        """get_details, with each logFiles value being the file's content."""
        # late: job side (see the note at the top of this module)
        from runyard._services import run_details

        return run_details.get_details(self._services, self._run_id, with_logs=True)

    def get_portal_url(self) -> str:
        """Where to look at the run: v1 gives its ml.azure.com page; with no studio yet,
        this is the ``file://`` URL of the run's folder (its logs, outputs and files).

        Returns:
            ``file:///<workspace>/artifacts/runs/<run id>``; the folder exists once the
            run has a file.
        """
        # late: job side (see the note at the top of this module)
        from runyard._services import run_files

        folder = self._experiment.workspace._layout.artifacts_dir / run_files.run_key(self._run_id)
        return folder.absolute().as_uri()

    def start(self) -> None:
        """Moves a NotStarted run to Running."""
        self._set_status(RunStatus.RUNNING)

    def complete(self, _set_status: bool = True) -> None:
        """Uploads the tracked outputs folder, then marks the run Completed."""
        self._upload_tracked()
        if _set_status:
            self._set_status(RunStatus.COMPLETED)

    def fail(
        self, error_details: Any = None, error_code: str | None = None, _set_status: bool = True
    ) -> None:
        """Uploads the tracked outputs folder, then marks the run Failed, storing
        ``{"code", "message"}`` from the arguments."""
        # late: job side (see the note at the top of this module)
        from runyard._services import runs

        self._upload_tracked()
        if _set_status:
            self._set_status(RunStatus.FAILED, error=runs.error_from(error_details, error_code))

    def cancel(self) -> None:
        """Cancels the run: submitted runs through the agent, interactive ones at once."""
        # late: job side (see the note at the top of this module)
        from runyard._services import runs

        if self._get_info().run_type == runs.INTERACTIVE:
            self._upload_tracked()
            self._set_status(RunStatus.CANCELED)
            return
        # late: job side; a job's Run.get_context() imports this module and must start fast,
        # and canceling pulls in the agent client, compute backends and snapshots.
        from runyard._services import jobs

        self._set(jobs.cancel_run(self._services, self._run_id))

    def _set_status(self, status: RunStatus, error: RunError | None = None) -> None:
        # late: job side (see the note at the top of this module)
        from runyard._services import runs

        self._set(runs.set_status(self._services, self._run_id, status, error=error))

    def wait_for_completion(
        self,
        show_output: bool = False,
        wait_post_processing: bool = False,
        raise_on_error: bool = True,
    ) -> dict[str, Any]:
        """Waits for the run to end and returns get_details().

        Args:
            show_output: Stream the driver log and the phases to stdout.
            raise_on_error: Raise when the run ended Failed.

        Raises:
            ActivityFailedException: The run Failed and raise_on_error is set; the message
                holds the error (with the script's last error lines).
        """
        # late: job side; a job's Run.get_context() imports this module and must start fast,
        # and following a run pulls in the agent client, compute backends and snapshots.
        from runyard._services import follow

        info = follow.wait_for_run(
            self._services, self._run_id, show_output=show_output, out=sys.stdout
        )
        self._set(info)
        details = self.get_details()
        if raise_on_error and info.status is RunStatus.FAILED:
            message = info.error.message if info.error else "no error message"
            raise ActivityFailedException(
                f"Run {self._run_id!r} failed: {message}",
                error_details=details,
            )
        return details

    # ---- tags and properties -------------------------------------------------------------
    def tag(self, key: str, value: Any = None) -> None:
        """Sets one tag (value None keeps only the key)."""
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Sets several tags at once (tags can change at any time)."""
        # late: job side (see the note at the top of this module)
        from runyard._services import run_tags

        self._set(run_tags.set_tags(self._services, self._run_id, tags))

    def remove_tags(self, tags: Any) -> None:
        """Removes the given tag keys."""
        # late: job side (see the note at the top of this module)
        from runyard._services import run_tags

        self._set(run_tags.remove_tags(self._services, self._run_id, tags))

    def get_tags(self) -> dict[str, str | None]:
        return dict(self._refresh().tags)

    def add_properties(self, properties: Mapping[str, Any]) -> None:
        """Adds properties; they cannot change once set.

        Raises:
            ImmutablePropertyError: A key already holds another value (nothing changes).
        """
        # late: job side (see the note at the top of this module)
        from runyard._services import run_tags

        self._set(run_tags.add_properties(self._services, self._run_id, properties))

    def get_properties(self) -> dict[str, str]:
        return dict(self._refresh().properties)

    # ---- children ------------------------------------------------------------------------
    def child_run(
        self, name: str | None = None, run_id: str | None = None, outputs: Any = None
    ) -> Run:
        """Creates and starts a child run."""
        # late: job side (see the note at the top of this module)
        from runyard._services import runs

        info = runs.start_run(
            self._services,
            experiment_name=self._experiment.name,
            run_id=run_id,
            display_name=name,
            parent_run_id=self._run_id,
        )
        return Run(self._experiment, info.run_id, outputs=outputs, _run_info=info)

    def create_children(
        self, count: int | None = None, tag_key: str | None = None, tag_values: Any = None
    ) -> builtins.list[Run]:
        """Creates and starts child runs: ``count`` of them (tagged
        ``azureml.batch_child_number`` 0..count-1), or one per value of ``tag_values``
        (tagged ``tag_key``). At most 100 at once."""
        # late: job side (see the note at the top of this module)
        from runyard._services import runs

        infos = runs.create_children(
            self._services, experiment_name=self._experiment.name, parent_run_id=self._run_id,
            count=count, tag_key=tag_key, tag_values=tag_values,
        )  # fmt: skip
        return [Run(self._experiment, i.run_id, _run_info=i) for i in infos]

    def get_environment(self) -> Any:
        """The Environment the run used, as its run definition recorded it."""
        definition = self._refresh().definition  # what get_details()["runDefinition"] holds
        if not definition:
            raise UserErrorException(
                f"There is no run definition or environment specified for the run {self._run_id!r}"
                " (it was not submitted with a ScriptRunConfig)."
            )
        data = definition.get("environment")
        if not data:
            raise UserErrorException(
                f"There is no environment specified for the run {self._run_id!r}; only runs "
                "submitted with a ScriptRunConfig or an estimator record one."
            )
        # late: job side; environments are needed only by the runs that ask for theirs
        from runyard.core.environment import Environment

        return Environment._deserialize(data)

    def get_children(
        self,
        recursive: bool = False,
        tags: Any = None,
        properties: Any = None,
        type: str | None = None,
        status: str | None = None,
        _rehydrate_runs: bool = True,
    ) -> Iterator[Run]:
        """Direct children (all descendants with recursive), filtered as given."""
        # late: job side (see the note at the top of this module)
        from runyard._services import runs

        services = self._services
        if recursive:
            ids = {i.run_id for i in runs.list_descendants(services, self._run_id)}
            infos = runs.list_runs(
                services, experiment_name=self._experiment.name, include_children=True,
                run_type=type, tags=tags, properties=properties,
                statuses=None if status is None else [status],
            )  # fmt: skip
            infos = [i for i in infos if i.run_id in ids]
        else:
            infos = runs.list_runs(
                services, parent_run_id=self._run_id, run_type=type, tags=tags,
                properties=properties, statuses=None if status is None else [status],
            )  # fmt: skip
        return iter([_run_class(i)(self._experiment, i.run_id, _run_info=i) for i in infos])

    # ---- context manager -----------------------------------------------------------------
    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if exc is None:
                self.complete()
            else:
                self.fail(error_details=exc)
        except InvalidStatusTransition:
            # The body already ended the run (run.complete(), fail() or cancel()). v1's
            # service ignores the later status event; raising here would hide the body's
            # own exception.
            pass

    def __repr__(self) -> str:
        return f"Run(Experiment: {self._experiment.name}, Id: {self._run_id})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Run) and other._run_id == self._run_id

    def __hash__(self) -> int:
        return hash(self._run_id)


# Run types whose runs get a class of their own. As in v1 (whose packages declare them as
# "azureml.core.run" entry points), they are found through the "runyard.run_types" entry
# points, so Run.get(ws, "HD_...") gives a HyperDriveRun without the caller importing
# runyard.train.hyperdrive; importing a class's module registers it as well.
RUN_TYPES_ENTRY_POINTS = "runyard.run_types"
_RUN_CLASSES: dict[str, type[Run]] = {}
_LOOKED_UP: set[str] = set()


def register_run_class(run_type: str, cls: type[Run]) -> None:
    _RUN_CLASSES[run_type] = cls


def _run_class(info: RunInfo) -> type[Run]:
    run_type = info.run_type
    if run_type not in _RUN_CLASSES and run_type not in _LOOKED_UP:
        _LOOKED_UP.add(run_type)
        # late: job side; reading the installed packages' metadata costs a few ms, paid once
        # per run type only when a run of a type without a class is opened
        from importlib.metadata import entry_points

        for entry in entry_points(group=RUN_TYPES_ENTRY_POINTS, name=run_type):
            register_run_class(run_type, entry.load())
            break
    return _RUN_CLASSES.get(run_type, Run)


def _wrap(workspace: Workspace, info: RunInfo) -> Run:
    # late: cycle Run -> Experiment -> Run; Experiment imports run at module level
    from runyard.core.experiment import Experiment

    experiment = Experiment(workspace, info.experiment_name, _create_in_cloud=False)
    return _run_class(info)(experiment, info.run_id, _run_info=info)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise UserErrorException(f"Expected a str, got {type(value).__name__} ({value!r:.80}).")
    return value


def get_run(
    experiment: Experiment, run_id: str, rehydrate: bool = True, clean_up: bool = True
) -> Run:
    """v1's ``azureml.core.run.get_run``: the run of ``experiment`` with this id, of its run
    type's class (a sweep gives a HyperDriveRun).

    Raises:
        RunNotFound: No such run.
    """
    # late: job side (see the note at the top of this module)
    from runyard._services import runs

    info = runs.get_run(experiment.workspace._services, run_id)
    return _run_class(info)(experiment, info.run_id, _run_info=info)


# Names v1's azureml.core.run module offers; loaded on first access (job side stays light).
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "AbstractDataset": "runyard.data.abstract_dataset",
        "DataPath": "runyard.data.datapath",
        "Datastore": "runyard.core.datastore",
        "Environment": "runyard.core.environment",
        "Keyvault": "runyard.core.keyvault",
        "_OfflineRun": "runyard.core.run_context",
    },
)
__all__ = [
    "POST_PROCESSING_STATES",
    "RUNNING_STATES",
    "ExperimentExecutionException",
    "Run",
    "RunEnvironmentException",
    "SnapshotException",
    "get_run",
]
