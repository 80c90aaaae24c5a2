"""A restart that has started is finished and recorded even when the client cancels the call
half-way (an assistant giving up, a closed window)."""

from __future__ import annotations

import threading

import anyio
import anyio.to_thread
import pytest
from mcp import Client

from bot.app.events import EventKind, RequestEvent
from bot.app.records import RequestState
from bot.mcp.server import build_server
from bot.mcp.services import ServiceSource, assistant, fixed

pytestmark = pytest.mark.anyio


class Milestones:
    def __init__(self) -> None:
        self.started = threading.Event()
        self.finished = threading.Event()
        self.request_id: str | None = None

    def notify(self, event: RequestEvent) -> None:
        if event.kind == EventKind.STARTED:
            self.request_id = event.request_id
            self.started.set()
        if event.kind == EventKind.FINISHED:
            self.finished.set()


async def test_a_call_cancelled_mid_restart_still_finishes_the_restart_and_records_it(
    make_service, demo_farm
):
    heard = Milestones()
    service = make_service(notifier=heard)
    for host in ("web01", "web02"):
        demo_farm.host(host).inject_latency(0.2)  # the run is still going when the call is cancelled
    server = build_server(ServiceSource.of(service), fixed(assistant("assistant")))
    async with Client(server) as client, anyio.create_task_group() as group:
        group.start_soon(client.call_tool, "request_restart", {"site": "shop-web", "reason": "memory", "note": "leaks"})
        assert await anyio.to_thread.run_sync(heard.started.wait, 30)
        group.cancel_scope.cancel()
    assert heard.request_id is not None
    assert await anyio.to_thread.run_sync(heard.finished.wait, 30)
    request = service.store.get(heard.request_id)
    assert request.state == RequestState.SUCCEEDED
    assert [h["outcome"] for h in (request.result or {})["hosts"]] == ["succeeded", "succeeded"]
