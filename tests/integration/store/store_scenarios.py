"""What the store tests share: a fixed clock, request shapes, and the bodies of the child processes
(multiprocessing, spawn: each child opens its own store on the same URL, like a second bot).

Children report through a queue, errors included, so a parent waits on a deadline and never on a
child that died quietly.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.app.records import LockKey, NewRequest, RequestState
from bot.store.sql import SqlStore
from commands.rungs import Rung

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DEADLINE_S = 60.0  # the longest any barrier or queue waits before the test fails

SPAWN = multiprocessing.get_context("spawn")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def new_request(
    *,
    site: str = "shop-web",
    hosts: tuple[str, ...] = ("web1", "web2"),
    pool: str = "ShopPool",
    rung: str = "apppool",
    requester: str = "U01ALICE",
    requester_person: str | None = "alice",
    approvals_needed: int = 1,
    expires_in_minutes: float = 30,
    reason: str | None = "hung",
) -> NewRequest:
    return NewRequest(
        site=site,
        rung=Rung(rung),
        hosts=hosts,
        pool=pool,
        requester=requester,
        requester_person=requester_person,
        origin="slack:C0SHOP",
        plan={"rung": rung, "hosts": list(hosts), "pool": pool, "method": "Restart-WebAppPool"},
        decision={"kind": "needs_approval" if approvals_needed else "allow", "reasons": ["test"]},
        approvals_needed=approvals_needed,
        approvers=("S0OPS",) if approvals_needed else (),
        expires_at=at(expires_in_minutes) if approvals_needed else None,
        reason=reason,
    )


def locks_of(new: NewRequest) -> tuple[LockKey, ...]:
    return new.default_locks()


def collect(results: Any, count: int, processes: list[Any] | None = None) -> list[tuple[Any, ...]]:
    """`count` reports from children, or fail at the deadline (or at the first error reported)."""
    deadline = time.monotonic() + DEADLINE_S
    reports: list[tuple[Any, ...]] = []
    while len(reports) < count:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            dead = [p.exitcode for p in processes or [] if not p.is_alive()]
            raise AssertionError(f"{len(reports)}/{count} reports before the deadline; exited: {dead}")
        try:
            report = results.get(timeout=min(remaining, 1.0))
        except queue.Empty:
            continue
        if report[0] == "error":
            raise AssertionError(f"child {report[1]} failed:\n{report[2]}")
        reports.append(report[1:])
    return reports


@contextmanager
def started(processes: list[Any]) -> Iterator[list[Any]]:
    """Start the children (daemons, so a failed test cannot leave them behind); kill any still
    alive when the block ends."""
    for process in processes:
        process.daemon = True
        process.start()
    try:
        yield processes
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()
                process.join(DEADLINE_S)


def join_all(processes: list[Any]) -> None:
    for process in processes:
        process.join(DEADLINE_S)
        assert not process.is_alive(), f"child {process.pid} still running after {DEADLINE_S} s"
        assert process.exitcode == 0, f"child {process.pid} exited {process.exitcode}"


def _reporting(results: Any, body: Callable[[], None]) -> None:
    try:
        body()
    except BaseException:
        results.put(("error", os.getpid(), traceback.format_exc()))


def approve_from_threads(url: str, request_id: str, approvers: list[str], barrier: Any, results: Any) -> None:
    """One process, one store, a thread per approver: each waits on the shared barrier, approves,
    then tries to claim the request for running (as the bot does after every approval)."""

    def body() -> None:
        store = SqlStore(url)

        def one(approver: str) -> None:
            def approve() -> None:
                barrier.wait(DEADLINE_S)
                outcome = store.add_approval(request_id, approver, at(1))
                claimed = store.claim_for_run(request_id, at(1), owner=f"pid-{os.getpid()}")
                results.put(("ok", approver, outcome.status.value, outcome.became_approved, claimed))

            _reporting(results, approve)

        threads = [threading.Thread(target=one, args=(name,)) for name in approvers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(DEADLINE_S)
        store.close()

    _reporting(results, body)


def run_like_a_bot(url: str, name: str, request_ids: list[str], barrier: Any, results: Any) -> None:
    """A bot process: for each request, claim it; if the claim is ours, "run" it and finish it."""

    def body() -> None:
        store = SqlStore(url)
        barrier.wait(DEADLINE_S)
        ran = []
        for request_id in request_ids:
            if store.claim_for_run(request_id, at(2), owner=name):
                store.finish(request_id, RequestState.SUCCEEDED, {"ran_by": name}, at(3))
                ran.append(request_id)
        store.close()
        results.put(("ok", name, ran))

    _reporting(results, body)


def claim_then_hang(url: str, request_id: str, owner: str, results: Any, never: Any) -> None:
    """Claim the request, tell the parent, then block until killed (`never` is never set)."""

    def body() -> None:
        store = SqlStore(url)
        claimed = store.claim_for_run(request_id, at(1), owner=owner)
        results.put(("ok", claimed))
        never.wait()

    _reporting(results, body)


def open_store_at_once(url: str, barrier: Any, results: Any) -> None:
    """Several processes opening (and so migrating) one fresh database at the same moment."""

    def body() -> None:
        barrier.wait(DEADLINE_S)
        store = SqlStore(url)
        store.close()
        results.put(("ok", os.getpid()))

    _reporting(results, body)


def hold_write_transaction(url: str, request_id: str, results: Any, never: Any) -> None:
    """Take the write lock (SQLite) / the request's row lock (PostgreSQL) with a change not yet
    committed, tell the parent, then block until killed."""

    def body() -> None:
        from sqlalchemy import select, update

        from bot.store.database import WRITE_OPTION, create_store_engine, parse_url
        from bot.store.schema import requests

        engine = create_store_engine(parse_url(url))
        conn = engine.connect()
        conn.execution_options(**{WRITE_OPTION: True})
        conn.begin()
        conn.execute(select(requests.c.id).where(requests.c.id == request_id).with_for_update())
        conn.execute(update(requests).where(requests.c.id == request_id).values(owner="half-done"))
        results.put(("ok", "holding"))
        never.wait()

    _reporting(results, body)
