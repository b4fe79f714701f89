"""ORM rows of the metadata store and their conversion to entities.

Rows never leave ``runyard._store``: ``to_entity()`` turns each into the frozen record
from ``runyard._entities`` that the other layers use.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from runyard._entities import (
    ComputeTargetInfo,
    DatasetInfo,
    DatastoreInfo,
    EnvironmentRecord,
    ExperimentInfo,
    MetricKind,
    ModelVersion,
    RunInfo,
    RunStatus,
    ServiceInfo,
)
from runyard._store.run_state import error_from_json, runtime_from_json


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite drops the zone; we put it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to the store; use UTC-aware times")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class ExperimentRow(Base):
    __tablename__ = "experiments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    created_time: Mapped[datetime] = mapped_column(UTCDateTime())
    tags: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Last run number handed out; bumped with UPDATE ... RETURNING so numbers never clash.
    last_run_number: Mapped[int] = mapped_column(Integer, default=0)
    archived_time: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    def to_entity(self) -> ExperimentInfo:
        return ExperimentInfo(
            id=self.id,
            name=self.name,
            created_time=self.created_time,
            tags=dict(self.tags),
            archived_time=self.archived_time,
        )


class RunRow(Base):
    __tablename__ = "runs"
    __table_args__ = (
        UniqueConstraint("experiment_id", "number", name="uq_runs_experiment_number"),
        Index("ix_runs_parent", "parent_run_id"),
    )

    run_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    experiment_id: Mapped[str] = mapped_column(ForeignKey("experiments.id"))
    experiment_name: Mapped[str] = mapped_column(String(255))
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32))
    run_type: Mapped[str] = mapped_column(String(128))
    target: Mapped[str] = mapped_column(String(255))
    parent_run_id: Mapped[str | None] = mapped_column(ForeignKey("runs.run_id"))
    display_name: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    created_time: Mapped[datetime] = mapped_column(UTCDateTime())
    start_time: Mapped[datetime | None] = mapped_column(UTCDateTime())
    end_time: Mapped[datetime | None] = mapped_column(UTCDateTime())
    tags: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    runtime: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    spool_offset: Mapped[int] = mapped_column(BigInteger, default=0)
    agent_managed: Mapped[bool] = mapped_column(Boolean, default=False)

    def to_entity(self) -> RunInfo:
        return RunInfo(
            run_id=self.run_id,
            experiment_name=self.experiment_name,
            number=self.number,
            status=RunStatus(self.status),
            run_type=self.run_type,
            created_time=self.created_time,
            parent_run_id=self.parent_run_id,
            display_name=self.display_name,
            description=self.description,
            target=self.target,
            tags=dict(self.tags),
            properties=dict(self.properties),
            definition=dict(self.definition),
            start_time=self.start_time,
            end_time=self.end_time,
            error=error_from_json(self.error),
            runtime=runtime_from_json(self.runtime),
            agent_managed=bool(self.agent_managed),
        )


class SpoolOffsetRow(Base):
    """Bytes ingested of a run's other spools (a distributed run's ranks after the first;
    the first one's offset is ``RunRow.spool_offset``)."""

    __tablename__ = "spool_offsets"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.run_id"), primary_key=True)
    spool: Mapped[str] = mapped_column(String(64), primary_key=True)
    offset: Mapped[int] = mapped_column(BigInteger, default=0)


class MetricSeriesRow(Base):
    """One metric name of one run: its kind, and how its points' values are stored."""

    __tablename__ = "metric_series"
    __table_args__ = (UniqueConstraint("run_id", "name", name="uq_metric_series_run_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.run_id"))
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text, default="")
    # The value type every point shares (see metrics.VTYPE_*), or -1 when mixed;
    # lets get_metrics read one column for the common all-float series.
    vtype: Mapped[int | None] = mapped_column(SmallInteger)
    count: Mapped[int] = mapped_column(BigInteger, default=0)

    @property
    def metric_kind(self) -> MetricKind:
        return MetricKind(self.kind)


class MetricPointRow(Base):
    __tablename__ = "metric_points"
    # WITHOUT ROWID clusters points by (series, seq): reading one series is one range scan.
    __table_args__ = {"sqlite_with_rowid": False}

    series_id: Mapped[int] = mapped_column(ForeignKey("metric_series.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    vtype: Mapped[int] = mapped_column(SmallInteger)
    num: Mapped[float | None] = mapped_column(Float(precision=53))
    ival: Mapped[int | None] = mapped_column(BigInteger)
    txt: Mapped[str | None] = mapped_column(Text)
    time: Mapped[float] = mapped_column(Float(precision=53))
    step: Mapped[int | None] = mapped_column(BigInteger)


class ModelNameRow(Base):
    """Per-name version counter, bumped atomically by every registration."""

    __tablename__ = "model_names"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    last_version: Mapped[int] = mapped_column(Integer, default=0)


class ModelVersionRow(Base):
    __tablename__ = "model_versions"
    __table_args__ = (Index("ix_model_versions_run", "run_id"),)

    name: Mapped[str] = mapped_column(ForeignKey("model_names.name"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_time: Mapped[datetime] = mapped_column(UTCDateTime())
    artifact_prefix: Mapped[str] = mapped_column(Text)
    model_path: Mapped[str] = mapped_column(Text)
    tags: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    description: Mapped[str | None] = mapped_column(Text)
    # No foreign key: a model outlives the run it came from.
    run_id: Mapped[str | None] = mapped_column(String(255))
    experiment_name: Mapped[str | None] = mapped_column(String(255))
    model_framework: Mapped[str | None] = mapped_column(String(64))
    model_framework_version: Mapped[str | None] = mapped_column(String(64))

    def to_entity(self) -> ModelVersion:
        return ModelVersion(
            name=self.name,
            version=self.version,
            created_time=self.created_time,
            artifact_prefix=self.artifact_prefix,
            model_path=self.model_path,
            tags=dict(self.tags),
            properties=dict(self.properties),
            description=self.description,
            run_id=self.run_id,
            experiment_name=self.experiment_name,
            model_framework=self.model_framework,
            model_framework_version=self.model_framework_version,
        )


class EnvironmentRow(Base):
    __tablename__ = "environments"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    definition_json: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    created_time: Mapped[datetime] = mapped_column(UTCDateTime())

    def to_entity(self) -> EnvironmentRecord:
        return EnvironmentRecord(
            name=self.name,
            version=str(self.version),
            definition_json=self.definition_json,
            content_hash=self.content_hash,
            created_time=self.created_time,
        )


class EnvironmentLabelRow(Base):
    """A label names one version of an environment (v1's Environment.label)."""

    __tablename__ = "environment_labels"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    label: Mapped[str] = mapped_column(String(255), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)


class ComputeTargetRow(Base):
    __tablename__ = "compute_targets"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    compute_type: Mapped[str] = mapped_column(String(64))
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    provisioning_state: Mapped[str] = mapped_column(String(32))
    created_time: Mapped[datetime] = mapped_column(UTCDateTime())
    modified_time: Mapped[datetime] = mapped_column(UTCDateTime())

    def to_entity(self) -> ComputeTargetInfo:
        return ComputeTargetInfo(
            name=self.name,
            compute_type=self.compute_type,
            config=dict(self.config),
            state=dict(self.state),
            provisioning_state=self.provisioning_state,
            created_time=self.created_time,
            modified_time=self.modified_time,
        )


class ServiceRow(Base):
    __tablename__ = "services"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    compute_type: Mapped[str] = mapped_column(String(16))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(32))
    generation: Mapped[int] = mapped_column(Integer)
    created_time: Mapped[datetime] = mapped_column(UTCDateTime())
    modified_time: Mapped[datetime] = mapped_column(UTCDateTime())

    def to_entity(self) -> ServiceInfo:
        return ServiceInfo(
            name=self.name,
            compute_type=self.compute_type,
            spec=dict(self.spec),
            state=dict(self.state),
            status=self.status,
            generation=self.generation,
            created_time=self.created_time,
            modified_time=self.modified_time,
        )


class DatastoreRow(Base):
    __tablename__ = "datastores"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    datastore_type: Mapped[str] = mapped_column(String(64))
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_time: Mapped[datetime] = mapped_column(UTCDateTime())

    def to_entity(self) -> DatastoreInfo:
        return DatastoreInfo(
            name=self.name,
            datastore_type=self.datastore_type,
            config=dict(self.config),
            is_default=self.is_default,
            created_time=self.created_time,
        )


class DatasetRow(Base):
    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_datasets_name_version"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(255))
    version: Mapped[int | None] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    description: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_time: Mapped[datetime] = mapped_column(UTCDateTime())

    def to_entity(self) -> DatasetInfo:
        return DatasetInfo(
            id=self.id,
            name=self.name,
            version=self.version,
            definition=dict(self.definition),
            description=self.description,
            tags=dict(self.tags),
            created_time=self.created_time,
        )
