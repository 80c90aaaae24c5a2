"""When the guardrails cannot be read (a broken policy file, a database that does not answer),
every tool fails closed: a tool error saying what to fix, and nothing planned, recorded or run."""

from __future__ import annotations

import pytest
from mcp import Client

from bot.bootstrap import build
from bot.config import load_settings
from bot.mcp.server import build_server
from bot.mcp.services import ServiceSource, assistant, fixed
from bot.sim.cli import inventory_toml

pytestmark = pytest.mark.anyio

CALLS = [
    ("list_sites", {}),
    ("site_status", {"site": "shop-web"}),
    ("plan_restart", {"site": "shop-web", "changed_files": ["App_Config/connectionStrings.config"]}),
    ("request_restart", {"site": "shop-web", "note": "config changed", "scope": "appdomain"}),
    ("cancel_request", {"request_id": "r-abc123"}),
    ("get_request", {"request_id": "r-abc123"}),
    ("list_requests", {}),
    ("list_incidents", {"site": "shop-web"}),
]


ENVIRONMENTS = "[environments.prod]\n[environments.staging]\n"


def serve(tmp_path, farm_inventory, *, policy_text: str | None = None, db: str | None = None):
    farm_file = tmp_path / "farm.toml"
    farm_file.write_text(inventory_toml(farm_inventory))
    policy = tmp_path / "policy.toml"
    policy.write_text(policy_text or ENVIRONMENTS)
    db = db or f"sqlite:///{tmp_path / 'a.db'}"
    source = ServiceSource(lambda: build(load_settings(policy=str(policy), inventory=str(farm_file), db=db,
                                                       environ={}, cwd=tmp_path)).service)
    return build_server(source, fixed(assistant("assistant")))


async def test_a_broken_policy_file_makes_every_tool_fail_closed_naming_the_file(tmp_path, farm_inventory, demo_farm):
    server = serve(tmp_path, farm_inventory, policy_text='[[rules]]\nname = "x"\neffect = "alow"\n')
    async with Client(server) as client:
        assert len((await client.list_tools()).tools) == 8
        for name, arguments in CALLS:
            result = await client.call_tool(name, arguments)
            assert result.is_error, name
            text = result.content[0].text
            assert text.startswith("aspreset did nothing") and "policy.toml" in text and "rules[1].effect" in text
            assert text.endswith("[bad_input]") and result.structured_content is None
    assert all(host.received == [] for host in demo_farm.hosts.values())


async def test_a_database_that_does_not_answer_makes_every_tool_fail_closed(tmp_path, farm_inventory, demo_farm):
    server = serve(tmp_path, farm_inventory, db="postgresql+psycopg://aspreset@127.0.0.1:1/aspreset")
    async with Client(server) as client:
        for name, arguments in CALLS:
            result = await client.call_tool(name, arguments)
            assert result.is_error, name
            assert result.content[0].text.endswith("[store_unavailable]") and result.structured_content is None
            assert "127.0.0.1:1" in result.content[0].text
    assert all(host.received == [] for host in demo_farm.hosts.values())


async def test_the_tools_work_once_the_policy_file_is_fixed(tmp_path, farm_inventory):
    server = serve(tmp_path, farm_inventory, policy_text='[[rules]]\nname = "x"\neffect = "alow"\n')
    async with Client(server) as client:
        assert (await client.call_tool("list_sites", {})).is_error
        (tmp_path / "policy.toml").write_text(ENVIRONMENTS)
        assert not (await client.call_tool("list_sites", {})).is_error
