"""`make demo`: the demo team's morning, told through the chat console against a simulated IIS farm
on 127.0.0.1 (real WinRM protocol, real PIDs in the farm's model) and a throwaway SQLite store."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from bot.bootstrap import build
from bot.chat import handle_text
from bot.config import Settings, WinRMSettings
from bot.sim.farm import Farm
from bot.sim.timing import SimTiming
from bot.store import open_store
from bot.winrm.executor import WinRMExecutor
from policies.files import load_inventory, load_policy

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# (who, what they type, what the narrator says first)
SCENES: tuple[tuple[str, str, str], ...] = (
    ("alice", "/recycle plan shop-web --changed bin/Shop.Web.dll",
     "A deploy replaced a DLL in bin/. ASP.NET restarts by itself: no restart needed."),
    ("alice", "/recycle shop-web --changed App_Config/connectionStrings.config",
     "An external config file changed: only the app's AppDomain restarts; the worker PID stays."),
    ("alice", "/recycle intranet --reason gac",
     "An assembly was updated in the GAC: the pool recycles, and the plan names every app in it."),
    ("alice", "/recycle shop-web --reason hung",
     "The shop hangs. Killing its worker needs a second person: the request waits."),
    ("alice", "/recycle approve {request}", "Alice cannot approve her own request."),
    ("bob", "/recycle approve {request}", "Bob, a lead, approves: the kill runs on both hosts, once."),
    ("bob", "/recycle approve {request}", "A second click does nothing more."),
    ("carol", "/recycle shop-web", "Carol has no rights on the shop."),
    ("alice", "/recycle legacy --reason hung",
     "The legacy host runs IIS 5 isolation mode: one aspnet_wp.exe for every site. Killing it is server-wide."),
    ("alice", "/recycle iisreset /noforce", "Old habits: IISRESET is never run, and the bot says what to do instead."),
    ("alice", "/recycle status shop-web", "Where things stand now."),
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
        request = ""
        try:
            for person, text, narration in SCENES:
                line = text.format(request=request)
                print(f"\n# {narration}\n{person}> {line}")
                reply = handle_text(line, service.principal(person), service, origin="demo")
                print(_indent(reply.text))
                found = re.search(r"Request (r-[a-z0-9]+)", reply.text)
                if "--reason hung" in line and found and reply.exit_code == 4:
                    request = found.group(1)
            print("\n# The audit trail (never edited):")
            for event in store.audit():
                print(f"  {event.request_id} {event.action.value:<11} {event.state_to.value:<17} {event.site} "
                      f"{event.rung.value} by {service.display(event.actor)}")
        finally:
            store.close()
    return 0


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.splitlines())
