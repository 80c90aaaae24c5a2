"""`aspreset mcp` as an MCP client starts it: a real subprocess speaking MCP on stdin/stdout,
against a simulated farm. It lists the tools, plans the connection-string change, runs the
appdomain restart and reads back each host's result, and cannot get a worker kill run until a
person approves it through the service."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import replace

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from bot.sim.cli import inventory_toml

POLICY = os.path.join(os.path.dirname(__file__), "..", "..", "..", "examples", "policy.toml")


def aspreset_mcp(tmp_path, farm_inventory, db_url: str, *extra: str) -> StdioServerParameters:
    farm_file = tmp_path / "farm.toml"
    farm_file.write_text(inventory_toml(farm_inventory))
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "bot.cli", "mcp", "--policy", POLICY, "--inventory", str(farm_file), "--db", db_url, *extra],
        env={"ASPRESET_CONFIG": "", "PYTHONPATH": os.pathsep.join(sys.path)},
        cwd=str(tmp_path),
    )


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])  # legacy: the initialize handshake older clients speak
async def test_over_stdio_an_assistant_plans_runs_the_appdomain_restart_and_reads_the_result(
    tmp_path, farm_inventory, db_url, demo_farm, mode
):
    async with Client(aspreset_mcp(tmp_path, farm_inventory, db_url), mode=mode) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert names == {"list_sites", "site_status", "plan_restart", "request_restart", "get_request",
                         "list_requests", "list_incidents", "cancel_request"}
        changed = ["App_Config/connectionStrings.config"]
        plan = await client.call_tool("plan_restart", {"site": "shop-web", "changed_files": changed})
        assert plan.structured_content["rung"] == "appdomain"
        assert plan.structured_content["decision"]["outcome"] == "allow"

        arguments = {"site": "shop-web", "reason": "config", "note": "new connection string", "changed_files": changed}
        done = await client.call_tool("request_restart", arguments)
        assert not done.is_error, done.content[0].text
        request_id = done.structured_content["id"]
        got = (await client.call_tool("get_request", {"request_id": request_id})).structured_content
    assert got["state"] == "succeeded" and [h["host"] for h in got["hosts"]] == ["web01", "web02"]
    for host in got["hosts"]:
        assert host["pids_before"] == host["pids_after"] == demo_farm.host(host["host"]).pids("ShopPool")
        assert {"entry_left", "restart_counter_grew"} <= set(host["evidence"])  # the Id itself stays the same


@pytest.mark.anyio
async def test_over_stdio_a_worker_kill_waits_until_a_person_approves_it(
    tmp_path, farm_inventory, db_url, demo_farm, service
):
    before = demo_farm.host("web01").pids("ShopPool")
    async with Client(aspreset_mcp(tmp_path, farm_inventory, db_url, "--principal", "assistant")) as client:
        waiting = await client.call_tool("request_restart", {"site": "shop-web", "reason": "hung", "note": "it hangs"})
        match = re.match(r"waiting for approval: request (r-\w+)", waiting.content[0].text)
        assert match, waiting.content[0].text
        request_id = match.group(1)
        again = await client.call_tool("get_request", {"request_id": request_id})
        assert again.structured_content["state"] == "awaiting_approval"
        assert demo_farm.host("web01").pids("ShopPool") == before

        service.approve(request_id, replace(service.principal("bob"), verified=True))  # bob, as Slack vouches for him

        got = (await client.call_tool("get_request", {"request_id": request_id})).structured_content
    assert got["state"] == "succeeded"
    # PIDs are reused: a new worker is a new (PID, start time)
    assert all(h["pids_after"] and not {(w["pid"], w["started_at"]) for w in h["workers_before"]}
               & {(w["pid"], w["started_at"]) for w in h["workers_after"]} for h in got["hosts"])


@pytest.mark.anyio
async def test_over_stdio_a_broken_policy_still_serves_and_every_tool_says_why(tmp_path, farm_inventory, db_url):
    params = aspreset_mcp(tmp_path, farm_inventory, db_url)
    broken = tmp_path / "broken.toml"
    broken.write_text('[[rules]]\nname = "x"\neffect = "alow"\n')
    params.args[params.args.index("--policy") + 1] = str(broken)
    async with Client(params) as client:
        result = await client.call_tool("list_sites", {})
    assert result.is_error and "broken.toml" in result.content[0].text


def test_aspreset_mcp_refuses_a_principal_name_that_is_not_one_and_serves_nothing(capsys):
    from bot.cli import main

    assert main(["mcp", "--principal", "alice bob"]) == 2
    err = capsys.readouterr().err
    assert "MCP principal name 'alice bob'" in err and "mcp:" in err


@pytest.mark.anyio
async def test_aspreset_mcp_leaves_no_shell_open_on_any_host_after_it_exits(
    tmp_path, farm_inventory, db_url, demo_farm
):
    """The server reads the hosts itself (site_status) and its runner restarts them: both keep a
    shell per host while they work, and both delete them on the way out."""
    async with Client(aspreset_mcp(tmp_path, farm_inventory, db_url)) as client:
        status = await client.call_tool("site_status", {"site": "shop-web"})
        assert not status.is_error, status.content[0].text
        done = await client.call_tool("request_restart", {"site": "shop-web", "reason": "config", "note": "new string",
                                                          "changed_files": ["App_Config/connectionStrings.config"]})
        assert not done.is_error and done.structured_content["state"] == "succeeded", done.content[0].text
        kept = {name: host.open_shells for name, host in demo_farm.hosts.items()}
        assert kept["web01"] >= 1 and kept["web02"] >= 1, f"the server keeps a shell per host it read: {kept}"
    # the client's exit closed stdin: `aspreset mcp` ended (its runner ended before it answered)
    from tests.frontends.mcp.test_runner import wait_for

    await wait_for(lambda: all(host.open_shells == 0 for host in demo_farm.hosts.values()), timeout=10)
    assert {name: host.open_shells for name, host in demo_farm.hosts.items()} == dict.fromkeys(demo_farm.hosts, 0)
