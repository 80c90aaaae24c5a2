"""`serve` never runs Bolt's synchronous dispatch on the event loop: while one Slack request is held
inside Bolt (here an ack that waits), /healthz still answers at once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from slack_bolt import Ack, App
from slack_http import ALICE, CAROL, SIGNING_SECRET, SlackSender, get
from slack_sdk import WebClient

from bot.http.asgi import create_app
from bot.http.loopback import serve_on_loopback


def test_a_slack_request_held_in_bolt_does_not_hold_healthz(fake_slack):
    release, entered = threading.Event(), threading.Event()
    bolt = App(client=WebClient(token=fake_slack.token, base_url=fake_slack.base_url),
               signing_secret=SIGNING_SECRET, process_before_response=True)

    @bolt.command("/recycle")
    def slow_ack(ack: Ack) -> None:
        entered.set()
        release.wait(30)
        ack()

    with serve_on_loopback(create_app(bolt=bolt, webhook=None)) as url, ThreadPoolExecutor(1) as pool:
        slack = SlackSender(url, SIGNING_SECRET, fake_slack.response_url("held"))
        held = pool.submit(slack.command, ALICE, "help")
        assert entered.wait(20), "the command never reached Bolt"
        try:
            health = get(f"{url}/healthz")
            assert health.status == 200 and health.json()["ok"] is True
            assert not held.done()  # the Slack request is still inside Bolt
        finally:
            release.set()
        assert held.result(timeout=30).status == 200


def test_running_restarts_do_not_hold_help_on_bolts_listener_threads(start_bot, fake_slack, farm):
    bot = start_bot(work_threads=2)  # as many restarts as Bolt has listener threads
    for sim in farm.hosts.values():
        sim.inject_latency(0.3)  # restarts that take seconds
    bot.slack.command(ALICE, "shop-web --scope apppool")
    bot.slack.command(ALICE, "intranet --scope apppool")
    fake_slack.wait_for(lambda calls: sum("is running" in c.body.get("text", "") for c in calls
                                          if c.method in ("chat.postMessage", "chat.update")) >= 2,
                        what="both restarts running")

    bot.slack.command(CAROL, "help")
    fake_slack.wait_for(lambda calls: any(c.method == "respond" and "help" in c.body.get("text", "")
                                          for c in calls), what="the help reply")
    states = [r.state.value for r in bot.service.store.list()]
    assert states.count("running") == 2, states  # help was answered while both still ran
