"""The compute target half of SqlStore (a mixin)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from runyard._entities import ComputeTargetInfo
from runyard._store.locks import lock_name
from runyard._store.schema import ComputeTargetRow, utcnow
from runyard._store.sessions import SessionAccess
from runyard.exceptions import ComputeTargetExists, ComputeTargetNotFound


class ComputeTargetMethods(SessionAccess):
    """create/get/list/update/delete of compute targets."""

    @staticmethod
    def _target_row(session: Session, name: str, *, lock: bool = False) -> ComputeTargetRow:
        row = session.get(ComputeTargetRow, name, with_for_update=lock)
        if row is None:
            raise ComputeTargetNotFound(name)
        return row

    def create_compute_target(
        self, *, name: str, compute_type: str, config: Mapping[str, Any]
    ) -> ComputeTargetInfo:
        with self._write() as session:
            lock_name(session, "compute_target", name)
            if session.get(ComputeTargetRow, name) is not None:
                raise ComputeTargetExists(name)
            now = utcnow()
            row = ComputeTargetRow(
                name=name,
                compute_type=compute_type,
                config=dict(config),
                state={},
                provisioning_state="Creating",
                created_time=now,
                modified_time=now,
            )
            session.add(row)
            session.flush()
            return row.to_entity()

    def get_compute_target(self, name: str) -> ComputeTargetInfo:
        with self._read() as session:
            return self._target_row(session, name).to_entity()

    def list_compute_targets(self) -> list[ComputeTargetInfo]:
        with self._read() as session:
            rows = session.scalars(select(ComputeTargetRow).order_by(ComputeTargetRow.name))
            return [row.to_entity() for row in rows]

    def update_compute_target(
        self,
        name: str,
        *,
        config: Mapping[str, Any] | None = None,
        state: Mapping[str, Any] | None = None,
        provisioning_state: str | None = None,
    ) -> ComputeTargetInfo:
        with self._write() as session:
            row = self._target_row(session, name, lock=True)
            # JSON columns only notice reassignment, so build new dicts.
            if config is not None:
                row.config = {**row.config, **config}
            if state is not None:
                row.state = {**row.state, **state}
            if provisioning_state is not None:
                row.provisioning_state = provisioning_state
            row.modified_time = utcnow()
            session.flush()
            return row.to_entity()

    def delete_compute_target(self, name: str) -> None:
        with self._write() as session:
            session.delete(self._target_row(session, name, lock=True))
