"""The datastore and dataset halves of SqlStore (mixins)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from runyard._entities import DatasetInfo, DatastoreInfo
from runyard._store.locks import lock_name
from runyard._store.schema import DatasetRow, DatastoreRow, utcnow
from runyard._store.sessions import SessionAccess
from runyard.exceptions import DatasetExists, DatasetNotFound, DatastoreExists, DatastoreNotFound

# One lock for all datastore writes: "the first datastore becomes the default" and
# "exactly one default" read the whole table.
_DATASTORES = ("datastore", "*")


class DatastoreMethods(SessionAccess):
    """register/get/list of datastores and the workspace's default."""

    @staticmethod
    def _datastore_row(session: Session, name: str) -> DatastoreRow:
        row = session.get(DatastoreRow, name)
        if row is None:
            names = list(session.scalars(select(DatastoreRow.name).order_by(DatastoreRow.name)))
            raise DatastoreNotFound(name, names)
        return row

    def register_datastore(
        self,
        *,
        name: str,
        datastore_type: str,
        config: Mapping[str, Any],
        set_default: bool = False,
        overwrite: bool = False,
    ) -> DatastoreInfo:
        with self._write() as session:
            lock_name(session, *_DATASTORES)
            row = session.get(DatastoreRow, name)
            if row is not None and not overwrite:
                raise DatastoreExists(name)
            has_default = session.scalars(
                select(DatastoreRow.name).where(DatastoreRow.is_default.is_(True))
            ).first()
            if row is None:
                row = DatastoreRow(name=name, is_default=False, created_time=utcnow())
                session.add(row)
            row.datastore_type = datastore_type
            row.config = dict(config)
            session.flush()
            if set_default or has_default is None or has_default == name:
                self._make_default(session, name)
            session.refresh(row)
            return row.to_entity()

    @staticmethod
    def _make_default(session: Session, name: str) -> None:
        session.execute(
            update(DatastoreRow)
            .values(is_default=DatastoreRow.name == name)
            .execution_options(synchronize_session=False)
        )

    def get_datastore(self, name: str) -> DatastoreInfo:
        with self._read() as session:
            return self._datastore_row(session, name).to_entity()

    def list_datastores(self) -> list[DatastoreInfo]:
        with self._read() as session:
            rows = session.scalars(select(DatastoreRow).order_by(DatastoreRow.name))
            return [row.to_entity() for row in rows]

    def get_default_datastore(self) -> DatastoreInfo | None:
        with self._read() as session:
            query = select(DatastoreRow).where(DatastoreRow.is_default.is_(True))
            row = session.scalars(query).first()
            return row.to_entity() if row is not None else None

    def set_default_datastore(self, name: str) -> DatastoreInfo:
        with self._write() as session:
            lock_name(session, *_DATASTORES)
            row = self._datastore_row(session, name)
            self._make_default(session, name)
            session.refresh(row)
            return row.to_entity()


class DatasetMethods(SessionAccess):
    """Registered dataset versions."""

    @staticmethod
    def _latest_dataset(session: Session, name: str) -> DatasetRow | None:
        query = (
            select(DatasetRow)
            .where(DatasetRow.name == name)
            .order_by(DatasetRow.version.desc())
            .limit(1)
        )
        return session.scalars(query).one_or_none()

    @staticmethod
    def _dataset_versions(session: Session, name: str) -> list[int]:
        query = select(DatasetRow.version).where(DatasetRow.name == name)
        return sorted(v for v in session.scalars(query) if v is not None)

    def register_dataset(
        self,
        *,
        name: str,
        definition: Mapping[str, Any],
        description: str | None = None,
        tags: Mapping[str, str | None] | None = None,
        create_new_version: bool = False,
    ) -> DatasetInfo:
        with self._write() as session:
            lock_name(session, "dataset", name)
            latest = self._latest_dataset(session, name)
            if latest is not None and not create_new_version:
                if latest.definition == dict(definition):
                    return latest.to_entity()
                raise DatasetExists(name, latest.version or 0)
            row = DatasetRow(
                id=str(uuid.uuid4()),
                name=name,
                version=((latest.version or 0) if latest else 0) + 1,
                definition=dict(definition),
                description=description,
                tags=dict(tags or {}),
                created_time=utcnow(),
            )
            session.add(row)
            session.flush()
            return row.to_entity()

    def get_dataset(self, name: str, version: int | None = None) -> DatasetInfo:
        with self._read() as session:
            if version is None:
                row = self._latest_dataset(session, name)
            else:
                query = select(DatasetRow).where(
                    DatasetRow.name == name, DatasetRow.version == int(version)
                )
                row = session.scalars(query).one_or_none()
            if row is None:
                raise DatasetNotFound(name, version, self._dataset_versions(session, name))
            return row.to_entity()

    def get_dataset_by_id(self, dataset_id: str) -> DatasetInfo:
        with self._read() as session:
            row = session.get(DatasetRow, dataset_id)
            if row is None:
                raise DatasetNotFound(f"id:{dataset_id}")
            return row.to_entity()

    def list_datasets(self) -> list[DatasetInfo]:
        with self._read() as session:
            latest = (
                select(DatasetRow.name, func.max(DatasetRow.version).label("version"))
                .where(DatasetRow.name.is_not(None))
                .group_by(DatasetRow.name)
                .subquery()
            )
            query = (
                select(DatasetRow)
                .join(
                    latest,
                    (DatasetRow.name == latest.c.name) & (DatasetRow.version == latest.c.version),
                )
                .order_by(DatasetRow.name)
            )
            return [row.to_entity() for row in session.scalars(query)]
