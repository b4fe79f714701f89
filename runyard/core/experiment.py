"""Experiment: a named group of runs in a workspace."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from runyard._reexports import lazy_exports
from runyard._services import runs
from runyard.core._run_files import _tracked_folders
from runyard.core.run import Run
from runyard.exceptions import SnapshotException, UserErrorException

if TYPE_CHECKING:
    from runyard._entities import ExperimentInfo
    from runyard._services import Services
    from runyard.core.workspace import Workspace


class ViewType:
    """Which experiments ``Experiment.list`` returns (v1's ``ViewType``)."""

    ActiveOnly = "ActiveOnly"
    All = "All"
    ArchivedOnly = "ArchivedOnly"


class Experiment:
    """A named group of runs; creating the object creates the experiment (as in v1).

    Args:
        workspace: The workspace holding the experiment.
        name: 1 to 255 characters; first alphanumeric, then letters, digits, '_' or '-'.
        _create_in_cloud: False builds the object without touching the store (job side).

    Raises:
        UserErrorException: The name breaks v1's rule (nothing is created).
    """

    def __init__(
        self,
        workspace: Workspace,
        name: str,
        _skip_name_validation: bool = False,
        _id: str | None = None,
        _archived_time: Any = None,
        _create_in_cloud: bool = True,
        _experiment_dto: Any = None,
        **kwargs: Any,
    ) -> None:
        if not _skip_name_validation:
            runs.check_experiment_name(name)
        self._workspace = workspace
        self._name = name
        self._id = _id
        self._info: ExperimentInfo | None = None
        if _create_in_cloud:
            self._info = runs.get_or_create_experiment(workspace._services, name)
            self._id = self._info.id

    @property
    def name(self) -> str:
        return self._name

    @property
    def workspace(self) -> Workspace:
        return self._workspace

    @property
    def id(self) -> str | None:
        if self._id is None:
            self._id = self._fetch().id
        return self._id

    @property
    def tags(self) -> dict[str, str]:
        """The experiment's tags, as last read (``refresh()`` reads them again)."""
        return dict(self._fetch().tags)

    @property
    def archived_time(self) -> datetime | None:
        """When the experiment was archived (UTC), or None for an active experiment."""
        return self._fetch().archived_time

    def archive(self) -> None:
        """Archives the experiment: ``Experiment.list`` hides it from then on (unless
        ``view_type`` asks for archived ones). Its runs stay, and runs can still be added:
        names are unique here, so unlike v1 no second experiment of the same name appears.

        Raises:
            ExperimentNotFound: The experiment no longer exists.
        """
        self._info = runs.set_experiment_archived(self._workspace._services, self._name, True)

    def reactivate(self, new_name: str | None = None) -> None:
        """Makes an archived experiment active again (listed by default).

        Args:
            new_name: Not supported (as in v1): an experiment cannot be renamed.

        Raises:
            UserErrorException: ``new_name`` was given (nothing changed).
        """
        if new_name is not None:
            raise UserErrorException(
                f"Experiment.reactivate(new_name={new_name!r}): an experiment cannot be "
                f"renamed. Call reactivate() to restore {self._name!r} under its own name."
            )
        self._info = runs.set_experiment_archived(self._workspace._services, self._name, False)

    def tag(self, key: str, value: str | None = None) -> None:
        """Sets one tag on the experiment (tags can change at any time).

        Args:
            key: The tag's name, a non-empty str.
            value: Its value (kept as a str), or None for a key-only tag.
        """
        self.set_tags({key: value})

    def set_tags(self, tags: dict[str, Any]) -> None:
        """Adds or changes tags; tags not named are left as they are.

        Args:
            tags: ``{key: value}``; values are kept as str (None stays None).

        Raises:
            UserErrorException: ``tags`` is not a dict, or a key is not a non-empty str.
        """
        self._info = runs.set_experiment_tags(self._workspace._services, self._name, tags)

    def remove_tags(self, tags: Any) -> None:
        """Removes the given tag keys (keys that are not set are ignored).

        Args:
            tags: A list of tag keys.
        """
        self._info = runs.remove_experiment_tags(self._workspace._services, self._name, tags)

    def refresh(self) -> None:
        """Reads the experiment's tags and archived time again."""
        self._info = runs.get_experiment(self._workspace._services, self._name)

    def _fetch(self) -> ExperimentInfo:
        if self._info is None:
            self._info = runs.get_experiment(self._workspace._services, self._name)
        return self._info

    @staticmethod
    def list(
        workspace: Workspace,
        experiment_name: str | None = None,
        view_type: str = ViewType.ActiveOnly,
        tags: Any = None,
    ) -> list[Experiment]:
        """Experiments of the workspace, by name.

        Args:
            workspace: The workspace.
            experiment_name: Only the experiment of this name.
            view_type: ``ViewType.ActiveOnly`` (default: archived experiments hidden),
                ``ViewType.All`` or ``ViewType.ArchivedOnly``.
            tags: Only experiments with this tag key (a str), or matching every
                ``{key: value}`` of a dict.

        Raises:
            UserErrorException: ``view_type`` is not one of the three, or ``tags`` is
                neither a str nor a dict.
        """
        found = runs.list_experiments(
            workspace._services, experiment_name, view_type=view_type, tags=tags
        )
        experiments = []
        for info in found:
            experiment = Experiment(workspace, info.name, _id=info.id, _create_in_cloud=False)
            experiment._info = info
            experiments.append(experiment)
        return experiments

    def submit(self, config: Any, tags: dict[str, str] | None = None, **kwargs: Any) -> Run:
        """Submits a run configuration and returns its Run.

        Args:
            config: A ScriptRunConfig, an estimator or a HyperDriveConfig (each defines
                ``_runyard_submit(experiment, tags, **kwargs)``).
            tags: Tags set on the new run.

        Raises:
            UserErrorException: ``config`` is not a supported configuration.
        """
        submit = getattr(config, "_runyard_submit", None)
        if submit is None:
            raise UserErrorException(
                f"Experiment.submit got a {type(config).__name__}; it accepts a "
                "ScriptRunConfig (runyard.core.ScriptRunConfig, or azureml.core's), an "
                "estimator or a HyperDriveConfig. Wrap your script as "
                "ScriptRunConfig(source_directory='.', script='train.py')."
            )
        return submit(self, tags=tags, **kwargs)

    def start_logging(
        self,
        name: str | None = None,
        run_id: str | None = None,
        outputs: str | bool | None = None,
        snapshot_directory: str | None = ".",
        **kwargs: Any,
    ) -> Run:
        """Starts an interactive run (status Running) that logs straight to the store.

        Args:
            name: Display name of the run.
            run_id: Id to use instead of a generated ``<experiment>_<epoch>_<hash>``.
            outputs: The folder to track (default ``'outputs'``, as in v1; False tracks
                none). It is created now, and its files are uploaded as the run's files
                (``outputs/...``) when the run completes, fails or is canceled.
            snapshot_directory: Folder to snapshot with the run; None skips it.

        Returns:
            The started Run; end it with ``run.complete()`` or use it as a context manager.
        """
        unknown = set(kwargs) - {"display_name", "description"}
        if unknown:
            raise UserErrorException(
                f"start_logging got unexpected arguments {sorted(unknown)}; it takes name, "
                "run_id, outputs, snapshot_directory, display_name and description."
            )
        # v1: None or True tracks ./outputs, False tracks nothing. Checked (and created)
        # before the run exists, so a bad folder leaves no run behind.
        if outputs is False:
            outputs = None
        elif outputs is True or not outputs:
            outputs = "outputs"
        _tracked_folders(outputs)
        services = self._workspace._services
        definition: dict[str, Any] = {}
        if snapshot_directory is not None:
            definition["snapshotId"] = _take_snapshot(services, snapshot_directory)
        info = runs.start_run(
            services,
            experiment_name=self._name,
            run_id=run_id,
            display_name=kwargs.get("display_name", name),
            definition=definition or None,
        )
        run = Run(self, info.run_id, outputs=outputs, _run_info=info)
        if kwargs.get("description"):
            run.description = kwargs["description"]
        return run

    def get_runs(
        self,
        type: str | None = None,
        tags: Any = None,
        properties: Any = None,
        include_children: bool = False,
    ) -> Iterator[Run]:
        """The experiment's runs, newest first (top-level only unless include_children)."""
        return Run.list(
            self, type=type, tags=tags, properties=properties, include_children=include_children
        )

    def __repr__(self) -> str:
        return f"Experiment(Name: {self._name}, Workspace: {self._workspace.name})"


def _take_snapshot(services: Services, directory: str) -> str:
    try:
        # late: job side; a job's Run.get_context() imports this module and must start fast,
        # and taking a snapshot pulls in the agent client, compute backends and snapshots.
        from runyard._services import snapshots

        return snapshots.take_snapshot(services, directory, services.settings)
    except SnapshotException as exc:
        # snapshot_directory defaults to the cwd, which a notebook rarely means to snapshot.
        raise SnapshotException(
            f"Failed to take a snapshot of {directory!r} (start_logging's "
            f"snapshot_directory). Pass snapshot_directory=None to start_logging to skip "
            f"the snapshot. {exc}"
        ) from None


# v1 import path azureml.core.experiment.DEFAULT_GPU_IMAGE, loaded on first use.
__getattr__, __dir__ = lazy_exports(__name__, {"DEFAULT_GPU_IMAGE": "runyard.core.environment"})
