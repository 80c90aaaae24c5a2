"""`aspreset demo --slack`: the demo's simulated farm (its own process) behind Slack, here the local
fake of Slack's Web API: a signed `/recycle shop-web --reason hung` from alice posts the approval to
the channel the demo was given, naming bob."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from slack_http import ALICE, SIGNING_SECRET, SlackSender, get
from slack_messages import approval_message
from test_serve_command import read_until


def test_the_slack_demo_serves_the_simulated_farm_to_slack(fake_slack, tmp_path):
    env = dict(os.environ, SLACK_BOT_TOKEN=fake_slack.token, SLACK_SIGNING_SECRET=SIGNING_SECRET,
               SLACK_API_BASE_URL=fake_slack.base_url, ASPRESET_DEMO_PORT="0", ASPRESET_DEMO_CHANNEL="C0DEMO")
    env.pop("ASPRESET_CONFIG", None)
    env.pop("SLACK_APP_TOKEN", None)
    demo = subprocess.Popen([sys.executable, "-m", "bot.cli", "demo", "--slack"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        port = int(read_until(demo.stderr, rb"listening on 127\.0\.0\.1:(\d+) ").group(1))
        url = f"http://127.0.0.1:{port}"
        assert get(f"{url}/healthz").json()["ok"] is True
        slack = SlackSender(url, SIGNING_SECRET, fake_slack.response_url("demo"))
        assert slack.command(ALICE, "shop-web --reason hung", channel="C0DEMO").status == 200
        posted = approval_message(fake_slack)
        assert posted.body["channel"] == "C0DEMO" and "<@U02BOB>" in posted.text_everywhere
    finally:
        demo.send_signal(signal.SIGTERM)
        code = demo.wait(timeout=60)
    assert code == 0
