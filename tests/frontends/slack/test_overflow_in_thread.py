"""A result too long for one message (Slack's 50 blocks) ends with "…and N more lines, in the
thread", and those lines really arrive as replies in the message's thread, each reply within
Slack's limits (the fake refuses what Slack would), so no host's result is lost."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from slack_sdk import WebClient

from bot.app.views import HostResultView, RequestView
from bot.slack.notifier import SlackNotifier

NOW = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
HOSTS = 300


def _failed_everywhere() -> RequestView:
    hosts = [HostResultView(host=f"web{i:03d}", rung="apppool", method="recycle", outcome="failed",
                            pids_before=[4000 + i], pids_after=[], duration_ms=1500,
                            error=f"web{i:03d} answered 503 " + "x" * 600) for i in range(HOSTS)]
    return RequestView.model_validate(dict(
        id="r-long01", state="failed", site="farm-web", rung="apppool", targets=[h.host for h in hosts],
        pool="FarmPool", requester="U01ALICE", requester_display="alice", origin="slack:C0FARM",
        created_at=NOW, updated_at=NOW, hosts=hosts, reason="hung"))


def test_what_does_not_fit_in_the_message_is_posted_in_its_thread(fake_slack):
    notifier = SlackNotifier(WebClient(token=fake_slack.token, base_url=fake_slack.base_url), lambda site: "C0FARM")
    try:
        notifier.show("r-long01", _failed_everywhere(), follow_up=True)
        assert notifier.flush(timeout=60)
    finally:
        notifier.close()
    assert not fake_slack.refused()  # every post within Slack's limits
    posts = fake_slack.of("chat.postMessage")
    message = next(c for c in posts if not c.body.get("thread_ts"))
    ts = message.answer["ts"]
    more = re.search(r"…and (\d+) more lines, in the thread", message.text_everywhere)
    assert more is not None
    replies = [c for c in posts if c.body.get("thread_ts") == ts]
    in_thread = "\n".join(c.text_everywhere for c in replies)
    assert len(replies) >= 2  # the overflow, and the follow-up telling the requester how it ended
    everything = message.text_everywhere + in_thread
    missing = [f"web{i:03d}" for i in range(HOSTS) if f"web{i:03d} answered 503" not in everything]
    assert not missing, f"{len(missing)} hosts' results are nowhere: {missing[:5]}"
