"""`aspreset demo`: the whole story on a fresh machine, with no Slack workspace and no Windows
server. A simulated IIS farm from examples/inventory.toml runs in its own process (real
WS-Management on 127.0.0.1), the store is SQLite in a temporary directory, the deploy webhook is
served on 127.0.0.1, and the local chat console shows the same views Slack renders.

    aspreset demo                 the scripted story (bot/demo/story.py); exit 0 when every scene
                                  behaved as told, 1 naming the scene that did not
    aspreset demo --interactive   the same farm: type chat lines as any example person
    aspreset demo --slack         the same farm behind a real Slack workspace (tokens from the env)
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from bot.bootstrap import Runtime, build
from bot.config import Settings, WinRMSettings
from bot.demo.console import Console, ConsoleNotifier
from bot.http.asgi import create_app
from bot.http.loopback import serve_on_loopback
from bot.http.webhook import DeployWebhook
from bot.sim.process import SimProcess
from bot.store.shared import MemoryShared
from policies.files import load_policy

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# restarts take a few tenths of a second here; real apps take seconds to minutes (docs/supported.md)
SIM_TIMING = ("--recycle-s", "0.3", "--cold-start-s", "0.2")
# short deadlines, so the host that stops answering is given up on in seconds, not minutes
DEMO_WINRM = WinRMSettings(max_parallel=4, command_timeout_s=3, cleanup_budget_s=1, restart_deadline_s=9,
                           status_deadline_s=4, discover_deadline_s=8, connect_timeout_s=3)


@dataclass
class DemoWorld:
    console: Console
    sim: SimProcess
    settings: Settings
    runtime: Runtime  # closed on the way out (before the farm stops): the hosts' shells are deleted


@contextmanager
def demo_world(out: TextIO) -> Iterator[DemoWorld]:
    """The farm in its own process, a throwaway store, the service, the webhook on 127.0.0.1."""
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="aspreset-demo-")))
        sim = stack.enter_context(SimProcess(EXAMPLES / "inventory.toml", workdir, *SIM_TIMING))
        inventory = sim.wait_ready()
        print("Simulated IIS farm in its own process, on 127.0.0.1:", file=out)
        for line in sim.endpoints:
            print(f"  {line}", file=out)
        settings = Settings.of(load_policy(EXAMPLES / "policy.toml"), inventory, workdir=workdir,
                               winrm=DEMO_WINRM, owner="demo")
        notifier = ConsoleNotifier(out)
        runtime = stack.enter_context(build(settings, notifier=notifier))  # SQLite in workdir, WinRM to the farm
        console = Console(runtime.service, notifier, out)
        webhook = DeployWebhook(console.webhook_secret, lambda: console.service.inventory,
                                lambda: console.service.policy, console.post_notice, MemoryShared())
        console.webhook_url = stack.enter_context(serve_on_loopback(create_app(bolt=None, webhook=webhook)))
        print(f"Deploy webhook: POST {console.webhook_url}/hooks/deploy (HMAC-signed)", file=out)
        yield DemoWorld(console, sim, settings, runtime)


def run_demo(*, interactive: bool = False, slack: bool = False, out: TextIO = sys.stdout) -> int:
    if slack:
        from bot.demo.slack import run_slack_demo

        return run_slack_demo(out)
    with demo_world(out) as world:
        if interactive:
            from bot.demo.interactive import repl

            return repl(world, sys.stdin, out)
        return scripted(world, out)


def scripted(world: DemoWorld, out: TextIO) -> int:
    from bot.demo.story import SceneFailed, Story, play

    story = Story(world.console, world.sim, out)
    try:
        play(story)
    except SceneFailed as failed:
        print(f"\nDEMO FAILED in scene {failed.scene!r}: {failed.problem}", file=out, flush=True)
        return 1
    print(f"\nEvery scene behaved as told ({len(story.played)} scenes).", file=out, flush=True)
    return 0
