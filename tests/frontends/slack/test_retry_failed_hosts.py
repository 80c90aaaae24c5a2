""""Retry failed hosts" on a partly failed run's message: one new request that covers every host
that failed, and only those, asked by the clicker under the same policy (and the approvals it
needs), its message in the failed run's thread. Here shop-web runs on three hosts, one at a time:
web01 succeeds, web02 and web03 fail."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import EXAMPLES
from slack_http import ALICE
from slack_messages import buttons

from bot.sim.farm import Farm
from bot.sim.timing import SimTiming
from bot.slack.blocks import RETRY
from policies.files import parse_inventory

THREE_HOSTS = 'hosts = ["web01", "web02", "web03"]'


@pytest.fixture
def farm() -> Iterator[Farm]:
    text = (EXAMPLES / "inventory.toml").read_text().replace('hosts = ["web01", "web02"]', THREE_HOSTS, 1)
    assert THREE_HOSTS in text
    with Farm.from_inventory(parse_inventory(text, "inventory.toml"), timing=SimTiming.fast()) as started:
        yield started


def _pool_recycles(farm: Farm, host: str) -> int:
    return sum(1 for r in farm.host(host).received if r.operation == "apppool")


def test_one_retry_covers_both_failed_hosts_and_not_the_one_that_succeeded(start_bot, fake_slack, farm, tmp_path):
    policy = tmp_path / "policy.toml"  # every wave runs, so both later hosts fail in one run
    policy.write_text((EXAMPLES / "policy.toml").read_text().replace(
        '[environments.prod]\n', '[environments.prod]\nkeep_going = true\n', 1))
    assert "keep_going = true" in policy.read_text()
    bot = start_bot(policy=policy)
    for host in ("web02", "web03"):
        farm.host(host).inject_unauthorized()
    bot.slack.command(ALICE, "shop-web --scope apppool")
    failed = fake_slack.wait_for(
        lambda calls: next((c for c in calls if c.method == "chat.update" and "partly failed" in c.body["text"]
                            and buttons(c)), None), what="the partly failed run's message with its buttons")
    [retry, _status] = buttons(failed)
    assert retry["action_id"] == RETRY and retry["text"]["text"] == "Retry web02, web03"
    for host in ("web02", "web03"):
        farm.host(host).clear_faults()
    recycles = {host: _pool_recycles(farm, host) for host in ("web01", "web02", "web03")}

    bot.slack.click(ALICE, RETRY, retry["value"], "C0SHOP", failed.body["ts"])
    again = fake_slack.wait_for(
        lambda calls: next((c for c in calls if c.method in ("chat.postMessage", "chat.update")
                            and " is succeeded" in c.body.get("text", "")
                            and retry["value"] not in c.body["text"]), None), what="the retry's result")

    first, second = sorted(bot.service.store.list(), key=lambda r: r.created_at)
    assert first.id == retry["value"] and list(second.hosts) == ["web02", "web03"]  # one request, both hosts
    assert second.requester == ALICE and second.rung.value == "apppool" and second.reason == f"retry of {first.id}"
    assert {h: _pool_recycles(farm, h) - n for h, n in recycles.items()} == {"web01": 0, "web02": 1, "web03": 1}
    assert "web02 PIDs" in again.body["text"] and "web03 PIDs" in again.body["text"]
    assert "web01" not in again.body["text"]
    posted = next(c for c in fake_slack.of("chat.postMessage") if second.id in c.body.get("text", ""))
    assert posted.body.get("thread_ts") == failed.body["ts"]  # in the failed run's thread
