"""`aspreset mcp` driven by a client no one here wrote: the MCP Inspector's CLI (the TypeScript SDK,
as Claude Code, Cursor and VS Code use it), installed from tests/frontends/mcp/inspector/ by the
Makefile's test target (`npm ci`). It lists the tools, plans the connection-string change, and gets
an error result back as a result: the TypeScript SDK checks structured content against the tool's
output schema, error or not, and throws a result away that does not match."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.sim.cli import inventory_toml
from tests.frontends.mcp.test_stdio import POLICY

INSPECTOR_DIR = Path(__file__).parent / "inspector"
INSPECTOR = INSPECTOR_DIR / "node_modules" / ".bin" / "mcp-inspector"

pytestmark = pytest.mark.skipif(shutil.which("npm") is None,
                                reason="npm is not installed: the MCP Inspector (an npm package) cannot run here")


@pytest.fixture(scope="module")
def inspector() -> Path:
    """The pinned Inspector, installed from the lock file if `make test` has not done it yet."""
    if not INSPECTOR.exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=INSPECTOR_DIR, check=True, timeout=600,
                       capture_output=True)
    return INSPECTOR


def inspect(inspector: Path, tmp_path: Path, farm_inventory, db_url: str, *method: str) -> dict:  # type: ignore[no-untyped-def]
    farm_file = tmp_path / "farm.toml"
    farm_file.write_text(inventory_toml(farm_inventory))
    server = [sys.executable, "-m", "bot.cli", "mcp", "--policy", POLICY, "--inventory", str(farm_file),
              "--db", db_url]
    env = {**os.environ, "ASPRESET_CONFIG": "", "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([str(inspector), "--cli", *server, *method], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout[done.stdout.index("{"):])


def test_the_inspector_lists_the_tools_with_their_schemas(inspector, tmp_path, farm_inventory, db_url):
    listed = inspect(inspector, tmp_path, farm_inventory, db_url, "--method", "tools/list")
    tools = {tool["name"]: tool for tool in listed["tools"]}
    assert {"plan_restart", "request_restart", "get_request", "cancel_request"} <= set(tools)
    assert tools["request_restart"]["inputSchema"]["required"] == ["site", "note"]
    assert tools["plan_restart"]["outputSchema"]["title"] == "PlanView"


def test_the_inspector_plans_the_connection_string_change(inspector, tmp_path, farm_inventory, db_url, demo_farm):
    result = inspect(inspector, tmp_path, farm_inventory, db_url, "--method", "tools/call",
                     "--tool-name", "plan_restart", "--tool-arg", "site=shop-web",
                     "--tool-arg", 'changed_files=["App_Config/connectionStrings.config"]')
    assert not result.get("isError")
    assert result["structuredContent"]["rung"] == "appdomain"
    assert result["structuredContent"]["decision"]["outcome"] == "allow"


def test_the_inspector_shows_an_error_result_with_its_message(inspector, tmp_path, farm_inventory, db_url):
    result = inspect(inspector, tmp_path, farm_inventory, db_url, "--method", "tools/call",
                     "--tool-name", "get_request", "--tool-arg", "request_id=r-nosuch")
    assert result["isError"] is True
    assert "no request 'r-nosuch'" in result["content"][0]["text"]
