"""Two `aspreset serve` processes, as operators run replicas, on one PostgreSQL database and the fake
Slack: a request made through A and approved with a click through B updates one message; the same
signed deploy webhook sent to A and then B is refused the second time; killing A mid-run lets B mark
the run interrupted and update its message (B's sweeper sees that A's process is gone)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from child_output import read_until
from slack_http import ALICE, BOB, SIGNING_SECRET, WEBHOOK_SECRET, SlackSender, deploy_hook
from slack_messages import approval_message, buttons

from bot.sim.cli import inventory_toml
from bot.slack.blocks import APPROVE

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@contextmanager
def serve(fake_slack, inventory: Path, db_url: str, workdir: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    env = dict(os.environ, SLACK_BOT_TOKEN=fake_slack.token, SLACK_SIGNING_SECRET=SIGNING_SECRET,
               SLACK_API_BASE_URL=fake_slack.base_url, ASPRESET_WEBHOOK_SECRET=WEBHOOK_SECRET)
    env.pop("ASPRESET_CONFIG", None)
    workdir.mkdir(exist_ok=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--port", "0", "--policy", str(EXAMPLES / "policy.toml"),
         "--inventory", str(inventory), "--db", db_url],
        cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert process.stderr is not None
        port = int(read_until(process.stderr, rb"listening on 127\.0\.0\.1:(\d+) ").group(1))
        yield f"http://127.0.0.1:{port}", process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
        if process.stderr:
            process.stderr.close()


@pytest.mark.postgres
def test_two_serve_processes_share_one_message_one_webhook_and_an_interrupted_run(fake_slack, farm, tmp_path, pg_url):
    inventory = tmp_path / "farm.toml"
    inventory.write_text(inventory_toml(farm.client_inventory()), encoding="utf-8")
    with ExitStack() as stack:
        url_a, process_a = stack.enter_context(serve(fake_slack, inventory, pg_url, tmp_path / "a"))
        url_b, _ = stack.enter_context(serve(fake_slack, inventory, pg_url, tmp_path / "b"))
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

        # A killed mid-run: B marks it interrupted and updates its message
        for sim in farm.hosts.values():
            sim.inject_latency(0.5)
        assert via_a.command(ALICE, "shop-web --scope apppool").status == 200
        running = fake_slack.wait_for(
            lambda calls: next((c for c in calls if c.method in ("chat.postMessage", "chat.update")
                                and "apppool restart" in c.body.get("text", "")
                                and "is running" in c.body.get("text", "")), None), what="the run on A")
        message_ts = running.body.get("ts") or running.answer["ts"]
        process_a.send_signal(signal.SIGKILL)
        process_a.wait(timeout=30)
        updated = fake_slack.wait_for(
            lambda calls: next((c for c in calls if c.method == "chat.update" and c.body.get("ts") == message_ts
                                and "interrupted" in c.body.get("text", "")), None),
            timeout=60, what="B marking A's run interrupted on its message")
        assert "interrupted" in updated.text_everywhere
        for sim in farm.hosts.values():
            sim.inject_latency(0.0)
