"""Schema migrations run on open: idempotent, safe when several processes open a fresh database
at once, and producing exactly the schema the code describes."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from store_scenarios import SPAWN, T0, collect, join_all, locks_of, new_request, open_store_at_once, started

from bot.store.database import create_store_engine, parse_url
from bot.store.migrate import alembic_config, current_revision, head_revision
from bot.store.schema import VERSION_TABLE, metadata
from bot.store.sql import SqlStore

TABLES = {"requests", "approvals", "request_locks", "audit_events", VERSION_TABLE}


def _version_rows(url: str) -> list[str]:
    engine = create_store_engine(parse_url(url))
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())
    finally:
        engine.dispose()


def test_opening_a_fresh_database_migrates_it_to_head_and_reopening_changes_nothing(empty_url: str) -> None:
    with SqlStore(empty_url) as store:
        new = new_request()
        request = store.create_request(new, locks_of(new), T0)
    with SqlStore(empty_url) as again, SqlStore(empty_url) as third:
        assert again.get(request.id) == third.get(request.id)
        engine = create_store_engine(parse_url(empty_url))
        assert current_revision(engine) == head_revision() is not None
        assert set(inspect(engine).get_table_names()) >= TABLES
        engine.dispose()
    assert _version_rows(empty_url) == [head_revision()]


def test_processes_opening_a_fresh_database_at_once_all_succeed_and_migrate_it_once(empty_url: str) -> None:
    barrier = SPAWN.Barrier(4)
    results = SPAWN.Queue()
    processes = [SPAWN.Process(target=open_store_at_once, args=(empty_url, barrier, results)) for _ in range(4)]
    with started(processes):
        assert len(collect(results, 4, processes)) == 4
        join_all(processes)

    assert _version_rows(empty_url) == [head_revision()]
    with SqlStore(empty_url) as store:
        new = new_request(approvals_needed=0)
        assert store.create_request(new, locks_of(new), T0).id


def test_the_migrated_schema_is_exactly_the_schema_the_code_describes(store_url: str) -> None:
    engine = create_store_engine(parse_url(store_url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE, "compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


def test_the_migrations_downgrade_to_nothing_and_upgrade_again(store_url: str) -> None:
    engine = create_store_engine(parse_url(store_url))
    try:
        with engine.begin() as conn:
            config = alembic_config()
            config.attributes["connection"] = conn
            command.downgrade(config, "base")
        assert set(inspect(engine).get_table_names()) <= {VERSION_TABLE}
    finally:
        engine.dispose()

    with SqlStore(store_url) as store:
        new = new_request()
        assert store.create_request(new, locks_of(new), T0).id
