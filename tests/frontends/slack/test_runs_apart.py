"""`aspreset serve` runs each restart in a runner process of its own (bot/runner): stopped with SIGTERM
mid-run, it still finishes the run (the runner goes on, serve waits for it) and updates the message
before it exits; and a run whose front end died (the runner finished it alone, nobody left to update
its message) has its end shown on its message by the deployment's sweeper, once."""

from __future__ import annotations

import signal
from datetime import UTC, datetime, timedelta

from dead_runs import recorded_apppool_request
from serve_processes import running_message, serve
from slack_http import ALICE, SIGNING_SECRET, SlackSender

from bot.app.records import RequestState
from bot.sim.cli import inventory_toml
from bot.store import SqlStore
from bot.store.shared import SqlShared


def test_serve_stopped_mid_run_finishes_the_run_in_its_runner_and_shows_the_end_before_it_exits(
    fake_slack, farm, tmp_path
):
    inventory = tmp_path / "farm.toml"
    inventory.write_text(inventory_toml(farm.client_inventory()), encoding="utf-8")
    db_url = f"sqlite:///{tmp_path / 'aspreset.db'}"
    for sim in farm.hosts.values():
        sim.inject_latency(0.3)
    with serve(fake_slack, inventory, db_url, tmp_path / "serve") as (url, process):
        assert SlackSender(url, SIGNING_SECRET, fake_slack.response_url("s")).command(
            ALICE, "shop-web --scope apppool").status == 200
        ts = running_message(fake_slack)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=120) == 0
    with SqlStore(db_url) as store:
        [run] = store.list(site="shop-web")
    assert run.state is RequestState.SUCCEEDED, run.result
    assert [h["outcome"] for h in (run.result or {})["hosts"]] == ["succeeded", "succeeded"]
    assert any(c.method == "chat.update" and c.body.get("ts") == ts and " is succeeded" in c.body.get("text", "")
               for c in fake_slack.calls), "the end was shown before serve exited"
    for sim in farm.hosts.values():
        sim.inject_latency(0.0)


def test_a_run_that_ended_with_nobody_to_show_it_is_shown_on_its_message_once(start_bot, fake_slack, farm, tmp_path,
                                                                              clock):
    db_url = f"sqlite:///{tmp_path / 'aspreset.db'}"
    store = SqlStore(db_url)
    request, now = recorded_apppool_request(store, farm)
    fake_slack.messages[("C0SHOP", "1699999999.000001")] = {"text": "running"}  # what the dead front end posted
    SqlShared(store).remember_message(request.id, "C0SHOP", "1699999999.000001", now)
    assert store.claim_for_run(request.id, now, owner="machine-a/4242")
    assert store.finish(request.id, RequestState.SUCCEEDED, {"hosts": []}, now)  # its runner, alone
    store.close()

    bot = start_bot(db_url=db_url, clock=clock, sweep_every_s=0.05)
    assert bot.serving.sweeper is not None
    bot.serving.sweeper.sweep_once()
    bot.serving.notifier.flush()
    assert fake_slack.of("chat.update") == [], "a live front end gets a minute to show it itself"

    clock.now = datetime.now(UTC) + timedelta(minutes=2)
    updated = fake_slack.wait_for(
        lambda calls: next((c for c in calls if c.method == "chat.update"
                            and c.body.get("ts") == "1699999999.000001"), None), what="the end shown")
    assert " is succeeded" in updated.body["text"]
    assert [bot.serving.sweeper.sweep_once() for _ in range(3)] == [[], [], []]
    bot.serving.notifier.flush()
    assert len(fake_slack.of("chat.update")) == 1 and fake_slack.of("chat.postMessage") == []
