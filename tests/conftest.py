from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

# the core's fakes (tests/fakes.py) import as `fakes` from any test
_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

pytest_plugins = ("farm_fixtures",)  # demo_farm and farm_inventory, for every suite


@pytest.fixture(autouse=True)
def _structlog_defaults() -> Iterator[None]:
    """The CLI configures structlog for the process; put it back so no test sees another's setup."""
    yield
    structlog.reset_defaults()


@pytest.fixture(autouse=True)
def _own_working_directory(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test runs in an empty directory, so a default store (.aspreset/ under the working
    directory) never lands in the checkout or leaks from one test into another."""
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    # with no config file the default database is in the per-user state directory: one per test
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))
    for name in ("ASPRESET_CONFIG", "ASPRESET_DB", "ASPRESET_USER"):
        monkeypatch.delenv(name, raising=False)
