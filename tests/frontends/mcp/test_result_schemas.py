"""Every result of every tool is one a strict client accepts. The TypeScript SDK (Claude Code,
Cursor, the MCP Inspector) checks any `structuredContent` against the tool's `outputSchema`, error
or not, and throws the result away when it does not match; a result that is not an error must carry
structured content. Here each tool is driven through successes, refusals, waiting requests, failed
hosts, unknown ids, bad input and a store that cannot be read, and each result is checked the way
those clients check it, with `jsonschema`."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from mcp import Client
from mcp.types import CallToolResult

from bot.bootstrap import build
from bot.config import Settings, WinRMSettings
from bot.mcp.server import build_server
from bot.mcp.services import ServiceSource, assistant, fixed
from policies.files import load_policy
from tests.frontends.mcp.conftest import POLICY
from tests.frontends.mcp.test_fail_closed import serve

pytestmark = pytest.mark.anyio


@pytest.fixture
def server(farm_inventory, db_url, tmp_path):  # type: ignore[no-untyped-def]
    """The demo policy with room for the many requests of shop-web below (its rate limit is 3)."""
    policy = load_policy(POLICY)
    roomy = policy.model_copy(update={"limits": policy.limits.model_copy(update={"assistant_requests_per_site": 50})})
    settings = Settings.of(roomy, farm_inventory, workdir=tmp_path, db_url=db_url,
                           winrm=WinRMSettings(command_timeout_s=20), owner="mcp-test")
    with build(settings) as runtime:
        yield build_server(ServiceSource.of(runtime.service), fixed(assistant("assistant")))

CONFIG_CHANGE = ["App_Config/connectionStrings.config"]

CALLS: list[tuple[str, dict[str, Any]]] = [
    ("list_sites", {}),
    ("site_status", {"site": "shop-web"}),
    ("site_status", {"site": "no-such-site"}),
    ("plan_restart", {"site": "shop-web", "changed_files": CONFIG_CHANGE}),
    ("plan_restart", {"site": "shop-web", "reason": "hung"}),
    ("plan_restart", {"site": "shop-web", "scope": "server"}),
    ("plan_restart", {"site": "shop-web", "note": "iisreset now"}),
    ("plan_restart", {"site": "no-such-site"}),
    ("plan_restart", {"site": "intranet", "reason": "gac"}),
    ("request_restart", {"site": "shop-web", "note": "new connection string", "changed_files": CONFIG_CHANGE}),
    ("request_restart", {"site": "shop-web", "note": "again", "changed_files": CONFIG_CHANGE}),
    ("request_restart", {"site": "shop-web", "reason": "hung", "note": "it hangs"}),
    ("request_restart", {"site": "shop-web", "reason": "memory", "note": "locked by the waiting kill"}),
    ("request_restart", {"site": "shop-web", "note": "x", "scope": "server"}),
    ("request_restart", {"site": "shop-web", "note": "restart IIS please"}),
    ("request_restart", {"site": "intranet", "reason": "gac", "note": "new GAC dll"}),
    ("request_restart", {"site": "no-such-site", "note": "x"}),
    ("request_restart", {"site": "shop web", "note": "x"}),
    ("request_restart", {"site": "shop-web", "note": "two\nlines"}),
    ("get_request", {"request_id": "r-nosuch"}),
    ("list_requests", {}),
    ("list_requests", {"state": "awaiting_approval"}),
    ("list_requests", {"site": "shop web"}),
    ("cancel_request", {"request_id": "r-nosuch"}),
    ("list_incidents", {}),
    ("list_incidents", {"site": "shop-web", "open_only": True}),
    ("list_incidents", {"site": "no-such-site"}),
    ("list_incidents", {"site": "shop web"}),
]


def check_as_a_strict_client_does(tool: str, schema: dict[str, Any] | None, result: CallToolResult) -> None:
    assert result.content and result.content[0].type == "text" and result.content[0].text, tool
    if schema is None:
        return
    if not result.is_error:
        assert result.structured_content is not None, f"{tool}: a result that is not an error needs its content"
    if result.structured_content is not None:
        jsonschema.validate(result.structured_content, schema, cls=jsonschema.Draft202012Validator)


async def test_every_result_of_every_tool_matches_its_output_schema(server, demo_farm):
    seen: dict[str, int] = {}
    async with Client(server) as client:
        schemas = {tool.name: tool.output_schema for tool in (await client.list_tools()).tools}
        for schema in schemas.values():
            if schema is not None:
                jsonschema.Draft202012Validator.check_schema(schema)

        async def call(tool: str, arguments: dict[str, Any]) -> CallToolResult:
            result = await client.call_tool(tool, arguments)
            check_as_a_strict_client_does(tool, schemas[tool], result)
            seen[tool] = seen.get(tool, 0) + 1
            return result

        ids = []
        for tool, arguments in CALLS:
            result = await call(tool, arguments)
            if tool == "request_restart" and result.structured_content:
                ids.append(result.structured_content["id"])
        for request_id in ids:
            await call("get_request", {"request_id": request_id})
            await call("cancel_request", {"request_id": request_id})
        demo_farm.host("web02").inject_drop()  # a host that does not answer: a failed restart
        failed = await call("request_restart", {"site": "shop-web", "note": "web02 is down", "reason": "config"})
        assert failed.is_error and failed.structured_content["state"] in ("failed", "partially_failed")
        await call("get_request", {"request_id": failed.structured_content["id"]})
        await call("list_requests", {})
    assert set(seen) == set(schemas), "every tool was called"
    assert len(ids) >= 5


async def test_every_tool_fails_closed_with_results_a_strict_client_accepts(tmp_path, farm_inventory):
    broken = serve(tmp_path, farm_inventory, policy_text='[[rules]]\nname = "x"\neffect = "alow"\n')
    async with Client(broken) as client:
        tools = (await client.list_tools()).tools
        for tool in tools:
            arguments = next((arguments for name, arguments in CALLS if name == tool.name), {})
            result = await client.call_tool(tool.name, arguments)
            assert result.is_error, tool.name
            check_as_a_strict_client_does(tool.name, tool.output_schema, result)
