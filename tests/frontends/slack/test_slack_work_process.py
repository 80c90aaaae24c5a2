"""`aspreset serve` as operators run it: the front end acks, and the work after each ack (a command's
reply, a click's effect) runs in its one Slack work process (`--slack-work`, bot/slack/work_process.py).
Shown by stopping that process (SIGSTOP): the acks still come, the work waits for it. A work process
that dies is replaced, and the person whose work it had is told; SIGTERM to serve lets the work it
has finish before serve exits."""

from __future__ import annotations

import os
import signal
import time

from serve_processes import queued_for, serve, slack_work_pid
from slack_http import ALICE, BOB, SIGNING_SECRET, SlackSender
from slack_messages import approval_message, buttons, reply_saying

from bot.sim.cli import inventory_toml
from bot.slack.blocks import APPROVE
from bot.slack.work_process import LOST


def _inventory(farm, tmp_path):  # type: ignore[no-untyped-def]
    inventory = tmp_path / "farm.toml"
    inventory.write_text(inventory_toml(farm.client_inventory()), encoding="utf-8")
    return inventory


def _replies_about(fake_slack, site: str) -> list:  # type: ignore[no-untyped-def]
    return [c for c in fake_slack.calls if c.method == "respond" and site in c.text_everywhere
            and LOST not in c.text_everywhere]


def test_a_command_and_a_click_are_acked_by_serve_and_worked_on_in_its_slack_work_process(fake_slack, farm, tmp_path):
    with serve(fake_slack, _inventory(farm, tmp_path), f"sqlite:///{tmp_path / 'aspreset.db'}",
               tmp_path / "serve") as (url, process):
        work = slack_work_pid(process.pid)
        slack = SlackSender(url, SIGNING_SECRET, fake_slack.response_url("alice"))
        os.kill(work, signal.SIGSTOP)
        try:
            ack = slack.command(ALICE, "shop-web --reason hung")
            assert ack.status == 200 and "Planning shop-web" in ack.body.decode()
            assert not fake_slack.of("chat.postMessage"), "the request's message came from the stopped process"
        finally:
            os.kill(work, signal.SIGCONT)
        posted = approval_message(fake_slack)
        request_id, ts = buttons(posted)[0]["value"], posted.answer["ts"]

        os.kill(work, signal.SIGSTOP)
        try:
            assert slack.click(BOB, APPROVE, request_id, "C0SHOP", ts).status == 200
            assert not fake_slack.of("chat.update")
        finally:
            os.kill(work, signal.SIGCONT)
        fake_slack.wait_for(lambda calls: any(c.method == "chat.update" and c.body.get("ts") == ts
                                              and " is succeeded" in c.body.get("text", "") for c in calls),
                            timeout=60, what="the approved restart's end on its message")


def test_a_slack_work_process_that_dies_is_replaced_and_its_asker_is_told(fake_slack, farm, tmp_path):
    with serve(fake_slack, _inventory(farm, tmp_path), f"sqlite:///{tmp_path / 'aspreset.db'}",
               tmp_path / "serve") as (url, process):
        work = slack_work_pid(process.pid)
        os.kill(work, signal.SIGSTOP)
        lost = SlackSender(url, SIGNING_SECRET, fake_slack.response_url("lost"))
        assert lost.command(ALICE, "status shop-web").status == 200
        deadline = time.monotonic() + 30
        while not queued_for(work):  # the job is in its pipe, not yet read
            assert time.monotonic() < deadline, "the job never reached the work process's stdin"
            os.sched_yield()
        os.kill(work, signal.SIGKILL)

        told = reply_saying(fake_slack, "may not have finished")
        assert told.body["text"] == LOST and told.body["response_type"] == "ephemeral"
        again = SlackSender(url, SIGNING_SECRET, fake_slack.response_url("again"))
        assert again.command(ALICE, "status intranet").status == 200
        fake_slack.wait_for(lambda calls: _replies_about(fake_slack, "intranet"), timeout=60,
                            what="the next command's reply, from the new work process")
        assert slack_work_pid(process.pid, other_than=work) != work
        assert process.poll() is None
    assert len([c for c in fake_slack.calls if c.method == "respond" and LOST in c.text_everywhere]) == 1


def test_sigterm_lets_the_work_in_the_slack_work_process_finish_before_serve_exits(fake_slack, farm, tmp_path):
    with serve(fake_slack, _inventory(farm, tmp_path), f"sqlite:///{tmp_path / 'aspreset.db'}",
               tmp_path / "serve") as (url, process):
        work = slack_work_pid(process.pid)
        os.kill(work, signal.SIGSTOP)
        try:
            assert SlackSender(url, SIGNING_SECRET, fake_slack.response_url("stop")).command(
                ALICE, "status shop-web").status == 200
            process.send_signal(signal.SIGTERM)
        finally:
            os.kill(work, signal.SIGCONT)
        assert process.wait(timeout=120) == 0
    [reply] = _replies_about(fake_slack, "shop-web")
    assert "shop-web" in reply.text_everywhere and "web01" in reply.text_everywhere
    assert not any(LOST in c.text_everywhere for c in fake_slack.calls)
