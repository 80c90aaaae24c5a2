"""A restart asked for over stdio runs in a runner process of its own, so the client's shutdown of
`aspreset mcp` (the SDK's: close stdin, wait 2 s, SIGTERM the process group, SIGKILL 2 s later)
never leaves it half-done; a call still running after `--answer-after` answers with the request as
it stands; a call with a progress token hears each host."""

from __future__ import annotations

import time

import anyio
import pytest
from mcp import Client

from bot.app.records import RequestState
from tests.frontends.mcp.test_stdio import aspreset_mcp

pytestmark = pytest.mark.anyio

SLOW_RESTART = {"site": "shop-web", "reason": "memory", "note": "it leaks"}  # apppool recycle on both hosts
TERMINAL = {RequestState.SUCCEEDED, RequestState.FAILED, RequestState.PARTIALLY_FAILED, RequestState.INTERRUPTED}


def slow(demo_farm, seconds: float = 0.5) -> None:
    """Every WS-Management answer late: the recycle of both hosts takes several seconds."""
    for host in ("web01", "web02"):
        demo_farm.host(host).inject_latency(seconds)


async def wait_for(condition, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    """`condition()`'s first truthy value, looked at every 50 ms until `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        await anyio.sleep(0.05)  # the poll interval of a wait with a deadline, not a wait itself
    raise AssertionError(f"not within {timeout} s")


async def test_a_client_that_hangs_up_mid_restart_leaves_it_finished_and_recorded(
    tmp_path, farm_inventory, db_url, demo_farm, service
):
    slow(demo_farm, 1.0)  # the restart outlasts the client's whole shutdown (about 4 s)
    params = aspreset_mcp(tmp_path, farm_inventory, db_url)
    async with anyio.create_task_group() as group:

        async def call() -> None:
            async with Client(params) as client:
                await client.call_tool("request_restart", SLOW_RESTART)

        group.start_soon(call)
        running = await wait_for(lambda: service.store.list(state=RequestState.RUNNING, limit=1))
        group.cancel_scope.cancel()  # the client gives up: its stdio shutdown stops `aspreset mcp`
    # the shutdown is over (stdin closed, SIGTERM and SIGKILL to the server's group, the process reaped)
    request_id = running[0].id
    assert service.store.get(request_id).state == RequestState.RUNNING, "still running after the shutdown"

    done = await wait_for(lambda: (r := service.store.get(request_id)).state in TERMINAL and r)
    assert done.state == RequestState.SUCCEEDED, done.result
    hosts = (done.result or {})["hosts"]
    assert [h["host"] for h in hosts] == ["web01", "web02"]
    assert all(h["outcome"] == "succeeded" and h["pids_after"] for h in hosts)


async def test_a_restart_still_running_after_answer_after_answers_running_and_get_request_follows_it(
    tmp_path, farm_inventory, db_url, demo_farm
):
    slow(demo_farm)
    params = aspreset_mcp(tmp_path, farm_inventory, db_url, "--answer-after", "1")
    async with Client(params) as client:
        first = await client.call_tool("request_restart", SLOW_RESTART)
        assert not first.is_error, first.content[0].text
        assert first.structured_content["state"] == "running"
        assert "get_request" in first.content[0].text and "still running after 1 s" in first.content[0].text
        request_id = first.structured_content["id"]

        async def ended():  # type: ignore[no-untyped-def]
            got = await client.call_tool("get_request", {"request_id": request_id})
            return got if got.structured_content["state"] != "running" else None

        deadline = time.monotonic() + 60
        while (got := await ended()) is None:
            assert time.monotonic() < deadline
            await anyio.sleep(0.2)  # the poll interval; the deadline above bounds the wait
    assert got.structured_content["state"] == "succeeded"
    assert [h["outcome"] for h in got.structured_content["hosts"]] == ["succeeded", "succeeded"]


async def test_a_call_with_a_progress_token_hears_each_host_start_and_finish(tmp_path, farm_inventory, db_url,
                                                                             demo_farm):
    heard: list[tuple[float, float | None, str | None]] = []

    async def progress(value: float, total: float | None, message: str | None) -> None:
        heard.append((value, total, message))

    async with Client(aspreset_mcp(tmp_path, farm_inventory, db_url)) as client:
        done = await client.call_tool("request_restart", SLOW_RESTART, progress_callback=progress)
    assert done.structured_content["state"] == "succeeded"
    assert [value for value, _, _ in heard] == [1, 2, 3, 4] and {total for _, total, _ in heard} == {4}
    messages = [message or "" for _, _, message in heard]
    assert sum("started" in m for m in messages) == 2 and sum("succeeded" in m for m in messages) == 2
    assert "2 of 2 hosts done" in messages[-1]
