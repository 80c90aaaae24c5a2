"""The demo team's morning, scene by scene. Each scene says what happens, makes it happen through the
console (chat lines, signed deploy webhooks, a farm broken on purpose) and checks the views the
core answered, not the printed text: a scene that does not behave as told raises SceneFailed with
what went wrong, and the demo exits non-zero naming it."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TextIO

from bot.app.views import ErrorView, RefusalView, RequestView, View
from bot.app.watch.watcher import Watcher
from bot.demo.console import Console, button_command
from bot.demo.watching import demo_watcher
from bot.sim.process import SimProcess


class SceneFailed(Exception):
    def __init__(self, scene: str, problem: str) -> None:
        super().__init__(f"{scene}: {problem}")
        self.scene = scene
        self.problem = problem


@dataclass
class Story:
    console: Console
    sim: SimProcess
    out: TextIO = sys.stdout
    played: list[str] = field(default_factory=list)
    _scene: str = ""

    @contextmanager
    def scene(self, title: str, narration: str) -> Iterator[None]:
        self._scene = title
        print(f"\n# {title}\n# {narration}", file=self.out, flush=True)
        yield
        self.played.append(title)

    def expect(self, condition: bool, problem: str) -> None:
        if not condition:
            raise SceneFailed(self._scene, problem)

    def request(self, view: View, state: str) -> RequestView:
        self.expect(isinstance(view, RequestView), f"expected a request, got {view.kind}: {_said(view)}")
        assert isinstance(view, RequestView)
        self.expect(view.state == state, f"expected {view.id} {state}, got {view.state}: {_said(view)}")
        return view


def _said(view: View) -> str:
    return getattr(view, "message", "") or getattr(view, "state", "") or view.kind


SHOP_CONFIG = "App_Config/connectionStrings.config"


def play(story: Story) -> None:
    console = story.console
    with story.scene("A deploy that changed bin/",
                     "The pipeline tells the bot what a deploy changed. A new DLL in bin/: ASP.NET restarts "
                     "the app by itself, so nothing needs restarting; the button only warms up and verifies."):
        status, answer = console.deploy({"site": "shop-web", "version": "1.4.0", "environment": "prod",
                                         "changed_files": ["bin/Shop.Web.dll"], "deployed_by": "pipeline"})
        story.expect(status == 200 and answer.get("restarted_by_itself") is True, f"webhook answered {answer}")
        view = story.request(console.say("alice", button_command(console.notices[-1])), "succeeded")
        story.expect(view.rung == "none", f"expected no restart, got {view.rung}")
        for host in view.hosts:
            story.expect(host.warmup_status == 200, f"{host.host}: warm-up answered {host.warmup_status}")
            story.expect(host.pids_before == host.pids_after, f"{host.host}: the worker changed")

    with story.scene("A config-only deploy",
                     "Only an external config file changed, which ASP.NET does not watch: the notice offers "
                     "the AppDomain restart. It runs; the worker PID stays, the app's AppDomain restarts. "
                     "First, the demo forges a notice on purpose (signed with the wrong secret) to show that "
                     "the webhook refuses it."):
        forged, _ = console.deploy({"site": "shop-web", "version": "1.4.1", "changed_files": [SHOP_CONFIG]},
                                   secret="not-the-shared-secret")
        story.expect(forged == 401 and len(console.notices) == 1, "a forged notice was not refused")
        print(f"  the notice forged on purpose was refused (HTTP {forged}); no message was posted", file=story.out)
        status, answer = console.deploy({"site": "shop-web", "version": "1.4.1", "environment": "prod",
                                         "changed_files": [SHOP_CONFIG], "deployed_by": "pipeline"})
        story.expect(status == 200 and answer.get("rung") == "appdomain", f"webhook answered {answer}")
        view = story.request(console.say("alice", button_command(console.notices[-1])), "succeeded")
        story.expect(view.rung == "appdomain", f"expected appdomain, got {view.rung}")
        for host in view.hosts:
            story.expect(host.pids_after == host.pids_before, f"{host.host}: the worker changed")

    with story.scene("An assembly updated in the GAC",
                     "The GAC triggers no restart and its assemblies live for the process: the pool recycles, "
                     "and the plan names every app in it."):
        view = story.request(console.say("alice", "/recycle intranet --reason gac"), "succeeded")
        story.expect(view.plan is not None and "intranet-api" in view.plan.blast_radius,
                     "intranet-api is missing from the blast radius")
        story.expect(all(_new_processes(h) for h in view.hosts), "the pool did not get new worker processes")

    with story.scene("The shop hangs",
                     "Killing a worker drops the requests in flight, so it needs a second person. Alice asks; "
                     "her own approval is refused; Bob approves; the hosts restart one at a time. Windows "
                     "reuses process IDs, so a PID alone proves nothing: the new worker is the (PID, start "
                     "time) pair no old worker had."):
        waiting = story.request(console.say("alice", "/recycle shop-web --reason hung"), "awaiting_approval")
        story.expect(waiting.plan is not None and waiting.plan.waves == [["web01"], ["web02"]],
                     f"expected one host per wave, got {waiting.plan.waves if waiting.plan else None}")
        own = console.say("alice", f"/recycle approve {waiting.id}")
        story.expect(isinstance(own, ErrorView) and own.code == "not_allowed", "alice approved her own request")
        done = story.request(console.say("bob", f"/recycle approve {waiting.id}"), "succeeded")
        story.expect(done.ran_now and [h.host for h in done.hosts] == ["web01", "web02"], "not both hosts")
        for host in done.hosts:
            story.expect(_new_processes(host), f"{host.host}: PIDs {host.pids_before} -> {host.pids_after}")
            print(f"  {host.host}: {_workers(host, 'workers_before')} -> {_workers(host, 'workers_after')}",
                  file=story.out)
        order = [(e.kind.value, e.host) for e in console.notifier.events
                 if e.request_id == done.id and e.host is not None]
        story.expect(order == [("host_started", "web01"), ("host_finished", "web01"),
                               ("host_started", "web02"), ("host_finished", "web02")],
                     f"the hosts did not restart one at a time: {order}")

    with story.scene("The shop hangs again, and nobody has noticed yet",
                     "The bot watches the shop: a few times a second here (every minute in real life) it sends "
                     "each host the warm-up's own request. web02's worker hangs; after three probes in a row "
                     "without an answer while the worker lives, the channel hears of it, with the evidence and the "
                     "narrowest restart: the worker kill on web02 alone. Alice takes the offer, Bob approves, "
                     "and the same message says the host recovered by that request."):
        watcher, heard = demo_watcher(console.service, story.out)
        watch_until(story, watcher, lambda: True, rounds=1)  # the healthy shop: the workers it knows
        story.expect(story.sim.control("hang web02").startswith("ok"), "the farm did not hang web02")
        watch_until(story, watcher, lambda: any(change == "opened" for change, _ in heard.heard), rounds=8)
        _, incident = next(item for item in heard.heard if item[0] == "opened")
        story.expect((incident.host, incident.kind, incident.offer) == ("web02", "hung", "worker"),
                     f"expected a hung web02 offering the worker kill, got {incident}")
        waiting = story.request(console.say("alice", "/recycle shop-web --reason hung --host web02"),
                                "awaiting_approval")
        done = story.request(console.say("bob", f"/recycle approve {waiting.id}"), "succeeded")
        story.expect([h.host for h in done.hosts] == ["web02"], "the kill was not on web02 alone")
        watch_until(story, watcher, lambda: any(change == "closed" for change, _ in heard.heard), rounds=4)
        closed = next(i for change, i in heard.heard if change == "closed")
        story.expect(closed.recovered_by == waiting.id, f"expected recovery by {waiting.id}, got {closed}")

    with story.scene("A worker kill on an IIS 5 isolation host",
                     "legacy runs on IIS 5 isolation mode: one aspnet_wp.exe serves every site, so killing it "
                     "is server-wide. Refused, with the narrower restart that does the job."):
        view = story.request(console.say("alice", "/recycle legacy --scope worker"), "refused")
        story.expect(view.decision is not None and view.decision.alternative is not None,
                     "no narrower alternative was offered")

    with story.scene("Old habits",
                     "IISRESET takes every site on the server down. The bot never runs it, and says what to do."):
        refusal = console.say("alice", "/recycle iisreset")
        story.expect(isinstance(refusal, RefusalView) and refusal.decision.alternative == "appdomain",
                     "IISRESET was not refused with the narrow alternative")

    with story.scene("A host stops answering mid-rollout",
                     "web01 stops answering WinRM. The bot gives up on it at its deadline, stops the rollout "
                     "before touching web02, and prints the command that resumes from there."):
        story.expect(story.sim.control("silent web01").startswith("ok"), "the farm did not break web01")
        view = story.request(console.say("alice", f"/recycle shop-web --changed {SHOP_CONFIG}"), "failed")
        first = view.hosts[0] if view.hosts else None
        story.expect(first is not None and first.host == "web01" and first.error_code == "winrm_timeout",
                     f"expected web01 to time out, got {first}")
        story.expect(view.untouched == ["web02"] and bool(view.resume), f"untouched {view.untouched}")
        story.expect(story.sim.control("heal web01").startswith("ok"), "the farm did not heal web01")
        resumed = story.request(console.say("alice", f"/{view.resume}"), "succeeded")  # resume: "recycle ..."
        story.expect([h.host for h in resumed.hosts if h.outcome == "succeeded"] == ["web02"],
                     "the resume command did not restart exactly the untouched host")

    with story.scene("The audit trail", "Every request, approval and result, never edited:"):
        events = console.service.audit().root
        for event in events:
            print(f"  {event.at:%H:%M:%S} {event.request_id} {event.action:<11} {event.state_to:<17} "
                  f"{event.site:<9} {event.rung:<9} by {event.actor_display}", file=story.out)
        finished = sum(1 for e in events if e.action == "finished")
        story.expect(finished == 7, f"expected 7 restarts to have finished, the audit shows {finished}")


def watch_until(story: Story, watcher: Watcher, done: Callable[[], bool], rounds: int) -> None:
    """Probe the shop round by round, as `serve` would, at most `rounds` times, until `done`."""
    pause = threading.Event()  # never set: the interval between rounds
    for _ in range(rounds):
        watcher.probe_site("shop-web")
        if done():
            return
        pause.wait(0.3)
    story.expect(False, f"the watch did not see it within {rounds} rounds")


def _new_processes(host: object) -> bool:
    """Every worker is a new process: (PID, start time), since Windows (and the farm) reuse PIDs."""
    before = {(w["pid"], w["started_at"]) for w in getattr(host, "workers_before", [])}
    after = {(w["pid"], w["started_at"]) for w in getattr(host, "workers_after", [])}
    return bool(after) and not before & after


def _workers(host: object, which: str) -> str:
    """`PID 4242 started 09:14:03.120`: what tells a new worker from an old one with a reused PID."""
    workers = getattr(host, which, [])
    return ", ".join(f"PID {w['pid']} started {str(w['started_at'])[11:23]}" for w in workers) or "no worker"
