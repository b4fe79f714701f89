"""Alembic: a fresh database is at head, and opening an up-to-date one is a no-op."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from runyard._store import open_store
from runyard._store.migrations import HEAD_REVISION, KNOWN_REVISIONS
from runyard._store.schema import Base
from runyard.exceptions import StoreSchemaUnknown

MIGRATIONS = Path(__file__).resolve().parents[2] / "runyard" / "_store" / "migrations"


def _engine(uri: str):
    return create_engine(uri.replace("postgresql://", "postgresql+psycopg2://", 1))


def _versions(uri: str) -> list[str]:
    engine = _engine(uri)
    try:
        with engine.connect() as connection:
            return list(
                connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
            )
    finally:
        engine.dispose()


def test_head_revision_constant_matches_scripts():
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    scripts = ScriptDirectory.from_config(config)
    assert scripts.get_heads() == [HEAD_REVISION]
    oldest_first = [rev.revision for rev in scripts.walk_revisions()][::-1]
    assert tuple(oldest_first) == KNOWN_REVISIONS


def test_fresh_database_is_at_head(store, store_uri):
    assert _versions(store_uri) == [HEAD_REVISION]


def test_migrated_schema_matches_the_orm_rows(store, store_uri):
    engine = _engine(store_uri)
    try:
        inspector = inspect(engine)
        for table in Base.metadata.sorted_tables:
            columns = {c["name"] for c in inspector.get_columns(table.name)}
            assert columns == set(table.columns.keys()), table.name
    finally:
        engine.dispose()


def test_opening_twice_is_a_noop(store, store_uri):
    store.get_or_create_experiment("kept")
    again = open_store(store_uri)
    try:
        assert [e.name for e in again.list_experiments()] == ["kept"]
    finally:
        again.close()
    assert _versions(store_uri) == [HEAD_REVISION]


def test_opening_an_up_to_date_sqlite_store_does_not_import_alembic(tmp_path):
    uri = f"sqlite:///{tmp_path / 'runyard.db'}"
    open_store(uri).close()
    code = (
        "import sys; from runyard._store import open_store; "
        f"open_store({uri!r}).close(); assert 'alembic' not in sys.modules, 'alembic loaded'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_job_side_import_stays_light():
    code = (
        "import runyard._store.artifacts, runyard._store.folder, sys; "
        "assert 'sqlalchemy' not in sys.modules, 'sqlalchemy imported'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_eight_processes_open_a_fresh_database_at_once(store_uri, run_workers):
    assert run_workers([["open"] for _ in range(8)], store_uri) == [[]] * 8
    assert _versions(store_uri) == [HEAD_REVISION]


def test_store_from_a_newer_runyard_is_refused(store, store_uri):
    store.get_or_create_experiment("kept")
    engine = _engine(store_uri)
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    finally:
        engine.dispose()
    with pytest.raises(
        StoreSchemaUnknown, match=r"schema revision '9999'.*newer Runyard.*pip install -U runyard"
    ):
        open_store(store_uri)
    assert _versions(store_uri) == ["9999"]
    assert [e.name for e in store.list_experiments()] == ["kept"]


OLD_EXPERIMENT = (
    "INSERT INTO experiments (id, name, created_time, tags, last_run_number) "
    "VALUES ('e1', 'old', '2025-01-01 00:00:00', '{}', 2)"
)


def _database_at(store_uri: str, revision: str, *rows: tuple[str, dict]) -> None:
    """A database migrated to ``revision`` only, holding ``rows`` (statement, parameters)."""
    from alembic import command

    if store_uri.startswith("sqlite:///"):
        Path(store_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = _engine(store_uri)
    try:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.set_main_option("path_separator", "os")
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
            for statement, parameters in rows:
                connection.execute(text(statement), parameters)
    finally:
        engine.dispose()
    assert _versions(store_uri) == [revision]


def test_a_0001_database_is_upgraded_keeping_its_data(store_uri):
    _database_at(store_uri, "0001", (OLD_EXPERIMENT, {}))
    upgraded = open_store(store_uri)
    try:
        assert [e.name for e in upgraded.list_experiments()] == ["old"]
        assert upgraded.save_environment("env", "{}", "h") == "1"
        assert upgraded.list_datasets() == []
    finally:
        upgraded.close()
    assert _versions(store_uri) == [HEAD_REVISION]


def test_a_0003_database_gets_the_agent_managed_flag_from_its_runs_definitions(store_uri):
    row = (
        "INSERT INTO runs (run_id, experiment_id, experiment_name, number, status, run_type, "
        "target, created_time, tags, properties, definition, runtime, spool_offset) VALUES "
        "(:id, 'e1', 'old', :n, 'Completed', 'azureml.scriptrun', 'local', "
        "'2025-01-01 00:00:00', '{}', '{}', :definition, '{\"pid\": 42}', 0)"
    )
    submitted = '{"script": "train.py", "snapshot_id": "abc"}'
    _database_at(
        store_uri,
        "0003",
        (OLD_EXPERIMENT, {}),
        (row, {"id": "sub", "n": 1, "definition": submitted}),
        (row, {"id": "inter", "n": 2, "definition": "{}"}),
    )
    upgraded = open_store(store_uri)
    try:
        assert upgraded.get_run("sub").agent_managed
        assert not upgraded.get_run("inter").agent_managed
        # A runtime written before jobs had a backend: its pid is a local job.
        job = upgraded.get_run("sub").runtime.job
        assert job is not None and (job.backend, job.job_id) == ("local", "42")
    finally:
        upgraded.close()
    assert _versions(store_uri) == [HEAD_REVISION]
