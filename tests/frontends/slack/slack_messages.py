"""Finding the bot's messages among what the fake Slack recorded, waiting with a deadline."""

from __future__ import annotations

from typing import Any

from fake_slack import Call, FakeSlack


def approval_message(fake_slack: FakeSlack, site: str = "shop-web") -> Call:
    return fake_slack.wait_for(
        lambda calls: next((c for c in calls if c.method == "chat.postMessage" and "Needs approval" in c.text_everywhere
                            and site in c.text_everywhere), None),
        what="the approval message")


def reply_saying(fake_slack: FakeSlack, needle: str) -> Call:
    """The first ephemeral reply (through response_url) that contains `needle`."""
    return fake_slack.wait_for(
        lambda calls: next((c for c in calls if c.method == "respond" and needle in c.text_everywhere), None),
        what=f"an ephemeral reply saying {needle!r}")


def buttons(message: Call) -> list[dict[str, Any]]:
    return [e for b in message.blocks if b["type"] == "actions" for e in b["elements"]]


def worker_kills(farm: Any) -> int:
    """Worker-kill operations the simulated hosts received, across the farm."""
    return sum(1 for sim in farm.hosts.values() for r in sim.received if r.operation == "worker")
