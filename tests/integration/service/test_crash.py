"""A bot process killed with SIGKILL in the middle of a restart: its request is marked interrupted
when the next process starts, its locks are freed, and it is never re-run by itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from bot.bootstrap import reap_dead_local_runs
from bot.sim.cli import inventory_toml
from bot.store import RequestState, SqlStore
from commands.model import Reason, RestartRequest
from policies.identity import Principal

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def test_a_run_cut_off_by_sigkill_is_marked_interrupted_and_its_pool_freed(
    make_service, demo_farm, farm_inventory, store_url, tmp_path, clock, wait_for_output
):
    clock.now = datetime.now(UTC)  # the approver process below reads the real clock
    service = make_service()
    request_id = service.request(RestartRequest(site="shop-web", reason=Reason.HUNG), Principal(id="U01ALICE"),
                                 "cli").id
    farm_file = tmp_path / "farm.toml"
    farm_file.write_text(inventory_toml(farm_inventory))
    demo_farm.host("web01").inject_hang(["worker"])  # the worker kill never finishes on web01

    approver = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "approve", request_id, "--as", "bob", "--inventory", str(farm_file),
         "--policy", str(EXAMPLES / "policy.toml"), "--db", store_url],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env={**os.environ, "ASPRESET_CONFIG": "", "ASPRESET_LOG_LEVEL": "info"},
    )
    store = SqlStore(store_url)
    try:
        # the store logs each audit event after it commits: wait for the claim that starts the kill
        wait_for_output(approver.stderr, b'"action": "started"')
        assert store.get(request_id).state == RequestState.RUNNING
        approver.send_signal(signal.SIGKILL)
        approver.wait(timeout=10)

        assert store.get(request_id).state == RequestState.RUNNING  # nobody has noticed yet
        assert reap_dead_local_runs(store) == [request_id]
        assert store.get(request_id).state == RequestState.INTERRUPTED
        assert reap_dead_local_runs(store) == []

        demo_farm.host("web01").clear_faults()
        after = service.request(RestartRequest(site="shop-web"), Principal(id="U01ALICE"), "cli")
        assert after.state == "succeeded", "the interrupted request's locks are free"
        assert store.get(request_id).state == RequestState.INTERRUPTED, "never re-run by itself"
        actions = [e.action.value for e in store.audit(request_id=request_id)]
        assert actions[-1] == "interrupted"
    finally:
        if approver.poll() is None:
            approver.kill()
        store.close()
