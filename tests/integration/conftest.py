"""A store per test, on SQLite (a temporary file) and on PostgreSQL (a fresh database per test,
copied from one migrated template made per session; every database made is dropped at the end).
`store` is the contract fixture: the same tests run on SQLite, PostgreSQL and the in-memory store;
`sql_store` is for what only a database has (its constraints, triggers, several processes).

PostgreSQL comes from ASPRESET_TEST_PG_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/postgres;
`.ci/run` starts a server). When none answers, the PostgreSQL tests skip and say why, unless CI is
set: then they fail.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.app.ports import Store
from bot.store.database import parse_url, safe_url
from bot.store.memory import MemoryStore
from bot.store.sql import SqlStore

# child processes (multiprocessing, spawn) import their bodies from store/store_scenarios.py
_HERE = str(Path(__file__).resolve().parent / "store")
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


class PgServer:
    """Makes and drops the session's databases through an AUTOCOMMIT admin connection."""

    def __init__(self, admin_url: URL, engine: Engine) -> None:
        self.admin_url = admin_url
        self._engine = engine
        self.prefix = f"aspreset_test_{os.getpid()}_{secrets.token_hex(3)}"
        self._made: list[str] = []
        self._template: str | None = None

    def url_for(self, database: str) -> str:
        return self.admin_url.set(database=database).render_as_string(hide_password=False)

    def _create(self, template: str) -> str:
        name = f"{self.prefix}_{len(self._made)}"
        with self._engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        self._made.append(name)
        return name

    def empty_database(self) -> str:
        return self.url_for(self._create("template0"))

    def migrated_database(self) -> str:
        if self._template is None:
            name = self._create("template0")
            SqlStore(self.url_for(name)).close()  # migrate once; no connection left for copying
            self._template = name
        return self.url_for(self._create(self._template))

    def drop_all(self) -> None:
        with self._engine.connect() as conn:
            for name in reversed(self._made):
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self._engine.dispose()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    admin_url = parse_url(os.environ.get("ASPRESET_TEST_PG_URL") or DEFAULT_PG_URL)
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        engine.dispose()
        first_line = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        reason = (
            f"PostgreSQL tests need a server: none answered at {safe_url(admin_url)} ({first_line}). "
            "Start one (`bash .ci/run` does) or set ASPRESET_TEST_PG_URL."
        )
        if os.environ.get("CI"):
            pytest.fail(f"CI is set, so this does not skip: {reason}", pytrace=False)
        pytest.skip(reason)
    server = PgServer(admin_url, engine)
    try:
        yield server
    finally:
        server.drop_all()


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
CONTRACT_BACKENDS = [*BACKENDS, "memory"]


def _migrated_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'aspreset.db'}"
        SqlStore(url).close()
        return url
    server: PgServer = request.getfixturevalue("pg_server")
    return server.migrated_database()


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a migrated, empty store of each backend."""
    return _migrated_url(request.param, request, tmp_path)


@pytest.fixture(params=BACKENDS)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database of each backend (no schema yet)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    server: PgServer = request.getfixturevalue("pg_server")
    return server.empty_database()


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    return pg_server.migrated_database()


@pytest.fixture(params=CONTRACT_BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An empty store of each kind that implements the Store port: the contract suite's fixture."""
    backend = request.param
    opened: Store = MemoryStore() if backend == "memory" else SqlStore(_migrated_url(backend, request, tmp_path))
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def sql_store(store_url: str) -> Iterator[SqlStore]:
    """A SqlStore on each database, for what only a database has; `store_url` reaches it too."""
    opened = SqlStore(store_url)
    try:
        yield opened
    finally:
        opened.close()
