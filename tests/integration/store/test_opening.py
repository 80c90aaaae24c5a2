"""Opening a store: the default SQLite file under the working directory, URLs accepted and
refused, and an unreachable database reported without its password."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from store_scenarios import T0, locks_of, new_request

from bot.app.errors import ConfigError
from bot.store import StoreUnavailable, open_store
from bot.store.database import create_store_engine, parse_url
from bot.store.sql import SqlStore


def test_by_default_the_store_is_a_sqlite_file_in_dot_aspreset_under_the_working_directory(
    tmp_path: Path,
) -> None:
    with open_store(None, tmp_path) as store:
        new = new_request()
        request = store.create_request(new, locks_of(new), T0)
        assert store.backend == "sqlite"

    database = tmp_path / ".aspreset" / "aspreset.db"
    assert database.is_file()
    with open_store(f"sqlite:///{database}", tmp_path / "elsewhere") as same:
        assert same.get(request.id).id == request.id


def test_the_sqlite_file_uses_wal_a_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    SqlStore(url).close()
    engine = create_store_engine(parse_url(url))
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar_one() >= 5000
        assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
    engine.dispose()


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("postgresql://bot@db.example/aspreset", "postgresql+psycopg"),
        ("postgres://bot@db.example/aspreset", "postgresql+psycopg"),
        ("postgresql+psycopg://bot@db.example/aspreset", "postgresql+psycopg"),
        ("sqlite:///x.db", "sqlite"),
    ],
)
def test_postgresql_urls_without_a_driver_mean_psycopg_3(given: str, driver: str) -> None:
    assert parse_url(given).drivername == driver


@pytest.mark.parametrize(
    "url", ["mysql://bot:s3cret@db/aspreset", "postgresql+psycopg2://bot:s3cret@db/x", "not a url"]
)
def test_unsupported_urls_are_configuration_errors_that_hide_the_password(url: str) -> None:
    with pytest.raises(ConfigError) as refused:
        SqlStore(url)
    assert refused.value.code == "bad_input"
    assert "s3cret" not in str(refused.value)


def test_an_unreachable_postgresql_is_store_unavailable_without_the_password() -> None:
    with pytest.raises(StoreUnavailable) as unavailable:
        SqlStore("postgresql+psycopg://bot:s3cret@127.0.0.1:1/aspreset")
    message = str(unavailable.value)
    assert "s3cret" not in message
    assert "127.0.0.1:1/aspreset" in message
    assert unavailable.value.code == "store_unavailable"
