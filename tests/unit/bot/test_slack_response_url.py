"""A slash command's or click's response_url takes five replies within 30 minutes: the asker's replies
never go to a URL Slack no longer takes (a long run's end is on its channel message and thread)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.app.views import RequestView
from bot.slack.asking import RESPONSE_URL_USES, Asking
from bot.slack.blocks import Rendered

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
ENDED = RequestView(id="r-1", state="succeeded", site="shop-web", rung="apppool", targets=["web01"], pool="ShopPool",
                    requester="U01ALICE", requester_display="alice", origin="slack", created_at=NOW, updated_at=NOW)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def asking(clock: Clock) -> tuple[Asking, list[dict[str, Any]]]:
    replies: list[dict[str, Any]] = []
    return Asking(lambda **reply: replies.append(reply), "C01DEPLOY", "U01ALICE", clock=clock), replies


def test_the_end_of_a_run_within_half_an_hour_is_told_through_respond():
    clock = Clock()
    ask, replies = asking(clock)
    clock.now += 20 * 60

    ask.finish(ENDED)

    assert len(replies) == 1 and "r-1" in replies[0]["text"]


def test_the_end_of_a_run_longer_than_half_an_hour_is_not_sent_to_the_expired_response_url():
    clock = Clock()
    ask, replies = asking(clock)
    clock.now += 31 * 60

    ask.finish(ENDED)

    assert replies == []


def test_a_reply_with_more_parts_than_the_url_takes_stops_at_five():
    ask, replies = asking(Clock())

    ask.tell(Rendered("first", [], overflow=[f"part {n}" for n in range(8)]))

    assert len(replies) == RESPONSE_URL_USES
    assert [r["text"] for r in replies] == ["first", "part 0", "part 1", "part 2", "part 3"]
