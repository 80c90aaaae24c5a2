"""The health watch over real HTTP: `serve` probes the watched shop through real WinRM against the
simulated farm; `hang web02` (the demo's control) opens one incident on web02 after three bad probes
and posts one message in the shop's channel offering the worker kill; alice's click asks for it under
the usual policy, bob approves, the kill recovers the host and the same message says so, naming the
request. A pool that is stopped shows as stopped, with no restart offered. Never a message per probe."""

from __future__ import annotations

from pathlib import Path

from slack_http import ALICE, BOB
from slack_messages import buttons
from test_metrics import scrape, value

from bot.app.records import RequestState
from bot.sim.control import apply
from bot.slack.blocks import APPROVE
from bot.slack.incident_blocks import INCIDENT_RESTART
from policies.watch import Watch

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
WATCH = Watch(interval_s=0.4, timeout_s=0.3, slow_ms=250, bad_probes=3)


def watched(farm):
    inventory = farm.client_inventory()
    shop = inventory.sites["shop-web"].model_copy(update={"watch": WATCH})
    return inventory.model_copy(update={"sites": {**inventory.sites, "shop-web": shop}})


def incident_posts(fake_slack):
    return [c for c in fake_slack.of("chat.postMessage") if "since" in c.body.get("text", "")]


def test_a_hung_host_is_noticed_offered_a_kill_that_bob_approves_and_the_message_says_it_recovered(
        start_bot, fake_slack, farm):
    bot = start_bot(inventory=watched(farm))
    assert bot.serving.watch is not None
    incidents = bot.serving.watch.watcher.incidents
    fake_slack.wait_for(lambda _: bot.serving.watch.rounds >= 2 or None, what="two healthy rounds")
    assert incident_posts(fake_slack) == []

    apply(farm, "hang web02")
    posted = fake_slack.wait_for(lambda _: next(iter(incident_posts(fake_slack)), None), what="the incident message")
    assert posted.body["channel"] == "C0SHOP"
    seen = posted.text_everywhere
    assert "web02" in seen and "hung" in seen and "no answer within 0.3 s while worker" in seen
    assert "worker" in seen and "second person" in seen
    [button] = buttons(posted)
    assert button["action_id"] == INCIDENT_RESTART
    [incident] = incidents.incidents(open_only=True)
    assert (incident.host, incident.kind, incident.offer) == ("web02", "hung", "worker")
    samples = scrape(bot.url)
    assert (value(samples, "aspreset_probes_total", site="shop-web", host="web02", outcome="hung") or 0) >= 3
    assert (value(samples, "aspreset_probes_total", site="shop-web", host="web01", outcome="ok") or 0) >= 3
    assert value(samples, "aspreset_incidents_open", site="shop-web", kind="hung") == 1

    ts = posted.answer["ts"]
    assert bot.slack.click(ALICE, INCIDENT_RESTART, button["value"], "C0SHOP", ts,
                           block_id=f"incident:{incident.id}").status == 200
    asked = fake_slack.wait_for(
        lambda calls: next((c for c in calls if c.method == "chat.postMessage" and c.body.get("thread_ts") == ts
                            and buttons(c)), None), what="the request's message in the incident's thread")
    request_id = next(b["value"] for b in buttons(asked) if b["action_id"] == APPROVE)
    request = bot.service.store.get(request_id)
    assert (request.rung.value, request.hosts, request.state) == ("worker", ("web02",), RequestState.AWAITING_APPROVAL)

    assert bot.slack.click(BOB, APPROVE, request_id, "C0SHOP", asked.answer["ts"]).status == 200
    recovered = fake_slack.wait_for(
        lambda calls: next((c for c in calls if c.method == "chat.update" and c.body.get("ts") == ts
                            and "Recovered" in c.body.get("text", "")), None), what="the incident's recovery")
    assert f"recovered by request {request_id}" in recovered.body["text"]
    link = f"https://fake.slack.test/archives/C0SHOP/p{asked.answer['ts'].replace('.', '')}"  # as Slack answers
    assert f"recovered after request <{link}|{request_id}>" in recovered.text_everywhere  # its message, linked
    assert buttons(recovered) == []
    assert incidents.incidents(open_only=True) == []
    assert len(incident_posts(fake_slack)) == 1  # one message for the incident, updated, never one per probe


def test_a_stopped_pool_is_stopped_not_hung_and_no_restart_is_offered(start_bot, fake_slack, farm):
    bot = start_bot(inventory=watched(farm))
    apply(farm, "stop web01 ShopPool")
    posted = fake_slack.wait_for(lambda _: next(iter(incident_posts(fake_slack)), None), what="the incident message")
    assert "pool stopped" in posted.body["text"] and "web01" in posted.body["text"]
    assert "HTTP.sys itself answers 503" in posted.text_everywhere
    assert "stopped by a person or a script" in posted.text_everywhere
    assert buttons(posted) == [] and "no restart is offered" in posted.text_everywhere
    [incident] = bot.serving.watch.watcher.incidents.incidents(open_only=True)
    assert incident.kind == "pool_stopped" and incident.offer is None


def test_two_replicas_on_one_database_probe_on_one_schedule_and_post_one_message(start_bot, fake_slack, farm, pg_url):
    first = start_bot(db_url=pg_url, owner="replica-a", inventory=watched(farm))
    second = start_bot(db_url=pg_url, owner="replica-b", inventory=watched(farm))
    schedules = [first.serving.watch, second.serving.watch]
    fake_slack.wait_for(lambda _: sum(s.rounds for s in schedules) >= 4 or None, what="four rounds")
    apply(farm, "hang web02")
    fake_slack.wait_for(lambda _: next(iter(incident_posts(fake_slack)), None), what="the incident message")
    rounds = sorted(s.rounds for s in schedules)
    assert rounds[0] == 0 and rounds[1] >= 4  # one replica holds the lease and probes; the other waits
    probes = sum(1 for c in farm.host("web01").received if c.operation == "probe")  # one per round, not two
    later = max(s.rounds for s in schedules)
    assert rounds[1] - 1 <= probes <= later  # (the latest round may still be on its way)
    assert len(incident_posts(fake_slack)) == 1


def test_a_rung_staging_lets_run_by_itself_recovers_the_host_without_a_click(start_bot, fake_slack, farm, tmp_path):
    policy = tmp_path / "policy.toml"
    text = (EXAMPLES / "policy.toml").read_text(encoding="utf-8")
    policy.write_text(text.replace('[environments.staging]\nwidest_rung = "worker"\n',
                                   '[environments.staging]\nwidest_rung = "worker"\nauto = ["apppool"]\n'))
    inventory = farm.client_inventory()
    canary = inventory.sites["canary"].model_copy(update={"channel": "C0CANARY", "watch": Watch(
        interval_s=0.4, timeout_s=0.3, slow_ms=250, memory_mb=500, bad_probes=2)})
    bot = start_bot(policy=policy, inventory=inventory.model_copy(update={"sites": {"canary": canary}}))
    fake_slack.wait_for(lambda _: bot.serving.watch.rounds >= 1 or None, what="a first round")
    before = farm.host("web03").processes("CanaryPool")

    apply(farm, "leak web03 900")
    recovered = fake_slack.wait_for(
        lambda calls: next((c for c in calls if c.method == "chat.update" and "Recovered" in c.body.get("text", "")),
                           None), what="the memory incident recovered")
    request_id = recovered.body["text"].rsplit("recovered by request ", 1)[1]
    request = bot.service.store.get(request_id)
    assert (request.rung.value, request.requester, request.state) == ("apppool", "watch:aspreset",
                                                                       RequestState.SUCCEEDED)
    assert farm.host("web03").processes("CanaryPool").isdisjoint(before)  # the recycle started a new worker
    [incident] = bot.serving.watch.watcher.incidents.incidents()
    assert (incident.kind, incident.recovered_by) == ("memory", request_id)


def test_when_the_probing_replica_stops_the_other_takes_its_lease_over_and_notices_a_hang(
        start_bot, fake_slack, farm, clock):
    first = start_bot(owner="replica-a", inventory=watched(farm), clock=clock)
    second = start_bot(owner="replica-b", inventory=watched(farm), clock=clock)
    schedules = [first.serving.watch, second.serving.watch]
    fake_slack.wait_for(lambda _: max(s.rounds for s in schedules) >= 2 or None, what="the lease holder's rounds")
    holder, other = sorted(schedules, key=lambda s: s.rounds, reverse=True)
    assert other.rounds == 0  # one replica probes while its lease holds
    holder.stop()  # its replica is gone: nobody renews the lease
    clock.advance(seconds=11)  # past the lease's 10 s on the store's clock
    fake_slack.wait_for(lambda _: other.rounds >= 2 or None, what="the other replica probing")
    apply(farm, "hang web02")
    fake_slack.wait_for(lambda _: next(iter(incident_posts(fake_slack)), None), what="the incident message")
    assert "web02" in incident_posts(fake_slack)[0].text_everywhere
    assert len(incident_posts(fake_slack)) == 1
