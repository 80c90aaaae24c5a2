"""Beside the tools: prompts for the common jobs and each request as a resource."""

from __future__ import annotations

import json

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

pytestmark = pytest.mark.anyio


async def test_the_prompts_walk_an_assistant_through_a_deploy_and_a_hung_site_without_approving(server):
    async with Client(server) as client:
        names = {prompt.name for prompt in (await client.list_prompts()).prompts}
        deploy = await client.get_prompt("after_a_deploy", {"site": "shop-web",
                                                            "changed_files": "App_Config/connectionStrings.config"})
        hung = await client.get_prompt("site_is_hung", {"site": "shop-web"})
    assert names == {"after_a_deploy", "site_is_hung"}
    deploy_text = deploy.messages[0].content.text
    hung_text = hung.messages[0].content.text
    assert "plan_restart" in deploy_text and "request_restart" in deploy_text and "shop-web" in deploy_text
    assert "site_status" in hung_text and "reason hung" in hung_text
    for text in (deploy_text, hung_text):
        assert "cannot approve" in text and "aspreset approve" not in text and "/recycle" not in text


async def test_a_request_is_a_resource_with_the_json_get_request_gives(server, demo_farm):
    async with Client(server) as client:
        templates = (await client.list_resource_templates()).resource_templates
        waiting = await client.call_tool("request_restart", {"site": "shop-web", "reason": "hung", "note": "it hangs"})
        request_id = waiting.structured_content["id"]
        read = await client.read_resource(f"aspreset://requests/{request_id}")
        with pytest.raises(MCPError, match="no request 'r-nosuch'"):
            await client.read_resource("aspreset://requests/r-nosuch")
    assert [t.uri_template for t in templates] == ["aspreset://requests/{request_id}"]
    body = json.loads(read.contents[0].text)
    assert body["id"] == request_id and body["state"] == "awaiting_approval"
    assert read.contents[0].mime_type == "application/json"


async def test_locked_says_which_request_holds_the_site_whose_it_is_until_when_and_what_to_do(server, demo_farm):
    async with Client(server) as client:
        waiting = await client.call_tool("request_restart", {"site": "shop-web", "reason": "hung", "note": "it hangs"})
        busy = await client.call_tool("request_restart", {"site": "shop-web", "reason": "memory", "note": "leaks"})
    request_id = waiting.structured_content["id"]
    text = busy.content[0].text
    assert busy.is_error and busy.structured_content is None
    assert text.startswith(f"locked: {request_id} (worker restart of shop-web) is your own request")
    assert "waiting for approval until" in text and "UTC" in text
    assert "cancel_request withdraws it, then ask again" in text and text.endswith("[locked]")
