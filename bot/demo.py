"""`make demo`: the demo team's morning, told through the chat console against a simulated IIS farm
on 127.0.0.1 (real WinRM protocol, real PIDs in the farm's model) and a throwaway SQLite store.

Each scene checks the view the core returned (not the printed text): the demo exits 0 when every
scene behaved as told and non-zero naming the scene that did not.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.app.dispatch import handle_text
from bot.app.service import Service
from bot.app.views import PlanView, RefusalView, RequestView, StatusView, View
from bot.bootstrap import build
from bot.cli.render import text as render_text
from bot.config import Settings, WinRMSettings
from bot.sim.farm import Farm
from bot.sim.timing import SimTiming
from bot.store import open_store
from bot.winrm.executor import WinRMExecutor
from policies.files import load_inventory, load_policy

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

Check = Callable[[View, "Story"], str | None]  # None when the view is as told, else what went wrong


@dataclass
class Story:
    """What the scenes remember of each other (the request waiting for approval, its PIDs)."""

    farm: Farm
    request: str = ""


@dataclass(frozen=True)
class Scene:
    person: str
    line: str  # may name {request}
    narration: str
    check: Check


def _plan(rung: str, outcome: str = "allow") -> Check:
    def check(view: View, story: Story) -> str | None:
        if not isinstance(view, PlanView):
            return f"expected a plan, got {view.kind}"
        if (view.rung, view.decision.outcome) != (rung, outcome):
            return f"expected {rung}/{outcome}, got {view.rung}/{view.decision.outcome}"
        return None
    return check


def _ran(rung: str, *, new_pids: bool, blast: str | None = None) -> Check:
    def check(view: View, story: Story) -> str | None:
        if not isinstance(view, RequestView) or view.state != "succeeded":
            return f"expected a succeeded request, got {getattr(view, 'state', view.kind)}"
        if view.rung != rung or not view.hosts:
            return f"expected {rung} on every host, got {view.rung} on {len(view.hosts)}"
        for host in view.hosts:
            # A process is (PID, start time): Windows, and the simulated farm, reuse PIDs.
            before = {(w["pid"], w["started_at"]) for w in getattr(host, "workers_before", [])}
            after = {(w["pid"], w["started_at"]) for w in getattr(host, "workers_after", [])}
            changed = after != before
            if not host.pids_after or changed != new_pids:
                return f"{host.host}: PIDs {host.pids_before} -> {host.pids_after}"
        if blast and view.plan is not None and blast not in view.plan.blast_radius:
            return f"{blast} missing from the blast radius {view.plan.blast_radius}"
        return None
    return check


def _waits(view: View, story: Story) -> str | None:
    if not isinstance(view, RequestView) or not view.waiting:
        return f"expected a request awaiting approval, got {getattr(view, 'state', view.kind)}"
    story.request = view.id
    return None


def _error(code: str) -> Check:
    def check(view: View, story: Story) -> str | None:
        return None if view.kind == "error" and getattr(view, "code", "") == code else f"expected error {code}"
    return check


def _refused(view: View, story: Story) -> str | None:
    if isinstance(view, RefusalView):
        return None
    if isinstance(view, RequestView) and view.state == "refused":
        return None
    return f"expected a refusal, got {getattr(view, 'state', view.kind)}"


def _already_done(view: View, story: Story) -> str | None:
    if isinstance(view, RequestView) and view.state == "succeeded" and view.message:
        return None
    return "expected the request already succeeded, with nothing more run"


def _status(view: View, story: Story) -> str | None:
    return None if isinstance(view, StatusView) and view.all_ok else "expected every host to answer status"


SCENES: tuple[Scene, ...] = (
    Scene("alice", "/recycle plan shop-web --changed bin/Shop.Web.dll",
          "A deploy replaced a DLL in bin/. ASP.NET restarts by itself: no restart needed.", _plan("none")),
    Scene("alice", "/recycle shop-web --changed App_Config/connectionStrings.config",
          "An external config file changed: only the app's AppDomain restarts; the worker PID stays.",
          _ran("appdomain", new_pids=False)),
    Scene("alice", "/recycle intranet --reason gac",
          "An assembly was updated in the GAC: the pool recycles, and the plan names every app in it.",
          _ran("apppool", new_pids=True, blast="intranet-api")),
    Scene("alice", "/recycle shop-web --reason hung",
          "The shop hangs. Killing its worker needs a second person: the request waits.", _waits),
    Scene("alice", "/recycle approve {request}", "Alice cannot approve her own request.", _error("not_allowed")),
    Scene("bob", "/recycle approve {request}", "Bob, a lead, approves: the kill runs on both hosts, once.",
          _ran("worker", new_pids=True)),
    Scene("bob", "/recycle approve {request}", "A second click does nothing more.", _already_done),
    Scene("carol", "/recycle shop-web", "Carol has no rights on the shop.", _refused),
    Scene("alice", "/recycle legacy --reason hung",
          "The legacy host runs IIS 5 isolation mode: one aspnet_wp.exe for every site. Killing it is server-wide.",
          _refused),
    Scene("alice", "/recycle iisreset /noforce",
          "Old habits: IISRESET is never run, and the bot says what to do instead.", _refused),
    Scene("alice", "/recycle status shop-web", "Where things stand now.", _status),
)


def run_demo() -> int:
    policy = load_policy(EXAMPLES / "policy.toml")
    timing = SimTiming(worker_start_s=0.05, drain_s=0.3, poll_s=0.02)
    with Farm.from_inventory(load_inventory(EXAMPLES / "inventory.toml"), timing=timing) as farm, \
            tempfile.TemporaryDirectory(prefix="aspreset-demo-") as workdir:
        print(f"Simulated IIS farm on 127.0.0.1: {', '.join(f'{n} {h.endpoint}' for n, h in farm.hosts.items())}")
        store = open_store(None, Path(workdir))
        settings = Settings.of(policy, farm.client_inventory(), workdir=Path(workdir),
                               winrm=WinRMSettings(command_timeout_s=30), owner="demo")
        service = build(settings, executor=WinRMExecutor(max_parallel=4), store=store)
        try:
            failed = play(service, Story(farm))
            if failed:
                return 1
            print("\n# The audit trail (never edited):")
            for event in service.audit().root:
                print(f"  {event.request_id} {event.action:<11} {event.state_to:<17} {event.site} "
                      f"{event.rung} by {event.actor_display}")
        finally:
            store.close()
    print("\nEvery scene behaved as told.")
    return 0


def play(service: Service, story: Story) -> str | None:
    """Play every scene; returns the narration of the first that did not behave as told."""
    for number, scene in enumerate(SCENES, start=1):
        line = scene.line.format(request=story.request)
        print(f"\n# {scene.narration}\n{scene.person}> {line}")
        view = handle_text(line, service.principal(scene.person), service, origin="demo")
        print(_indent(render_text(view)))
        problem = scene.check(view, story)
        if problem:
            print(f"\nDEMO FAILED at scene {number} ({scene.narration}): {problem}")
            return scene.narration
    return None


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.splitlines())
