"""Alembic environment for the store. The bot passes its own connection (already inside the
transaction that holds the migration lock, see bot/store/migrate.py); the `alembic` command line
builds one from ASPRESET_DB or the ini file's sqlalchemy.url."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection

from bot.store.database import create_store_engine, parse_url
from bot.store.schema import VERSION_TABLE, metadata

config = context.config


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_offline() -> None:
    url = os.environ.get("ASPRESET_DB") or config.get_main_option("sqlalchemy.url") or ""
    context.configure(
        url=parse_url(url),
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    given = config.attributes.get("connection")
    if isinstance(given, Connection):
        _configure(given)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = os.environ.get("ASPRESET_DB") or config.get_main_option("sqlalchemy.url") or ""
    engine = create_store_engine(parse_url(url))
    try:
        with engine.connect() as connection:
            _configure(connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
