"""`aspreset serve` logs JSON lines only: the MCP SDK's server would add a Rich handler to the
standard library's root logger (logging.basicConfig); with the bot's JSON handler there first, the
SDK's own records come out as the same JSON lines."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from bot.config import McpClient, McpSettings
from bot.logs import configure
from bot.mcp.http import mcp_http_app
from bot.mcp.services import ServiceSource


@pytest.fixture
def fresh_root_logger() -> Iterator[logging.Logger]:
    """The root logger as a new process has it (no handler), as `aspreset serve` starts."""
    root = logging.getLogger()
    kept, level = list(root.handlers), root.level
    for handler in kept:
        root.removeHandler(handler)
    yield root
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in kept:
        root.addHandler(handler)
    root.setLevel(level)


def test_the_sdks_records_are_json_lines_and_no_rich_handler_is_added(service, capsys, fresh_root_logger):
    configure()  # as the CLI's main does first
    mcp_http_app(ServiceSource.of(service), McpSettings(clients={"a": McpClient(token_env="T")}),
                 {"T": "t0ken-for-the-assistant-0123456789"})
    handlers = [type(h).__name__ for h in fresh_root_logger.handlers]
    assert "RichHandler" not in handlers and handlers
    logging.getLogger("mcp.server.streamable_http").warning("Invalid Host header: %s", "evil.example")
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    record = json.loads(lines[-1])
    assert record["event"] == "Invalid Host header: evil.example" and record["level"] == "warning"
    assert record["logger"] == "mcp.server.streamable_http"
