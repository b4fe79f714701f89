"""The model registry half of SqlStore (a mixin, to keep sql.py to one topic)."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from runyard._entities import ModelVersion
from runyard._store.filters import matches
from runyard._store.schema import ModelNameRow, ModelVersionRow, utcnow
from runyard.exceptions import ModelNotFoundException, ModelPropertyImmutable


def _not_found(name: str, version: int | None, existing: list[int]) -> ModelNotFoundException:
    which = f"{name!r} version {version}" if version is not None else f"{name!r}"
    hint = (
        f"Versions of {name!r} that exist: {existing}."
        if existing
        else "List registered models with Model.list(ws) or `runyard models list`."
    )
    return ModelNotFoundException(
        f"ModelNotFound: no model {which} in this workspace. {hint} Register one with "
        "Model.register(ws, model_path, model_name) or run.register_model(...)."
    )


class ModelMethods:
    """create/get/list/update/delete of model versions; needs ``_write``/``_read``."""

    def _write(self) -> AbstractContextManager[Session]:
        raise NotImplementedError

    def _read(self) -> AbstractContextManager[Session]:
        raise NotImplementedError

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
        with self._write() as session:
            dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
            session.execute(
                dialect.insert(ModelNameRow.__table__)
                .values(name=name, last_version=0)
                .on_conflict_do_nothing(index_elements=["name"])
            )
            # UPDATE ... RETURNING takes the row lock, so concurrent registrations of one
            # name queue here and each gets the next number.
            bump = (
                update(ModelNameRow)
                .where(ModelNameRow.name == name)
                .values(last_version=ModelNameRow.last_version + 1)
                .returning(ModelNameRow.last_version)
                .execution_options(synchronize_session=False)
            )
            version = session.execute(bump).scalar_one()
            row = ModelVersionRow(
                name=name,
                version=version,
                created_time=utcnow(),
                artifact_prefix=artifact_prefix,
                model_path=model_path,
                tags=dict(tags or {}),
                properties=dict(properties or {}),
                description=description,
                run_id=run_id,
                experiment_name=experiment_name,
                model_framework=model_framework,
                model_framework_version=model_framework_version,
            )
            session.add(row)
            session.flush()
            return row.to_entity()

    @staticmethod
    def _versions(session: Session, name: str) -> list[int]:
        query = select(ModelVersionRow.version).where(ModelVersionRow.name == name)
        return sorted(session.scalars(query))

    def _model_row(
        self, session: Session, name: str, version: int | None, *, lock: bool = False
    ) -> ModelVersionRow:
        if version is None:
            query = (
                select(ModelVersionRow)
                .where(ModelVersionRow.name == name)
                .order_by(ModelVersionRow.version.desc())
                .limit(1)
            )
            row = session.scalars(query).one_or_none()
        else:
            row = session.get(ModelVersionRow, (name, version), with_for_update=lock)
        if row is None:
            raise _not_found(name, version, self._versions(session, name))
        return row

    def get_model(self, name: str, version: int | None = None) -> ModelVersion:
        with self._read() as session:
            return self._model_row(session, name, version).to_entity()

    def list_models(
        self,
        *,
        name: str | None = None,
        tags: Mapping[str, str | None] | Collection[str] | None = None,
        properties: Mapping[str, str] | Collection[str] | None = None,
        run_id: str | None = None,
        latest: bool = False,
    ) -> list[ModelVersion]:
        query = select(ModelVersionRow).order_by(
            ModelVersionRow.name, ModelVersionRow.version.desc()
        )
        if name is not None:
            query = query.where(ModelVersionRow.name == name)
        if run_id is not None:
            query = query.where(ModelVersionRow.run_id == run_id)
        with self._read() as session:
            rows = [
                row
                for row in session.scalars(query)
                if matches(row.tags, tags) and matches(row.properties, properties)
            ]
        return [row.to_entity() for row in (_first_per_name(rows) if latest else rows)]

    def update_model(
        self,
        name: str,
        version: int,
        *,
        description: str | None = None,
        add_tags: Mapping[str, str | None] | None = None,
        remove_tags: Collection[str] | None = None,
        add_properties: Mapping[str, str] | None = None,
    ) -> ModelVersion:
        with self._write() as session:
            row = self._model_row(session, name, version, lock=True)
            for key, value in (add_properties or {}).items():
                if key in row.properties and row.properties[key] != value:
                    raise ModelPropertyImmutable(
                        f"{name}:{version}", key, str(row.properties[key]), str(value)
                    )
            if description is not None:
                row.description = description
            tags: dict[str, Any] = {**row.tags, **(add_tags or {})}
            row.tags = {k: v for k, v in tags.items() if k not in set(remove_tags or ())}
            row.properties = {**row.properties, **(add_properties or {})}
            session.flush()
            return row.to_entity()

    def delete_model(self, name: str, version: int) -> None:
        with self._write() as session:
            session.delete(self._model_row(session, name, version, lock=True))


def _first_per_name(rows: list[ModelVersionRow]) -> Iterator[ModelVersionRow]:
    """Rows come ordered by name then version descending: keep each name's first."""
    seen: set[str] = set()
    for row in rows:
        if row.name not in seen:
            seen.add(row.name)
            yield row
