"""The metadata store interface: all persisted workspace state except file contents.

Implementations take and return entities from ``runyard._entities``, never ORM rows, and
are safe to use from several processes at once (the SDK, the agent and job processes all
open the same workspace). One contract suite, ``tests/_store/test_contract.py``, runs on
every implementation.
"""

from __future__ import annotations

import abc
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from runyard._entities import (
    ComputeTargetInfo,
    DatasetInfo,
    DatastoreInfo,
    EnvironmentRecord,
    ExperimentInfo,
    MetricPoint,
    MetricSeries,
    ModelVersion,
    RunError,
    RunInfo,
    RunRuntime,
    RunStatus,
    ServiceInfo,
)


class Store(abc.ABC):
    """All persisted workspace metadata."""

    # ---- experiments -----------------------------------------------------------------
    @abc.abstractmethod
    def get_or_create_experiment(self, name: str) -> ExperimentInfo:
        """Idempotent, also when several processes call it at once."""

    @abc.abstractmethod
    def get_experiment(self, name: str) -> ExperimentInfo:
        """Raises ExperimentNotFound."""

    @abc.abstractmethod
    def list_experiments(self) -> list[ExperimentInfo]:
        """Ordered by name."""

    @abc.abstractmethod
    def update_experiment(
        self,
        name: str,
        *,
        set_tags: Mapping[str, str | None] | None = None,
        remove_tags: Collection[str] = (),
        archived: bool | None = None,
    ) -> ExperimentInfo:
        """Merges tags, removes tag keys, archives (keeping the first archived_time) or
        reactivates, in one transaction. Raises ExperimentNotFound."""

    # ---- runs ------------------------------------------------------------------------
    @abc.abstractmethod
    def create_run(
        self,
        *,
        run_id: str,
        experiment_name: str,
        status: RunStatus,
        run_type: str,
        target: str = "local",
        parent_run_id: str | None = None,
        display_name: str | None = None,
        description: str | None = None,
        tags: Mapping[str, str | None] | None = None,
        properties: Mapping[str, str] | None = None,
        definition: Mapping[str, Any] | None = None,
        agent_managed: bool = False,
    ) -> RunInfo:
        """Creates the experiment if needed and gives the run the next number in its
        experiment (1, 2, ... with no gap or duplicate under concurrency). Sets
        start_time when created Running. Raises ExperimentNotFound never; raises
        RunNotFound if parent_run_id does not exist."""

    @abc.abstractmethod
    def get_run(self, run_id: str) -> RunInfo:
        """Raises RunNotFound."""

    @abc.abstractmethod
    def list_runs(
        self,
        *,
        experiment_name: str | None = None,
        parent_run_id: str | None = None,
        include_children: bool = False,
        statuses: Collection[RunStatus] | None = None,
        tags: Mapping[str, str | None] | Collection[str] | None = None,
        properties: Mapping[str, str] | Collection[str] | None = None,
        run_type: str | None = None,
        agent_managed: bool | None = None,
    ) -> list[RunInfo]:
        """Newest first (created_time, then number, descending). ``agent_managed`` given:
        only runs with that flag.

        parent_run_id given: that run's direct children. Otherwise top-level runs only,
        unless include_children. tags/properties: a mapping requires key == value (a None
        value means "key present"); a collection of keys requires the keys present."""

    @abc.abstractmethod
    def set_run_status(
        self,
        run_id: str,
        status: RunStatus,
        *,
        error: RunError | None = None,
        expected: Collection[RunStatus] | None = None,
        runtime: RunRuntime | None = None,
    ) -> RunInfo | None:
        """Moves a run to ``status`` atomically.

        - From a terminal status: raises InvalidStatusTransition (same status: no-op).
        - ``expected`` given and the current status not in it: returns None, changes
          nothing (compare-and-set, used by the agent to claim queued runs).
        - Sets start_time on the first move to Running, end_time on a terminal status.
        - ``error`` is stored with it, and ``runtime`` merged as ``update_run`` does, in
          the same transaction (only when the status moves)."""

    @abc.abstractmethod
    def update_run(
        self,
        run_id: str,
        *,
        display_name: str | None = None,
        description: str | None = None,
        definition: Mapping[str, Any] | None = None,
        runtime: RunRuntime | None = None,
    ) -> RunInfo:
        """Sets the given fields; None leaves a field alone. ``definition`` is merged key
        by key into what is stored, ``runtime`` field by field (its None fields are left
        alone)."""

    @abc.abstractmethod
    def set_tags(self, run_id: str, tags: Mapping[str, str | None]) -> RunInfo: ...

    @abc.abstractmethod
    def remove_tags(self, run_id: str, keys: Collection[str]) -> RunInfo: ...

    @abc.abstractmethod
    def add_properties(self, run_id: str, properties: Mapping[str, str]) -> RunInfo:
        """Raises ImmutablePropertyError, changing nothing, if a key is already set to a
        different value. Setting the same value again is a no-op."""

    # ---- metrics ---------------------------------------------------------------------
    @abc.abstractmethod
    def log_metrics(
        self,
        run_id: str,
        points: Sequence[MetricPoint],
        *,
        spool_offset: int | None = None,
        spool: str | None = None,
    ) -> None:
        """Appends points in order, in one transaction.

        The first point of a name fixes its kind; a later point with another kind raises
        MetricTypeConflict and stores nothing of the batch. ``spool_offset``, when given,
        is stored in the same transaction (see get_spool_offset), so a crash between the
        two never duplicates or loses points. NaN and +/-inf round-trip. ``spool``: which
        of the run's spools the offset is of (a distributed run's ranks after the first
        write their own; None: the run's spool)."""

    @abc.abstractmethod
    def get_spool_offset(self, run_id: str, spool: str | None = None) -> int:
        """Bytes of the run's metric spool (or of its spool named ``spool``) already
        ingested (0 when none)."""

    @abc.abstractmethod
    def get_metrics(
        self, run_id: str, names: Collection[str] | None = None
    ) -> dict[str, MetricSeries]:
        """All points of each metric in logging order. 1,000,000 points of one metric
        must come back in well under a second."""

    # ---- models ----------------------------------------------------------------------
    @abc.abstractmethod
    def create_model_version(
        self,
        *,
        name: str,
        artifact_prefix: str,
        model_path: str,
        tags: Mapping[str, str | None] | None = None,
        properties: Mapping[str, str] | None = None,
        description: str | None = None,
        run_id: str | None = None,
        experiment_name: str | None = None,
        model_framework: str | None = None,
        model_framework_version: str | None = None,
    ) -> ModelVersion:
        """Next version for ``name`` (1, 2, ...), atomic across processes: concurrent
        registrations of one name get distinct consecutive versions."""

    @abc.abstractmethod
    def get_model(self, name: str, version: int | None = None) -> ModelVersion:
        """Latest version when version is None. Raises ModelNotFoundException."""

    @abc.abstractmethod
    def list_models(
        self,
        *,
        name: str | None = None,
        tags: Mapping[str, str | None] | Collection[str] | None = None,
        properties: Mapping[str, str] | Collection[str] | None = None,
        run_id: str | None = None,
        latest: bool = False,
    ) -> list[ModelVersion]:
        """Ordered by name, then version descending. Filters as in list_runs."""

    @abc.abstractmethod
    def update_model(
        self,
        name: str,
        version: int,
        *,
        description: str | None = None,
        add_tags: Mapping[str, str | None] | None = None,
        remove_tags: Collection[str] | None = None,
        add_properties: Mapping[str, str] | None = None,
    ) -> ModelVersion: ...

    @abc.abstractmethod
    def delete_model(self, name: str, version: int) -> None: ...

    # ---- environments ----------------------------------------------------------------
    @abc.abstractmethod
    def save_environment(self, name: str, definition_json: str, content_hash: str) -> str:
        """Registers a version ("1", "2", ...) and returns it. When the latest version of
        ``name`` has the same content_hash, returns that version and stores nothing."""

    @abc.abstractmethod
    def get_environment(
        self, name: str, version: str | None = None, *, label: str | None = None
    ) -> EnvironmentRecord:
        """The version carrying ``label`` when given, else ``version``, else the latest.
        Raises EnvironmentNotFound."""

    @abc.abstractmethod
    def label_environment(self, name: str, version: str, labels: Sequence[str]) -> None:
        """Puts each label on that version; a label names one version per environment, so
        it moves from wherever it was. Raises EnvironmentNotFound, changing nothing."""

    @abc.abstractmethod
    def list_environments(self) -> list[EnvironmentRecord]:
        """The latest version of each name, ordered by name."""

    # ---- compute targets -------------------------------------------------------------
    @abc.abstractmethod
    def create_compute_target(
        self, *, name: str, compute_type: str, config: Mapping[str, Any]
    ) -> ComputeTargetInfo:
        """provisioning_state starts "Creating", state {}. Raises ComputeTargetExists."""

    @abc.abstractmethod
    def get_compute_target(self, name: str) -> ComputeTargetInfo:
        """Raises ComputeTargetNotFound (a ComputeTargetException with v1's text)."""

    @abc.abstractmethod
    def list_compute_targets(self) -> list[ComputeTargetInfo]:
        """Ordered by name."""

    @abc.abstractmethod
    def update_compute_target(
        self,
        name: str,
        *,
        config: Mapping[str, Any] | None = None,
        state: Mapping[str, Any] | None = None,
        provisioning_state: str | None = None,
    ) -> ComputeTargetInfo:
        """config and state are merged key by key; sets modified_time."""

    @abc.abstractmethod
    def delete_compute_target(self, name: str) -> None:
        """Raises ComputeTargetNotFound."""

    # ---- web services ------------------------------------------------------------------
    @abc.abstractmethod
    def create_service(
        self,
        *,
        name: str,
        compute_type: str,
        spec: Mapping[str, Any],
        state: Mapping[str, Any] | None = None,
        overwrite: bool = False,
    ) -> ServiceInfo:
        """status starts "Transitioning", generation 1. An existing name raises
        ServiceExists, unless ``overwrite``: then its spec is replaced, ``state`` merged and
        the generation bumped (the backend swaps the new spec in on the same port)."""

    @abc.abstractmethod
    def get_service(self, name: str) -> ServiceInfo:
        """Raises ServiceNotFound (a WebserviceException) naming the services there are."""

    @abc.abstractmethod
    def list_services(self) -> list[ServiceInfo]:
        """Ordered by name."""

    @abc.abstractmethod
    def update_service(
        self,
        name: str,
        *,
        spec: Mapping[str, Any] | None = None,
        state: Mapping[str, Any] | None = None,
        status: str | None = None,
        new_generation: bool = False,
        expected_generation: int | None = None,
    ) -> ServiceInfo | None:
        """spec and state are merged key by key; ``new_generation`` bumps the generation.
        With ``expected_generation``, nothing changes (None is returned) unless the service
        is still at that generation. Raises ServiceNotFound."""

    @abc.abstractmethod
    def delete_service(self, name: str) -> None:
        """Raises ServiceNotFound."""

    # ---- datastores --------------------------------------------------------------------
    @abc.abstractmethod
    def register_datastore(
        self,
        *,
        name: str,
        datastore_type: str,
        config: Mapping[str, Any],
        set_default: bool = False,
        overwrite: bool = False,
    ) -> DatastoreInfo:
        """The first datastore of a workspace becomes its default. An existing name
        without overwrite raises DatastoreExists."""

    @abc.abstractmethod
    def get_datastore(self, name: str) -> DatastoreInfo:
        """Raises DatastoreNotFound."""

    @abc.abstractmethod
    def list_datastores(self) -> list[DatastoreInfo]: ...

    @abc.abstractmethod
    def get_default_datastore(self) -> DatastoreInfo | None: ...

    @abc.abstractmethod
    def set_default_datastore(self, name: str) -> DatastoreInfo: ...

    # ---- datasets ----------------------------------------------------------------------
    @abc.abstractmethod
    def register_dataset(
        self,
        *,
        name: str,
        definition: Mapping[str, Any],
        description: str | None = None,
        tags: Mapping[str, str | None] | None = None,
        create_new_version: bool = False,
    ) -> DatasetInfo:
        """Versions 1, 2, ... per name, atomic across processes. An existing name without
        create_new_version returns the latest registration unchanged when its definition
        is equal, and raises DatasetExists otherwise (v1's service behaviour)."""

    @abc.abstractmethod
    def get_dataset(self, name: str, version: int | None = None) -> DatasetInfo:
        """Latest when version is None. Raises DatasetNotFound."""

    @abc.abstractmethod
    def get_dataset_by_id(self, dataset_id: str) -> DatasetInfo: ...

    @abc.abstractmethod
    def list_datasets(self) -> list[DatasetInfo]:
        """The latest version of each registered name, ordered by name."""

    # ---- lifecycle -------------------------------------------------------------------
    @abc.abstractmethod
    def close(self) -> None:
        """Releases connections (the engine's pool)."""
