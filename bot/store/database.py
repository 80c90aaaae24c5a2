"""Engines for the two supported databases, set up for several processes sharing one database.

SQLite: WAL (readers never wait for the writer), a busy timeout, foreign keys on, and write
transactions opened with `BEGIN IMMEDIATE`, so the write lock is taken before the first read and a
read-check-write (a claim, an approval count) cannot interleave with another process's.
PostgreSQL (psycopg 3): row locks (`SELECT ... FOR UPDATE`) and conditional updates do that job.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

from bot.app.errors import ConfigError
from bot.store.rules import json_dumps

BUSY_TIMEOUT_MS = 30_000
WRITE_OPTION = "aspreset_write"  # execution option: this connection's transaction writes


def parse_url(url: str) -> URL:
    """Accept sqlite:///PATH and postgresql[+psycopg]://...; `postgres://` and a driverless
    `postgresql://` mean psycopg 3 (the driver installed). Anything else is a ConfigError."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"database URL {_redact_text(url)!r} is not a URL: {exc}") from None
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername in ("postgresql+psycopg", "sqlite", "sqlite+pysqlite"):
        return parsed
    backend = parsed.get_backend_name()
    raise ConfigError(
        f"database URL {safe_url(parsed)!r}: unsupported database or driver {parsed.drivername!r} "
        f"({backend}); "
        "use sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/DB"
    )


def safe_url(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def _redact_text(url: str) -> str:
    # an unparsable URL may still hold a password between ':' and '@'
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url


def sqlite_file(url: URL) -> Path | None:
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):
        return None
    return Path(database)


def create_store_engine(url: URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    return create_engine(
        url,
        json_serializer=json_dumps,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=10,
        pool_timeout=60,
        connect_args={"connect_timeout": 10, "application_name": "aspreset"},
    )


def _use_wal(dbapi_connection: Any) -> None:
    """Put the file in WAL mode. The mode persists in the file, so only a fresh database changes it,
    and there SQLite answers SQLITE_BUSY at once, without its busy handler, to a second process
    changing the mode at the same moment (waiting could deadlock): retry that until the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            (mode,) = dbapi_connection.execute("PRAGMA journal_mode").fetchone()
            if str(mode).lower() != "wal":
                dbapi_connection.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)  # the other opener holds the lock for a few milliseconds


def _sqlite_engine(url: URL) -> Engine:
    path = sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            json_serializer=json_dumps,
            pool_size=5,
            max_overflow=10,
            pool_timeout=60,
            connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        )
    else:  # in-memory: one connection shared, so every caller sees the same database
        engine = create_engine(
            url,
            json_serializer=json_dumps,
            poolclass=StaticPool,
            connect_args={"check_same_thread": False},
        )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # take transaction control from the sqlite3 module: we emit BEGIN ourselves (below)
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys = ON")
            if path is not None:
                _use_wal(dbapi_connection)
                cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get(WRITE_OPTION):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")

    return engine
