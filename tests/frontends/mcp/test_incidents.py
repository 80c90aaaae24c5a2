"""list_incidents: an assistant asked "why is shop-web slow" sees what the health watch saw, with the
evidence, the restart it offers, and which request recovered a closed one; every result is one a
strict client accepts (checked against the tool's outputSchema with jsonschema)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jsonschema
import pytest
from mcp import Client

from bot.app.watch.incidents import BadProbe

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


async def test_an_assistant_sees_the_open_and_closed_incidents_with_their_evidence(server, service):
    incidents = service.incidents
    assert incidents is not None
    hung, _ = incidents.record_bad(BadProbe(
        site="shop-web", host="web02", kind="hung", since=NOW, at=NOW + timedelta(minutes=2), probes=3,
        evidence="no answer within 10 s while worker 4004 lives", first_evidence="no answer within 10 s",
        offer="worker"))
    slow, _ = incidents.record_bad(BadProbe(
        site="shop-web", host="web01", kind="slow", since=NOW - timedelta(hours=1), at=NOW, probes=3,
        evidence="answered HTTP 200 in 2400 ms (slow over 2000 ms)", first_evidence="answered in 2300 ms"))
    incidents.close_incident(slow.id, NOW + timedelta(minutes=5), "r-abc234")
    async with Client(server) as client:
        schema = next(t.output_schema for t in (await client.list_tools()).tools if t.name == "list_incidents")
        every = await client.call_tool("list_incidents", {"site": "shop-web"})
        still = await client.call_tool("list_incidents", {"open_only": True})
        unknown = await client.call_tool("list_incidents", {"site": "shop-wbe"})
    for result in (every, still):
        assert not result.is_error
        jsonschema.validate(result.structured_content, schema, cls=jsonschema.Draft202012Validator)
    assert [i["id"] for i in every.structured_content["incidents"]] == [hung.id, slow.id]  # newest first
    first = every.structured_content["incidents"][0]
    assert (first["kind"], first["state"], first["offer"]) == ("hung", "open", "worker")
    assert "worker 4004 lives" in first["evidence"]
    assert every.structured_content["incidents"][1]["recovered_by"] == "r-abc234"
    text = every.content[0].text
    assert "web02: hung since 2026-12-07 09:00Z" in text and "offered: worker" in text
    assert "recovered by request r-abc234" in text
    assert [i["id"] for i in still.structured_content["incidents"]] == [hung.id]
    assert unknown.is_error and "unknown site 'shop-wbe'" in unknown.content[0].text
