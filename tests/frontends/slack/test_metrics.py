"""GET /metrics of a real `serve` app (uvicorn on 127.0.0.1) after real work: a worker kill approved
in Slack against the simulated farm, with the fake Slack answering one chat.update with 429. The
samples are read with prometheus_client's own text parser. Each Runtime has its own registry, so
two bots in one process never add into each other's numbers."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from pathlib import Path
from urllib.error import URLError

import pytest
from hostile_endpoint import HostileEndpoint
from prometheus_client.parser import text_string_to_metric_families
from serve_processes import serve
from slack_http import ALICE, BOB, SIGNING_SECRET, SlackSender
from slack_messages import approval_message, buttons
from starlette.testclient import TestClient

from bot.config import Settings, SlackSettings
from bot.http.asgi import create_app
from bot.http.loopback import serve_on_loopback
from bot.metrics.registry import PrometheusMetrics
from bot.metrics.slack import SlackCallCounter
from bot.sim.cli import inventory_toml
from bot.sim.wsman import WsmanFaultSpec
from bot.slack.app import web_client
from bot.slack.blocks import APPROVE
from bot.slack.serving import build_serving
from bot.winrm.fault_codes import MAX_OPERATIONS, MAX_SHELLS
from policies.files import load_policy

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str, token: str | None = None) -> Samples:
    request = urllib.request.Request(f"{url}/metrics", headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200
        assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = answer.read().decode()
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum over every series of `name` whose labels include `labels`."""
    return sum(v for (n, have), v in samples.items() if n == name and set(labels.items()) <= have)


def test_an_approved_kill_and_a_429_show_in_the_scrape(start_bot, fake_slack, farm):
    bot = start_bot()
    fake_slack.rate_limit("chat.update", times=1, retry_after=1)
    bot.slack.command(ALICE, "shop-web --reason hung")
    posted = approval_message(fake_slack)
    request_id, ts = buttons(posted)[0]["value"], posted.answer["ts"]
    bot.slack.click(BOB, APPROVE, request_id, "C0SHOP", ts)
    fake_slack.wait_for(lambda calls: any(c.method == "chat.update" and c.body.get("ts") == ts
                                          and "succeeded" in c.body.get("text", "") for c in calls),
                        what="the message updated with the result")

    samples = scrape(bot.url)

    assert value(samples, "aspreset_restarts_total", site="shop-web", rung="worker", outcome="succeeded") == 1
    assert value(samples, "aspreset_restart_duration_seconds_count", rung="worker") == 1
    assert value(samples, "aspreset_approval_wait_seconds_count", rung="worker") == 1
    waited = value(samples, "aspreset_approval_wait_seconds_sum", rung="worker")
    assert waited is not None and waited >= 0
    refused = [c for c in fake_slack.calls if c.method == "chat.update" and c.status == 429]
    assert total(samples, "aspreset_slack_api_calls_total", method="chat.update", status="429") == len(refused) == 1
    assert total(samples, "aspreset_slack_api_calls_total", method="chat.postMessage", status="200") == len(
        [c for c in fake_slack.calls if c.method == "chat.postMessage" and c.status == 200])
    assert total(samples, "aspreset_winrm_errors_total") == 0


def test_probes_and_open_incidents_reach_the_scrape(start_bot):
    bot = start_bot()
    metrics = bot.service.metrics
    metrics.record_probe("shop-web", "web02", "hung", 5.0)
    metrics.record_probe("shop-web", "web01", "ok", 0.04)
    metrics.count_incidents_with(lambda: {("shop-web", "hung"): 1})

    samples = scrape(bot.url)

    assert value(samples, "aspreset_probes_total", site="shop-web", host="web02", outcome="hung") == 1
    assert value(samples, "aspreset_probe_duration_seconds_bucket", site="shop-web", host="web01", le="0.05") == 1
    assert value(samples, "aspreset_probe_duration_seconds_bucket", site="shop-web", host="web02", le="2.5") == 0
    assert value(samples, "aspreset_incidents_open", site="shop-web", kind="hung") == 1


def test_each_bot_in_one_process_counts_only_its_own(start_bot, tmp_path):
    first, second = start_bot(owner="replica-a"), start_bot(owner="replica-b", db_url=f"sqlite:///{tmp_path / 'b.db'}")
    first.service.metrics.record_probe("shop-web", "web01", "ok", 0.1)

    assert value(scrape(first.url), "aspreset_probes_total", site="shop-web", host="web01", outcome="ok") == 1
    assert total(scrape(second.url), "aspreset_probes_total") == 0


def test_with_a_token_a_scrape_needs_it(start_bot):
    bot = start_bot()
    app = create_app(bolt=None, webhook=None, metrics=bot.serving.metrics.registry, metrics_token="s3cret-scrape")
    with serve_on_loopback(app) as url:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic czNjcmV0LXNjcmFwZQ=="}):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(urllib.request.Request(f"{url}/metrics", headers=headers), timeout=10)
            assert refused.value.code == 401 and refused.value.headers["WWW-Authenticate"].startswith("Bearer")
        assert value(scrape(url, token="s3cret-scrape"), "aspreset_slack_api_calls_total", method="auth.test",
                     status="200", error="") == 1  # Bolt's one auth.test at start


def test_without_a_token_only_this_machine_may_scrape(start_bot):
    bot = start_bot()
    app = create_app(bolt=None, webhook=None, metrics=bot.serving.metrics.registry)
    with TestClient(app, client=("203.0.113.7", 40000)) as remote:  # a peer address, not a network
        refused = remote.get("/metrics")
        assert refused.status_code == 403 and "ASPRESET_METRICS_TOKEN" in refused.json()["message"]
    assert scrape(bot.url) is not None  # from 127.0.0.1 over real HTTP


def test_winrm_errors_are_counted_by_code_and_fault_from_serves_own_executor(fake_slack, farm, tmp_path):
    """serve's own WinRM executor (built by bootstrap, not passed in): web01 answers a WSManFault
    (MaxShellsPerUser), web02 sits behind a proxy that answers a web page."""
    with HostileEndpoint(farm.host("web02").wsman_port) as proxy:
        proxy.misbehave("html", actions=["Create"])
        farm.host("web01").inject_fault(WsmanFaultSpec(MAX_SHELLS, "w:QuotaLimit", "Too many shells."),
                                        actions=["Create"])
        inventory = farm.client_inventory()
        hosts = {**inventory.hosts, "web02": inventory.hosts["web02"].model_copy(update={"port": proxy.port})}
        slack = SlackSettings(bot_token=fake_slack.token, signing_secret=SIGNING_SECRET,
                              api_base_url=fake_slack.base_url)
        settings = Settings.of(load_policy(EXAMPLES / "policy.toml"), inventory.model_copy(update={"hosts": hosts}),
                               workdir=tmp_path, db_url=f"sqlite:///{tmp_path / 'aspreset.db'}", slack=slack)
        serving = build_serving(settings)
        try:
            with serve_on_loopback(serving.asgi) as url:
                status = serving.service.status("shop-web")
                assert {h.host: h.ok for h in status.hosts} == {"web01": False, "web02": False}

                samples = scrape(url)
        finally:
            serving.close()

    # status is read-only: the quota fault is transient, so it was asked once more within the deadline
    assert value(samples, "aspreset_winrm_errors_total", op="status", code="protocol_error", fault="0x803381A5") == 2
    assert value(samples, "aspreset_winrm_errors_total", op="status", code="protocol_error", fault="") == len(
        proxy.misbehaved) == 1


def test_a_slack_call_that_gets_no_answer_is_counted_each_attempt():
    """Nothing listens on the port: slack_sdk's connection-error handler tries once more, and both
    attempts are counted with status "none", the method read from the URL."""
    metrics = PrometheusMetrics()
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    client = web_client(SlackSettings(bot_token="xoxb-test", api_base_url=f"http://127.0.0.1:{port}/api/"),
                        first_handlers=[SlackCallCounter(metrics)])

    with pytest.raises(URLError):
        client.chat_postMessage(channel="C0SHOP", text="hello")

    assert metrics.registry.get_sample_value(
        "aspreset_slack_api_calls_total", {"method": "chat.postMessage", "status": "none", "error": ""}) == 2


def test_aspreset_serve_counts_a_restart_its_runner_ran_and_the_runners_winrm_fault(fake_slack, farm, tmp_path):
    """`aspreset serve` as an operator runs it (its restarts in runner processes), with
    ASPRESET_METRICS_TOKEN: alice's recycle fails on web01 with a WSManFault inside the runner, and
    serve's /metrics says so; a scrape without the token is refused."""
    farm.host("web01").inject_fault(WsmanFaultSpec(MAX_OPERATIONS, "w:QuotaLimit", "Too many operations."),
                                    actions=["Command"])
    inventory = tmp_path / "farm.toml"
    inventory.write_text(inventory_toml(farm.client_inventory()), encoding="utf-8")
    with serve(fake_slack, inventory, f"sqlite:///{tmp_path / 'aspreset.db'}", tmp_path / "serve",
               env_more={"ASPRESET_METRICS_TOKEN": "scrape-token"}) as (url, _):
        assert SlackSender(url, SIGNING_SECRET, fake_slack.response_url("serve")).command(
            ALICE, "shop-web --scope apppool").status == 200
        final = fake_slack.wait_for(lambda calls: next((c for c in calls if c.method == "chat.update" and any(
            word in c.body.get("text", "") for word in ("failed", "partially"))), None), what="the failed result")

        samples = scrape(url, token="scrape-token")
        with pytest.raises(urllib.error.HTTPError) as refused:
            scrape(url)

    assert refused.value.code == 401
    ended = {dict(labels)["outcome"]: v for (name, labels), v in samples.items() if name == "aspreset_restarts_total"}
    assert ended in ({"failed": 1}, {"partially_failed": 1}), (ended, final.text_everywhere[:300])
    assert value(samples, "aspreset_winrm_errors_total", op="apppool", code="protocol_error",
                 fault=f"0x{MAX_OPERATIONS:08X}") == 1
    assert total(samples, "aspreset_slack_api_calls_total", method="chat.postMessage", status="200") >= 1
