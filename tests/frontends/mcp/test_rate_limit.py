"""An assistant in a loop cannot restart a site over and over: at most N requests of one site by one
principal within the window, any rung (policy `[limits]`; 3 in 10 minutes for `mcp:` principals by
default, no limit for people unless set), refused with when the next one is possible."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from mcp import Client

from commands.model import Reason, RestartRequest
from policies.decision import Allow, Refuse, decide
from policies.identity import Principal
from policies.planner import plan
from policies.policy import Limits, Policy

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_the_fourth_request_within_ten_minutes_is_refused_saying_when_the_next_one_is_possible(
    farm_inventory,
):
    policy = Policy.model_validate({"rules": [{"name": "all", "effect": "allow", "rungs": ["appdomain"]}]})
    the_plan = plan(RestartRequest(site="shop-web", reason=Reason.CONFIG), farm_inventory, policy)
    assistant = Principal(id="mcp:assistant")
    times = [NOW - timedelta(minutes=9), NOW - timedelta(minutes=5), NOW - timedelta(minutes=1)]
    assert isinstance(decide(the_plan, assistant, policy, NOW, recent_requests=times[1:]), Allow)
    refused = decide(the_plan, assistant, policy, NOW, recent_requests=times)
    assert isinstance(refused, Refuse) and refused.rule == "limits.assistant_requests_per_site"
    assert "asked for 3 restarts of shop-web in the last 10 minutes" in refused.reasons[0]
    assert "the next one can be asked for at 10:01:00 UTC" in refused.reasons[0]  # the oldest leaves the window
    old = [NOW - timedelta(minutes=11)] * 5  # outside the window: not counted
    assert isinstance(decide(the_plan, assistant, policy, NOW, recent_requests=old), Allow)
    person = Principal(id="U01ALICE")
    assert isinstance(decide(the_plan, person, policy, NOW, recent_requests=times * 5), Allow), "no limit for people"


def test_the_limits_are_the_policys_to_set():
    limits = Limits.model_validate({"requests_per_site": 5, "assistant_requests_per_site": 1,
                                    "requests_window_minutes": 60})
    assert limits.requests_cap(assistant=True) == ("limits.assistant_requests_per_site", 1)
    assert limits.requests_cap(assistant=False) == ("limits.requests_per_site", 5)
    with pytest.raises(ValueError, match="requests_window_minutes"):
        Limits.model_validate({"requests_window_minutes": 0})


@pytest.mark.anyio
async def test_over_mcp_the_fourth_restart_of_a_site_in_ten_minutes_is_a_tool_error(server, service, demo_farm):
    arguments = {"site": "shop-web", "note": "new connection string",
                 "changed_files": ["App_Config/connectionStrings.config"]}
    async with Client(server) as client:
        for _ in range(3):
            done = await client.call_tool("request_restart", arguments)
            assert not done.is_error, done.content[0].text
        fourth = await client.call_tool("request_restart", arguments)
        plan_now = await client.call_tool("plan_restart",
                                          {"site": "shop-web", "changed_files": arguments["changed_files"]})
    assert fourth.is_error and fourth.structured_content["state"] == "refused"
    text = fourth.content[0].text
    assert "limits.assistant_requests_per_site = 3" in text and "the next one can be asked for at" in text
    assert plan_now.structured_content["decision"]["outcome"] == "refuse", "the plan says so before asking"
