"""A restart that a `serve` process claimed and then died running: what the replica tests start from."""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from slack_http import ALICE

from bot.app.records import NewRequest, Request
from bot.store import SqlStore
from commands.model import RestartRequest
from commands.rungs import Rung
from policies.files import load_policy
from policies.planner import plan

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def recorded_apppool_request(store: SqlStore, farm) -> tuple[Request, datetime]:  # type: ignore[no-untyped-def]
    """shop-web's apppool recycle as alice asked for it in #shop, recorded and allowed."""
    the_plan = plan(RestartRequest(site="shop-web", scope=Rung.APPPOOL), farm.client_inventory(),
                    load_policy(EXAMPLES / "policy.toml"))
    new = NewRequest(site="shop-web", rung=Rung.APPPOOL, hosts=the_plan.hosts, pool=the_plan.pool,
                     requester=ALICE, origin="slack:C0SHOP", plan=the_plan.to_dict(),
                     decision={"outcome": "allow", "rule": "test", "reasons": []})
    now = datetime.now(UTC)
    return store.create_request(new, new.default_locks(), now), now


def claim_for_a_dead_process(store: SqlStore, request: Request, now: datetime) -> None:
    """Mark `request` running under a process of this machine that has already exited."""
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    assert store.claim_for_run(request.id, now, owner=f"{socket.gethostname()}/{gone.stdout.strip()}")
