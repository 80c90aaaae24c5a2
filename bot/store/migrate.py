"""`alembic upgrade head` on open, safe when several processes open the same database at once.

The whole upgrade runs in one transaction that first takes a lock every other opener waits for:
PostgreSQL `pg_advisory_xact_lock`, SQLite `BEGIN IMMEDIATE`. Both databases have transactional
DDL, so the second opener finds the schema at head and does nothing; a failed upgrade leaves none of
its changes behind.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

from bot.store.database import WRITE_OPTION
from bot.store.schema import VERSION_TABLE

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
ADVISORY_LOCK_KEY = int.from_bytes(b"aspreset", "big")  # fits a signed bigint


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()


def _recorded_revisions(engine: Engine) -> set[str]:
    """The revisions in the version table, read without Alembic (which logs on every configure)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return set()
        return set(connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())


def upgrade_to_head(engine: Engine) -> None:
    """Upgrade to head unless already there (the common case: one cheap read, no lock)."""
    head = head_revision()
    if head is not None and _recorded_revisions(engine) == {head}:
        return
    with engine.connect() as connection:
        connection.execution_options(**{WRITE_OPTION: True})
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
