"""`aspreset demo --slack`: the demo's simulated farm behind a real Slack workspace, so a team can
try `/recycle`, the approval buttons and the deploy notices without Windows servers.

Needs the Slack app's tokens in the environment, as `aspreset serve` does (docs/slack-setup.md):
SLACK_BOT_TOKEN, then SLACK_APP_TOKEN for Socket Mode (no public URL; used when set) or
SLACK_SIGNING_SECRET for HTTP mode on 127.0.0.1:3000 (ASPRESET_DEMO_PORT; Slack reaches it through a
tunnel). ASPRESET_DEMO_CHANNEL (a channel ID the bot was
invited to) replaces the example inventory's channels; ASPRESET_WEBHOOK_SECRET turns on the deploy
webhook. Slack's people are not the example's: give your Slack user IDs the example's names in a
policy of your own (ASPRESET_DEMO_POLICY), else everyone is a stranger whom the policy refuses."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TextIO

from bot.app.errors import ConfigError
from bot.config import Settings, SlackSettings
from bot.demo import DEMO_WINRM, EXAMPLES, SIM_TIMING
from bot.sim.process import SimProcess
from policies.files import load_policy
from policies.inventory import Inventory

DEFAULT_PORT = 3000


def slack_settings(env: dict[str, str]) -> SlackSettings:
    slack = SlackSettings.from_env(env)
    if not slack.bot_token or not (slack.signing_secret or slack.app_token):
        raise ConfigError(
            "aspreset demo --slack needs the Slack app's tokens: SLACK_BOT_TOKEN (xoxb-...) and either "
            "SLACK_SIGNING_SECRET (HTTP mode) or SLACK_APP_TOKEN (xapp-..., Socket Mode); "
            "docs/slack-setup.md says where each one is"
        )
    return slack


def with_channel(inventory: Inventory, channel: str | None) -> Inventory:
    if not channel:
        return inventory
    sites = {name: site.model_copy(update={"channel": channel}) for name, site in inventory.sites.items()}
    return inventory.model_copy(update={"sites": sites})


def run_slack_demo(out: TextIO, env: dict[str, str] | None = None) -> int:
    from bot.cli.serve import serve

    env = dict(os.environ if env is None else env)
    slack = slack_settings(env)  # before the farm starts: missing tokens fail at once
    port = int(env.get("ASPRESET_DEMO_PORT", DEFAULT_PORT))
    with tempfile.TemporaryDirectory(prefix="aspreset-demo-slack-") as tmp, \
            SimProcess(EXAMPLES / "inventory.toml", Path(tmp), *SIM_TIMING) as sim:
        inventory = with_channel(sim.wait_ready(), env.get("ASPRESET_DEMO_CHANNEL"))
        policy = load_policy(env.get("ASPRESET_DEMO_POLICY") or EXAMPLES / "policy.toml")
        print("Simulated IIS farm in its own process, on 127.0.0.1:", file=out)
        for line in sim.endpoints:
            print(f"  {line}", file=out)
        settings = Settings.of(policy, inventory, workdir=Path(tmp), winrm=DEMO_WINRM, owner="demo-slack",
                               slack=slack)
        print("Type /recycle in Slack; Ctrl-C stops the bot and the farm.", file=out, flush=True)
        return serve(settings, "127.0.0.1", port, socket_mode=bool(slack.app_token))
