"""A big run cut off hard, as its channel message shows it: 300 hosts in waves of 50, the first two
waves done (one host failed), the third under way when the runner died. The message the sweeper or
the next start puts in place of the running one keeps to Slack's limits, shows every host somewhere
(the message or its thread), marks the unknown ones as such without PIDs, and its one button
finishes the 182 hosts not known done (the failed one, the unknown ones, the never started ones)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.app.present import request_view
from bot.app.records import NewRequest
from bot.slack.blocks import RETRY, render_request
from bot.store.memory import MemoryStore
from commands.model import RestartRequest
from commands.rungs import Rung
from policies.files import parse_policy
from policies.inventory import Host, Inventory, Site
from policies.planner import plan

POLICY = parse_policy((Path(__file__).resolve().parents[3] / "examples" / "policy.toml").read_text().replace(
    '[environments.staging]\n', '[environments.staging]\nmax_parallel = 50\n'), "policy.toml")
HOSTS = [f"web{i:03d}" for i in range(300)]
T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def test_a_300_host_run_cut_off_hard_shows_each_host_within_slacks_limits_and_offers_the_rest():
    inventory = Inventory(hosts={h: Host(address=f"{h}.example", transport="basic", lab=True) for h in HOSTS},
                          sites={"farm": Site(environment="staging", hosts=HOSTS, iis_site="Farm", pool="FarmPool")})
    the_plan = plan(RestartRequest(site="farm", scope=Rung.APPPOOL), inventory, POLICY)
    assert [len(w) for w in the_plan.host_waves] == [50] * 6
    store = MemoryStore()
    request = store.create_request(NewRequest(site="farm", rung=Rung.APPPOOL, hosts=tuple(HOSTS), pool="FarmPool",
                                              requester="U01ALICE", origin="slack:C0SHOP", plan=the_plan.to_dict()),
                                   (), T0)
    store.claim_for_run(request.id, T0, owner="machine-a/4242")
    finished = [{"host": h, "rung": "apppool", "method": "recycle", "pids_before": [4000 + i],
                 "pids_after": [9000 + i], "duration_ms": 900,
                 "outcome": "failed" if h == "web042" else "succeeded",
                 "error": "the pool did not come back" if h == "web042" else None}
                for i, h in enumerate(HOSTS[:119])]  # web119, the third wave's first, not written yet
    store.record_hosts(request.id, {"hosts": finished, "dispatched": HOSTS[:150]})
    store.mark_interrupted(T0 + timedelta(minutes=5), request_id=request.id)

    view = request_view(store.get(request.id), POLICY)
    rendered = render_request(view)

    assert len(rendered.blocks) <= 50
    assert all(len(b["text"]["text"]) <= 3000 for b in rendered.blocks if b["type"] == "section")
    sections = [b["text"]["text"] for b in rendered.blocks if b["type"] == "section"]
    everywhere = "\n".join(sections + rendered.overflow)
    assert all(f"*{h}*" in everywhere for h in HOSTS), "every host is in the message or its thread"
    assert "*web000* succeeded · apppool (recycle) · PIDs 4000 → 9000" in everywhere
    assert "*web119* state unknown\n" in everywhere and "PIDs" not in everywhere.split("*web119*")[1][:80]
    assert "*web150* not started" in everywhere
    [finish] = [e for b in rendered.blocks if b["type"] == "actions" for e in b["elements"] if e["action_id"] == RETRY]
    assert finish["text"]["text"] == "Finish the 182 hosts left" and finish["value"] == request.id
    assert view.retry == "recycle farm --scope apppool --host " + " ".join(["web042", *HOSTS[119:]])
    assert view.in_flight == HOSTS[119:150] and view.untouched == HOSTS[150:]
