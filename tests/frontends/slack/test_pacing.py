"""Paced as Slack asks: at most one chat.update per second on one message, what came meanwhile
coalesced and the final state always sent; one token bucket per method; a 429 on any other call
(a deploy notice here) is waited out with Retry-After and the call still goes."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

from slack_http import WEBHOOK_SECRET, deploy_hook
from slack_sdk import WebClient

from bot.app.views import HostResultView, RequestView
from bot.slack.notifier import SlackNotifier
from bot.slack.pacing import MethodBuckets

NOW = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)


def _view(state: str, done: int) -> RequestView:
    hosts = [HostResultView(host=f"web{i:03d}", rung="apppool", method="recycle", outcome="succeeded",
                            duration_ms=900) for i in range(done)]
    return RequestView.model_validate(dict(
        id="r-pace01", state=state, site="shop-web", rung="apppool", targets=[f"web{i:03d}" for i in range(40)],
        pool="ShopPool", requester="U01ALICE", requester_display="alice", origin="slack:C0SHOP", created_at=NOW,
        updated_at=NOW, hosts=hosts))


def test_a_burst_of_progress_is_at_most_one_update_per_second_and_the_final_state_lands(fake_slack):
    notifier = SlackNotifier(WebClient(token=fake_slack.token, base_url=fake_slack.base_url), lambda site: "C0SHOP")
    try:
        notifier.show("r-pace01", _view("running", 0))
        fake_slack.wait_for(lambda calls: any(c.method == "chat.postMessage" for c in calls), what="the post")
        notifier.show("r-pace01", _view("running", 1))
        fake_slack.wait_for(lambda calls: any(c.method == "chat.update" for c in calls), what="the first update")
        for done in range(2, 41):  # the other hosts finish within the second after
            notifier.show("r-pace01", _view("running", done))
        notifier.show("r-pace01", _view("succeeded", 40), follow_up=True)
        assert notifier.flush(timeout=10)
    finally:
        notifier.close()
    updates = fake_slack.of("chat.update")
    assert len(updates) == 2  # thirty-nine renderings coalesced into the final one
    assert updates[1].at - updates[0].at >= 0.95  # a second apart on one message
    assert "succeeded" in updates[-1].body["text"] and "web039" in updates[-1].text_everywhere


def test_a_methods_bucket_allows_a_burst_then_its_tier_rate():
    now = [0.0]
    buckets = MethodBuckets({"chat.update": 60}, monotonic=lambda: now[0])
    for _ in range(10):  # ten seconds' worth at once
        assert buckets.wait_s("chat.update") == 0.0
        buckets.take("chat.update")
    assert buckets.wait_s("chat.update") == 1.0  # then one a second
    now[0] += 1.0
    assert buckets.wait_s("chat.update") == 0.0
    assert buckets.wait_s("views.open") == 0.0  # a method without a bucket is not held


def test_acquire_waits_for_the_next_token_and_gives_up_at_its_deadline():
    buckets = MethodBuckets({"chat.postMessage": 600})  # ten a second, a burst of 100
    for _ in range(100):
        assert buckets.acquire("chat.postMessage", timeout_s=0.0)
    started = time.monotonic()
    assert buckets.acquire("chat.postMessage", timeout_s=5.0)  # the 101st waits for a refill
    assert time.monotonic() - started >= 0.05
    assert not buckets.acquire("chat.postMessage", timeout_s=0.0)  # none left right now, no wait allowed


def test_a_rate_limited_deploy_notice_waits_retry_after_and_is_posted(start_bot, fake_slack):
    bot = start_bot()
    fake_slack.rate_limit("chat.postMessage", times=1, retry_after=1)
    notice = {"site": "shop-web", "version": "2.4.2", "changed_files": ["App_Config/connectionStrings.config"]}
    reply = deploy_hook(bot.url, WEBHOOK_SECRET, json.dumps(notice).encode())
    assert reply.status == 200
    [limited] = [c for c in fake_slack.calls if c.status == 429]
    [posted] = fake_slack.of("chat.postMessage")
    assert posted.at - limited.at >= 1.0

