"""The web service half of SqlStore (a mixin)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from runyard._entities import ServiceInfo
from runyard._store.locks import lock_name
from runyard._store.schema import ServiceRow, utcnow
from runyard._store.sessions import SessionAccess
from runyard.exceptions import ServiceExists, ServiceNotFound


class ServiceMethods(SessionAccess):
    """create/get/list/update/delete of web services."""

    @staticmethod
    def _service_row(session: Session, name: str, *, lock: bool = False) -> ServiceRow:
        row = session.get(ServiceRow, name, with_for_update=lock)
        if row is None:
            names = list(session.scalars(select(ServiceRow.name).order_by(ServiceRow.name)))
            raise ServiceNotFound(name, names)
        return row

    def create_service(
        self,
        *,
        name: str,
        compute_type: str,
        spec: Mapping[str, Any],
        state: Mapping[str, Any] | None = None,
        overwrite: bool = False,
    ) -> ServiceInfo:
        with self._write() as session:
            lock_name(session, "service", name)
            now = utcnow()
            row = session.get(ServiceRow, name, with_for_update=True)
            if row is not None:
                if not overwrite:
                    raise ServiceExists(name)
                # Replacing keeps the row (and the served state: port, keys) and bumps the
                # generation, so the backend swaps the new spec in.
                row.compute_type, row.spec = compute_type, dict(spec)
                row.state = {**row.state, **(state or {})}
                row.status, row.generation, row.modified_time = (
                    "Transitioning",
                    row.generation + 1,
                    now,
                )
            else:
                row = ServiceRow(
                    name=name,
                    compute_type=compute_type,
                    spec=dict(spec),
                    state=dict(state or {}),
                    status="Transitioning",
                    generation=1,
                    created_time=now,
                    modified_time=now,
                )
                session.add(row)
            session.flush()
            return row.to_entity()

    def get_service(self, name: str) -> ServiceInfo:
        with self._read() as session:
            return self._service_row(session, name).to_entity()

    def list_services(self) -> list[ServiceInfo]:
        with self._read() as session:
            rows = session.scalars(select(ServiceRow).order_by(ServiceRow.name))
            return [row.to_entity() for row in rows]

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
        with self._write() as session:
            row = self._service_row(session, name, lock=True)
            if expected_generation is not None and row.generation != expected_generation:
                return None
            # JSON columns only notice reassignment, so build new dicts.
            if spec is not None:
                row.spec = {**row.spec, **spec}
            if state is not None:
                row.state = {**row.state, **state}
            if status is not None:
                row.status = status
            if new_generation:
                row.generation += 1
            row.modified_time = utcnow()
            session.flush()
            return row.to_entity()

    def delete_service(self, name: str) -> None:
        with self._write() as session:
            session.delete(self._service_row(session, name, lock=True))
