"""The environment registry half of SqlStore (a mixin)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from runyard._entities import EnvironmentRecord
from runyard._store.locks import lock_name
from runyard._store.schema import EnvironmentLabelRow, EnvironmentRow, utcnow
from runyard._store.sessions import SessionAccess
from runyard.exceptions import EnvironmentNotFound


class EnvironmentMethods(SessionAccess):
    """save/get/list of registered environment versions."""

    @staticmethod
    def _latest_env(session: Session, name: str) -> EnvironmentRow | None:
        query = (
            select(EnvironmentRow)
            .where(EnvironmentRow.name == name)
            .order_by(EnvironmentRow.version.desc())
            .limit(1)
        )
        return session.scalars(query).one_or_none()

    def save_environment(self, name: str, definition_json: str, content_hash: str) -> str:
        with self._write() as session:
            lock_name(session, "environment", name)
            latest = self._latest_env(session, name)
            if latest is not None and latest.content_hash == content_hash:
                return str(latest.version)
            row = EnvironmentRow(
                name=name,
                version=(latest.version if latest else 0) + 1,
                definition_json=definition_json,
                content_hash=content_hash,
                created_time=utcnow(),
            )
            session.add(row)
            session.flush()
            return str(row.version)

    def get_environment(
        self, name: str, version: str | None = None, *, label: str | None = None
    ) -> EnvironmentRecord:
        with self._read() as session:
            if label is not None:
                tagged = session.get(EnvironmentLabelRow, (name, label))
                if tagged is not None:
                    row = session.get(EnvironmentRow, (name, tagged.version))
                else:
                    row = None
                if row is None:
                    raise EnvironmentNotFound(name, label=label)
                return row.to_entity()
            if version is None:
                row = self._latest_env(session, name)
            else:
                number = int(version) if str(version).isdigit() else -1
                row = session.get(EnvironmentRow, (name, number))
            if row is None:
                raise EnvironmentNotFound(name, version)
            return row.to_entity()

    def label_environment(self, name: str, version: str, labels: Sequence[str]) -> None:
        with self._write() as session:
            number = int(version) if str(version).isdigit() else -1
            if session.get(EnvironmentRow, (name, number)) is None:
                raise EnvironmentNotFound(name, version)
            for label in labels:
                row = session.get(EnvironmentLabelRow, (name, label))
                if row is None:
                    session.add(EnvironmentLabelRow(name=name, label=label, version=number))
                else:
                    row.version = number

    def list_environments(self) -> list[EnvironmentRecord]:
        with self._read() as session:
            latest = (
                select(EnvironmentRow.name, func.max(EnvironmentRow.version).label("version"))
                .group_by(EnvironmentRow.name)
                .subquery()
            )
            query = (
                select(EnvironmentRow)
                .join(
                    latest,
                    (EnvironmentRow.name == latest.c.name)
                    & (EnvironmentRow.version == latest.c.version),
                )
                .order_by(EnvironmentRow.name)
            )
            return [row.to_entity() for row in session.scalars(query)]
