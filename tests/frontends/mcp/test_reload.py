"""A running server reads its policy and inventory again when their files change: a freeze added to
the policy applies to the next call; a file broken meanwhile fails closed with its file and line,
and the fixed file is read again."""

from __future__ import annotations

import pytest
from mcp import Client

from bot.bootstrap import build
from bot.config import load_settings
from bot.mcp.server import build_server
from bot.mcp.services import ServiceSource, assistant, fixed
from bot.sim.cli import inventory_toml
from tests.frontends.mcp.conftest import POLICY

pytestmark = pytest.mark.anyio

FREEZE = """
[[freezes]]
name = "all week"
environments = ["*"]
start = "00:00"
end = "23:59"
timezone = "UTC"
"""
PLAN = {"site": "shop-web", "changed_files": ["App_Config/connectionStrings.config"]}


async def test_a_freeze_added_to_the_policy_file_applies_to_the_next_call(tmp_path, farm_inventory):
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY.read_text())
    farm = tmp_path / "farm.toml"
    farm.write_text(inventory_toml(farm_inventory))
    settings = load_settings(policy=str(policy), inventory=str(farm), db=f"sqlite:///{tmp_path / 'a.db'}",
                             environ={}, cwd=tmp_path)
    with build(settings) as runtime:  # the service reads its files again when they change
        source = ServiceSource.of(runtime.service)
        async with Client(build_server(source, fixed(assistant("assistant")))) as client:
            before = await client.call_tool("plan_restart", PLAN)
            policy.write_text(POLICY.read_text() + FREEZE)
            frozen = await client.call_tool("plan_restart", PLAN)
            policy.write_text(POLICY.read_text() + '\n[[rules]]\nname = "x"\neffect = "alow"\n')
            broken = await client.call_tool("plan_restart", PLAN)
            policy.write_text(POLICY.read_text())
            fixed_again = await client.call_tool("plan_restart", PLAN)
    assert before.structured_content["decision"]["outcome"] == "allow"
    assert frozen.structured_content["decision"]["outcome"] == "refuse"
    assert "all week" in frozen.content[0].text
    assert broken.is_error and "policy.toml" in broken.content[0].text and "line " in broken.content[0].text
    assert broken.content[0].text.startswith("aspreset did nothing")
    assert fixed_again.structured_content["decision"]["outcome"] == "allow"
