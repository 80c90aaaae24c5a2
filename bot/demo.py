"""`make demo`: the demo team's morning, told by the planner and the policy."""

from __future__ import annotations

from pathlib import Path

from bot.chat import handle_text
from bot.service import Service
from policies.files import load_inventory, load_policy

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

SCENARIOS = (
    ("alice", "/recycle plan shop-web --changed bin/Shop.Web.dll"),
    ("alice", "/recycle plan shop-web --changed App_Config/connectionStrings.config"),
    ("alice", "/recycle plan intranet --reason gac"),
    ("alice", "/recycle plan shop-web --reason hung"),
    ("alice", "/recycle plan shop-web --changed bin/Shop.Web.dll --scope apppool"),
    ("carol", "/recycle plan shop-web"),
    ("alice", "/recycle plan legacy --reason hung"),
    ("alice", "/recycle iisreset /noforce"),
    ("alice", "/recycle plan shop-web --scope server"),
)


def run_demo() -> int:
    service = Service(load_policy(EXAMPLES / "policy.toml"), load_inventory(EXAMPLES / "inventory.toml"))
    for person, text in SCENARIOS:
        reply = handle_text(text, service.principal(person), service)
        print(f"\n{person}> {text}\n{reply.text}")
    return 0
