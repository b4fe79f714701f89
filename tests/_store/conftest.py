"""Store fixtures: a fresh SqlStore on a SQLite file and on the real PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from runyard._store import open_store
from runyard._store.base import Store

PG_SERVER = "postgresql://postgres@127.0.0.1:5432/test"
WORKERS = Path(__file__).with_name("workers.py")


def _pg_unreachable_reason() -> str | None:
    try:
        import psycopg2
    except ImportError:
        return "psycopg2 is not installed (pip install psycopg2-binary)"
    try:
        psycopg2.connect(PG_SERVER, connect_timeout=3).close()
    except psycopg2.OperationalError as exc:
        return f"PostgreSQL at {PG_SERVER} is unreachable: {str(exc).strip()}"
    return None


@pytest.fixture(scope="session")
def pg_reason() -> str | None:
    return _pg_unreachable_reason()


def _pg_admin(sql: str) -> None:
    import psycopg2

    connection = psycopg2.connect(PG_SERVER)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
    finally:
        connection.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_uri(request: pytest.FixtureRequest, tmp_path, pg_reason) -> Iterator[str]:
    """The URI of an empty store: a new SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ws' / 'runyard.db'}"
        return
    if pg_reason:
        if os.environ.get("CI") == "true":
            pytest.fail(
                f"{pg_reason}. CI=true, so the PostgreSQL contract tests must run, not skip: "
                "start PostgreSQL on 127.0.0.1:5432 with a database 'test' that the user "
                "'postgres' reaches without a password (e.g. a postgres service container with "
                "POSTGRES_DB=test and POSTGRES_HOST_AUTH_METHOD=trust).",
                pytrace=False,
            )
        pytest.skip(pg_reason)
    schema = f"runyard_test_{uuid.uuid4().hex[:12]}"
    _pg_admin(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_SERVER}?options={quote(f'-csearch_path={schema}')}"
    finally:
        _pg_admin(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def store(store_uri: str) -> Iterator[Store]:
    opened = open_store(store_uri)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def run_workers(start_together, repo_root: Path) -> Callable[[list[list[str]], str], list[object]]:
    """run_workers(jobs, uri): one process per job (tests/_store/workers.py), all released at
    the same instant once every one is ready; returns each one's JSON result, in job order."""

    def run(jobs: list[list[str]], uri: str) -> list[object]:
        procs = start_together(
            [[str(WORKERS), job[0], uri, *job[1:]] for job in jobs],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=repo_root,
        )
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
            results.append(json.loads(out.strip().splitlines()[-1]))
        return results

    return run
