"""Two `aspreset serve` processes, as operators run replicas, on one PostgreSQL database and the fake
Slack, A on "machine-a" (its config names it so) and B on this machine: a request made through A and
approved with a click through B updates one message; the same signed deploy webhook sent to A and
then B is refused the second time; machine A lost mid-run (its serve and the run's runner process
killed hard) lets B mark the run interrupted and update its message, from the run's liveness record
alone (no process id of machine A means anything on B), with each host's known state (web01 done
with its PIDs, web02's unknown) and a button that, clicked through B, restarts web02 only; a serve
killed hard mid-run does not stop its run: the runner process finishes and records it."""

from __future__ import annotations

import json
import os
import signal
import time
from contextlib import ExitStack
from pathlib import Path

import pytest
from serve_processes import running_message, serve
from slack_http import ALICE, BOB, SIGNING_SECRET, WEBHOOK_SECRET, SlackSender, deploy_hook
from slack_messages import approval_message, buttons

from bot.app.records import Request, RequestState
from bot.sim.cli import inventory_toml
from bot.sim.farm import Farm
from bot.slack.blocks import APPROVE, RETRY
from bot.store import SqlStore

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@pytest.mark.postgres
def test_two_serve_processes_share_one_message_one_webhook_and_an_interrupted_run(fake_slack, farm, tmp_path, pg_url):
    inventory = tmp_path / "farm.toml"
    inventory.write_text(inventory_toml(farm.client_inventory()), encoding="utf-8")
    with ExitStack() as stack:
        url_a, process_a = stack.enter_context(serve(fake_slack, inventory, pg_url, tmp_path / "a", "machine-a"))
        url_b, process_b = stack.enter_context(serve(fake_slack, inventory, pg_url, tmp_path / "b"))
        via_a = SlackSender(url_a, SIGNING_SECRET, fake_slack.response_url("a"))
        via_b = SlackSender(url_b, SIGNING_SECRET, fake_slack.response_url("b"))

        # asked through A, approved through B: one message, updated by B
        assert via_a.command(ALICE, "shop-web --reason hung").status == 200
        posted = approval_message(fake_slack)
        request_id, ts = buttons(posted)[0]["value"], posted.answer["ts"]
        assert via_b.click(BOB, APPROVE, request_id, "C0SHOP", ts).status == 200
        fake_slack.wait_for(lambda calls: any(c.method == "chat.update" and c.body.get("ts") == ts
                                              and "succeeded" in c.body.get("text", "") for c in calls),
                            timeout=60, what="A's message updated by B")
        assert len([c for c in fake_slack.of("chat.postMessage") if c.body.get("channel") == "C0SHOP"
                    and not c.body.get("thread_ts")]) == 1

        # the same signed webhook: taken by A, refused by B
        body = json.dumps({"site": "shop-web", "version": "7.1",
                           "changed_files": ["App_Config/connectionStrings.config"]}).encode()
        stamp = int(time.time())
        assert deploy_hook(url_a, WEBHOOK_SECRET, body, timestamp=stamp).status == 200
        again = deploy_hook(url_b, WEBHOOK_SECRET, body, timestamp=stamp)
        assert again.status == 409 and again.json()["error"] == "replayed"

        # machine A lost mid-run (its serve and the run's runner killed hard) once web01 finished and
        # while web02 recycles: B marks it interrupted once its liveness record lapses, and updates its
        # message with what is known of each host
        farm.host("web02").inject_hang(["apppool"])
        assert via_a.command(ALICE, "shop-web --scope apppool").status == 200
        message_ts = running_message(fake_slack)
        with SqlStore(pg_url) as store:
            deadline = time.monotonic() + 60
            while not (run := _web01_recorded(store)):
                assert time.monotonic() < deadline, "web01's end was not recorded"
                time.sleep(0.05)  # the poll interval of a wait with a deadline
        host, _, runner_pid = (run.owner or "").rpartition("/")
        assert host == "machine-a" and int(runner_pid) != process_a.pid, "the run is its runner's, on machine A"
        process_a.send_signal(signal.SIGKILL)
        os.kill(int(runner_pid), signal.SIGKILL)
        process_a.wait(timeout=30)
        updated = fake_slack.wait_for(
            lambda calls: next((c for c in calls if c.method == "chat.update" and c.body.get("ts") == message_ts
                                and "interrupted" in c.body.get("text", "")), None),
            timeout=120, what="B marking A's run interrupted on its message")
        assert "interrupted" in updated.text_everywhere
        web01 = next(h for h in (run.result or {})["hosts"] if h["host"] == "web01")
        shown = updated.text_everywhere
        assert "*web01* succeeded" in shown and f"PIDs {web01['pids_before'][0]} → {web01['pids_after'][0]}" in shown
        assert "*web02* state unknown" in shown
        [finish] = [b for b in buttons(updated) if b["action_id"] == RETRY]
        assert finish["text"]["text"] == "Finish on web02" and finish["value"] == run.id

        # its button, clicked through B: a new request for web02 alone; web01 is not recycled again
        farm.host("web02").clear_faults()
        web01_recycles = _pool_recycles(farm, "web01")
        assert via_b.click(ALICE, RETRY, run.id, "C0SHOP", message_ts).status == 200
        finished = fake_slack.wait_for(
            lambda calls: next((c for c in calls if c.method in ("chat.postMessage", "chat.update")
                                and "apppool restart" in c.body.get("text", "") and " is succeeded" in c.body["text"]
                                and run.id not in c.body["text"] and "web01" not in c.body["text"]), None),
            timeout=60, what="the finish's result")
        with SqlStore(pg_url) as store:
            [follow_up] = store.list(site="shop-web", limit=1)
        assert list(follow_up.hosts) == ["web02"] and follow_up.reason == f"retry of {run.id}"
        assert follow_up.id in finished.body["text"] and _pool_recycles(farm, "web01") == web01_recycles

        # B killed hard mid-run: its runner finishes the run and records it
        for sim in farm.hosts.values():
            sim.inject_latency(0.5)
        assert via_b.command(ALICE, "shop-web --scope apppool").status == 200
        running_message(fake_slack, message_ts, str(finished.body.get("ts") or finished.answer["ts"]))
        process_b.send_signal(signal.SIGKILL)
        process_b.wait(timeout=30)
        with SqlStore(pg_url) as store:
            [second] = [r for r in store.list(site="shop-web", limit=1)]
            deadline = time.monotonic() + 120
            while (ended := store.get(second.id)).state == RequestState.RUNNING:
                assert time.monotonic() < deadline, "the runner did not finish the run"
                time.sleep(0.2)  # the poll interval of a wait with a deadline
        assert ended.state == RequestState.SUCCEEDED, ended.result
        assert [h["outcome"] for h in (ended.result or {})["hosts"]] == ["succeeded", "succeeded"]
        for sim in farm.hosts.values():
            sim.inject_latency(0.0)


def _pool_recycles(farm: Farm, host: str) -> int:
    return sum(1 for r in farm.host(host).received if r.operation == "apppool")


def _web01_recorded(store: SqlStore) -> Request | None:
    """The running request once its record names web01 finished (bot.app.hosts_record)."""
    running = store.list(state=RequestState.RUNNING, limit=1)
    done = [h["host"] for h in (running[0].result or {}).get("hosts", ())] if running else []
    return running[0] if done == ["web01"] else None

