"""SqlStore: the Store interface over SQLAlchemy, shared by SQLite and PostgreSQL.

Every write runs in one transaction. On SQLite that transaction starts with
``BEGIN IMMEDIATE`` (see sqlite.py), so writers from many processes queue on the lock
instead of failing; on PostgreSQL the rows a write reads first are locked with
``SELECT ... FOR UPDATE`` so read-modify-write (tags, properties, counters) never loses
an update.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from runyard._entities import (
    ExperimentInfo,
    MetricKind,
    MetricPoint,
    MetricSeries,
    RunError,
    RunInfo,
    RunRuntime,
    RunStatus,
)
from runyard._store import metrics as codec
from runyard._store.base import Store
from runyard._store.compute_sql import ComputeTargetMethods
from runyard._store.data_sql import DatasetMethods, DatastoreMethods
from runyard._store.envs_sql import EnvironmentMethods
from runyard._store.filters import matches
from runyard._store.models_sql import ModelMethods
from runyard._store.run_state import runtime_changes
from runyard._store.schema import (
    ExperimentRow,
    MetricSeriesRow,
    RunRow,
    SpoolOffsetRow,
    utcnow,
)
from runyard._store.services_sql import ServiceMethods
from runyard.exceptions import (
    ExperimentNotFound,
    ImmutablePropertyError,
    InvalidStatusTransition,
    MetricTypeConflict,
    RunIdAlreadyExists,
    RunNotFound,
)


def _run_exists(session: Session, run_id: str) -> bool:
    # Not session.get: that would load (and decode) the whole row, a sweep's tags and all.
    query = select(RunRow.run_id).where(RunRow.run_id == run_id)
    return session.execute(query).first() is not None


def insert_ignore(session: Session, table: Any, values: dict[str, Any], key: str) -> None:
    """INSERT ... ON CONFLICT (key) DO NOTHING, which both SQLite and PostgreSQL speak."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).values(**values).on_conflict_do_nothing(index_elements=[key])
    session.execute(stmt)


class SqlStore(
    ModelMethods,
    EnvironmentMethods,
    ComputeTargetMethods,
    ServiceMethods,
    DatastoreMethods,
    DatasetMethods,
    Store,
):
    """The metadata store on a SQLAlchemy engine.

    ``read_engine`` (SQLite) starts plain deferred transactions, so reads never wait for
    the write lock; writes go through ``engine``.
    """

    def __init__(self, engine: Engine, *, read_engine: Engine | None = None) -> None:
        self._engine = engine
        self._read_engine = read_engine or engine
        self._writes = sessionmaker(engine, expire_on_commit=False)
        self._reads = sessionmaker(self._read_engine, expire_on_commit=False)

    @contextmanager
    def _write(self) -> Iterator[Session]:
        with self._writes.begin() as session:
            yield session

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with self._reads.begin() as session:
            yield session

    # ---- experiments -----------------------------------------------------------------
    def _ensure_experiment(self, session: Session, name: str) -> ExperimentRow:
        query = select(ExperimentRow).where(ExperimentRow.name == name)
        row = session.scalars(query).one_or_none()
        if row is None:
            values = {
                "id": str(uuid.uuid4()),
                "name": name,
                "created_time": utcnow(),
                "tags": {},
                "last_run_number": 0,
            }
            insert_ignore(session, ExperimentRow.__table__, values, "name")
            row = session.scalars(query).one()
        return row

    def get_or_create_experiment(self, name: str) -> ExperimentInfo:
        # An existing experiment is only read: a read-only store opens its experiments.
        try:
            return self.get_experiment(name)
        except ExperimentNotFound:
            pass
        with self._write() as session:
            return self._ensure_experiment(session, name).to_entity()

    def get_experiment(self, name: str) -> ExperimentInfo:
        with self._read() as session:
            query = select(ExperimentRow).where(ExperimentRow.name == name)
            row = session.scalars(query).one_or_none()
            if row is None:
                raise ExperimentNotFound(name)
            return row.to_entity()

    def list_experiments(self) -> list[ExperimentInfo]:
        with self._read() as session:
            rows = session.scalars(select(ExperimentRow).order_by(ExperimentRow.name))
            return [row.to_entity() for row in rows]

    def update_experiment(
        self,
        name: str,
        *,
        set_tags: Mapping[str, str | None] | None = None,
        remove_tags: Collection[str] = (),
        archived: bool | None = None,
    ) -> ExperimentInfo:
        with self._write() as session:
            query = select(ExperimentRow).where(ExperimentRow.name == name).with_for_update()
            row = session.scalars(query).one_or_none()
            if row is None:
                raise ExperimentNotFound(name)
            tags = {**row.tags, **(set_tags or {})}
            for key in remove_tags:
                tags.pop(key, None)
            row.tags = tags
            if archived is True and row.archived_time is None:
                row.archived_time = utcnow()
            elif archived is False:
                row.archived_time = None
            session.flush()
            return row.to_entity()

    # ---- runs ------------------------------------------------------------------------
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
        status = RunStatus(status)
        try:
            with self._write() as session:
                if _run_exists(session, run_id):
                    raise RunIdAlreadyExists(run_id)
                if parent_run_id is not None and not _run_exists(session, parent_run_id):
                    raise RunNotFound(parent_run_id)
                experiment = self._ensure_experiment(session, experiment_name)
                bump = (
                    update(ExperimentRow)
                    .where(ExperimentRow.id == experiment.id)
                    .values(last_run_number=ExperimentRow.last_run_number + 1)
                    .returning(ExperimentRow.last_run_number)
                    .execution_options(synchronize_session=False)
                )
                number = session.execute(bump).scalar_one()
                now = utcnow()
                row = RunRow(
                    run_id=run_id,
                    experiment_id=experiment.id,
                    experiment_name=experiment_name,
                    number=number,
                    status=status.value,
                    run_type=run_type,
                    target=target,
                    parent_run_id=parent_run_id,
                    display_name=display_name,
                    description=description,
                    created_time=now,
                    start_time=now if status is RunStatus.RUNNING else None,
                    end_time=now if status.is_terminal() else None,
                    tags=dict(tags or {}),
                    properties=dict(properties or {}),
                    definition=dict(definition or {}),
                    runtime={},
                    error=None,
                    spool_offset=0,
                    agent_managed=agent_managed,
                )
                session.add(row)
                session.flush()
                return row.to_entity()
        except IntegrityError:
            # Only PostgreSQL gets here: another process inserted the same run id between
            # our check and our insert.
            raise RunIdAlreadyExists(run_id) from None

    def get_run(self, run_id: str) -> RunInfo:
        with self._read() as session:
            return self._run_row(session, run_id).to_entity()

    @staticmethod
    def _run_row(session: Session, run_id: str, *, lock: bool = False) -> RunRow:
        row = session.get(RunRow, run_id, with_for_update=lock)
        if row is None:
            raise RunNotFound(run_id)
        return row

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
        query = select(RunRow).order_by(RunRow.created_time.desc(), RunRow.number.desc())
        if agent_managed is not None:
            query = query.where(RunRow.agent_managed.is_(agent_managed))
        if experiment_name is not None:
            query = query.where(RunRow.experiment_name == experiment_name)
        if parent_run_id is not None:
            query = query.where(RunRow.parent_run_id == parent_run_id)
        elif not include_children:
            query = query.where(RunRow.parent_run_id.is_(None))
        if statuses is not None:
            query = query.where(RunRow.status.in_([RunStatus(s).value for s in statuses]))
        if run_type is not None:
            query = query.where(RunRow.run_type == run_type)
        with self._read() as session:
            return [
                row.to_entity()
                for row in session.scalars(query)
                if matches(row.tags, tags) and matches(row.properties, properties)
            ]

    def set_run_status(
        self,
        run_id: str,
        status: RunStatus,
        *,
        error: RunError | None = None,
        expected: Collection[RunStatus] | None = None,
        runtime: RunRuntime | None = None,
    ) -> RunInfo | None:
        status = RunStatus(status)
        with self._write() as session:
            row = self._run_row(session, run_id, lock=True)
            current = RunStatus(row.status)
            # Compare-and-set first: a caller that says "only from these" (the agent
            # claiming a queued run) gets None, not an error, when it lost the race.
            if expected is not None and current not in {RunStatus(s) for s in expected}:
                return None
            if current.is_terminal():
                if current is status:
                    return row.to_entity()
                raise InvalidStatusTransition(run_id, current.value, status.value)
            now = utcnow()
            row.status = status.value
            if status is RunStatus.RUNNING and row.start_time is None:
                row.start_time = now
            if status.is_terminal():
                row.end_time = now
            if error is not None:
                row.error = error.to_dict()
            if runtime is not None:
                row.runtime = {**row.runtime, **runtime_changes(runtime)}
            session.flush()
            return row.to_entity()

    def update_run(
        self,
        run_id: str,
        *,
        display_name: str | None = None,
        description: str | None = None,
        definition: Mapping[str, Any] | None = None,
        runtime: RunRuntime | None = None,
    ) -> RunInfo:
        with self._write() as session:
            row = self._run_row(session, run_id, lock=True)
            if display_name is not None:
                row.display_name = display_name
            if description is not None:
                row.description = description
            # JSON columns only notice reassignment, so build new dicts.
            if definition is not None:
                row.definition = {**row.definition, **definition}
            if runtime is not None:
                row.runtime = {**row.runtime, **runtime_changes(runtime)}
            session.flush()
            return row.to_entity()

    def set_tags(self, run_id: str, tags: Mapping[str, str | None]) -> RunInfo:
        with self._write() as session:
            row = self._run_row(session, run_id, lock=True)
            row.tags = {**row.tags, **tags}
            session.flush()
            return row.to_entity()

    def remove_tags(self, run_id: str, keys: Collection[str]) -> RunInfo:
        with self._write() as session:
            row = self._run_row(session, run_id, lock=True)
            row.tags = {k: v for k, v in row.tags.items() if k not in set(keys)}
            session.flush()
            return row.to_entity()

    def add_properties(self, run_id: str, properties: Mapping[str, str]) -> RunInfo:
        with self._write() as session:
            row = self._run_row(session, run_id, lock=True)
            for key, value in properties.items():
                old = row.properties.get(key)
                if key in row.properties and old != value:
                    raise ImmutablePropertyError(run_id, key, str(old), str(value))
            row.properties = {**row.properties, **properties}
            session.flush()
            return row.to_entity()

    # ---- metrics ---------------------------------------------------------------------
    def log_metrics(
        self,
        run_id: str,
        points: Sequence[MetricPoint],
        *,
        spool_offset: int | None = None,
        spool: str | None = None,
    ) -> None:
        # Each point's (name, kind, description) once: a batch has few distinct ones.
        shapes = list(dict.fromkeys((p.name, p.kind, p.description) for p in points))
        with self._write() as session:
            # Locking the run serialises appends to its series (seq numbers).
            run = self._run_row(session, run_id, lock=True)
            series = self._series_for(session, run_id, shapes)
            batch = codec.PointRows({n: [row.id, row.count, set()] for n, row in series.items()})
            batch.add(points)
            placeholder = "?" if self._engine.dialect.paramstyle == "qmark" else "%s"
            connection = session.connection()
            # Through exec_driver_sql, not a raw cursor: its errors pass the engine's
            # handle_error hook (disk full, damaged file) like every other statement.
            for sql, params in batch.statements(placeholder):
                connection.exec_driver_sql(sql, tuple(params))
            for name, row in series.items():
                _, row.count, vtypes = batch.series[name]
                for vtype in sorted(vtypes):
                    row.vtype = codec.merge_vtype(row.vtype, vtype)
            for name, _, description in shapes:
                if description and not series[name].description:
                    series[name].description = description
            if spool_offset is not None and spool is None:
                run.spool_offset = spool_offset
            elif spool_offset is not None:
                kept = session.get(SpoolOffsetRow, (run_id, spool))
                if kept is None:
                    session.add(SpoolOffsetRow(run_id=run_id, spool=spool, offset=spool_offset))
                else:
                    kept.offset = spool_offset

    def _series_for(
        self, session: Session, run_id: str, shapes: Sequence[tuple[str, MetricKind, str]]
    ) -> dict[str, MetricSeriesRow]:
        """The batch's series rows, created as needed, after checking every kind first
        (so a conflict anywhere in the batch stores nothing)."""
        # First-appearance order: series ids give get_metrics its name order.
        names = list(dict.fromkeys(name for name, _, _ in shapes))
        existing = session.scalars(
            select(MetricSeriesRow).where(
                MetricSeriesRow.run_id == run_id, MetricSeriesRow.name.in_(names)
            )
        )
        series = {row.name: row for row in existing}
        kinds = {name: row.kind for name, row in series.items()}
        for name, point_kind, _ in shapes:
            wanted = MetricKind(point_kind).value
            kind = kinds.setdefault(name, wanted)
            if kind != wanted:
                raise MetricTypeConflict(run_id, name, kind, wanted)
        for name in (n for n in names if n not in series):
            row = MetricSeriesRow(
                run_id=run_id, name=name, kind=kinds[name], description="", vtype=None, count=0
            )
            session.add(row)
            series[name] = row
        session.flush()
        return series

    def get_spool_offset(self, run_id: str, spool: str | None = None) -> int:
        with self._read() as session:
            run = self._run_row(session, run_id)
            if spool is None:
                return run.spool_offset
            row = session.get(SpoolOffsetRow, (run_id, spool))
            return 0 if row is None else row.offset

    def get_metrics(
        self, run_id: str, names: Collection[str] | None = None
    ) -> dict[str, MetricSeries]:
        query = select(MetricSeriesRow).where(MetricSeriesRow.run_id == run_id)
        if names is not None:
            query = query.where(MetricSeriesRow.name.in_(list(names)))
        with self._read() as session:
            self._run_row(session, run_id)
            series = list(session.scalars(query.order_by(MetricSeriesRow.id)))
            # A raw DB-API cursor on the session's connection: no Row objects per point.
            dbapi = session.connection().connection.driver_connection
            placeholder = "?" if self._read_engine.dialect.paramstyle == "qmark" else "%s"
            cursor = dbapi.cursor()  # type: ignore[union-attr]
            try:
                return {
                    row.name: MetricSeries(
                        name=row.name,
                        kind=row.metric_kind,
                        values=codec.read_values(cursor, placeholder, row.id, row.vtype),
                        description=row.description,
                    )
                    for row in series
                }
            finally:
                cursor.close()

    # ---- lifecycle -------------------------------------------------------------------
    def close(self) -> None:
        self._engine.dispose()
        if self._read_engine is not self._engine:
            self._read_engine.dispose()
