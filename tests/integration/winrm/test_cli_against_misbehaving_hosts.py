"""What a person sees from `aspreset recycle` and `aspreset status` when one host misbehaves: the
command returns by the configured deadline, the message is a sentence naming the host and what to
check, the exit code says execution failed, the request is finished (partially failed: the other
host restarted) and its locks are free the moment the command returns."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile_endpoint import HostileEndpoint
from sqlalchemy import create_engine, func, select

from bot.cli import main
from bot.sim.cli import inventory_toml
from bot.sim.farm import Farm
from bot.sim.timing import SimTiming
from bot.sim.wsman import WsmanFaultSpec
from bot.store import SqlStore
from bot.store.schema import request_locks
from bot.winrm.fault_codes import MAX_OPERATIONS, MAX_SHELLS
from policies.files import load_inventory

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
STATUS_DEADLINE_S = 1.5
RESTART_DEADLINE_S = 6.5  # the least [winrm] allows for command_timeout_s = 1 and cleanup_budget_s = 0.5
WINRM = f"""
[winrm]
connect_timeout_s = 2
command_timeout_s = 1
status_deadline_s = {STATUS_DEADLINE_S}
discover_deadline_s = 3
restart_deadline_s = {RESTART_DEADLINE_S}
cleanup_budget_s = 0.5
"""


@pytest.fixture
def demo_farm() -> Iterator[Farm]:
    with Farm.from_inventory(load_inventory(EXAMPLES / "inventory.toml"), timing=SimTiming.fast()) as farm:
        yield farm


@pytest.fixture
def hostile(demo_farm) -> Iterator[HostileEndpoint]:
    with HostileEndpoint(demo_farm.host("web01").wsman_port) as endpoint:
        yield endpoint


@pytest.fixture
def config(demo_farm, hostile, tmp_path) -> Path:
    """aspreset.toml for the demo farm, with web01 reached through the misbehaving endpoint."""
    inventory = demo_farm.client_inventory()
    hosts = dict(inventory.hosts)
    hosts["web01"] = hosts["web01"].model_copy(update={"port": hostile.port})
    (tmp_path / "farm.toml").write_text(inventory_toml(inventory.model_copy(update={"hosts": hosts})))
    # prod restarts one host at a time and stops at the first failure; keep going, so web02 still
    # restarts after web01 failed and each test sees both hosts' outcomes
    policy = (EXAMPLES / "policy.toml").read_text().replace(
        '[environments.prod]\nwidest_rung = "worker"\n',
        '[environments.prod]\nwidest_rung = "worker"\nkeep_going = true\n',
    )
    (tmp_path / "policy.toml").write_text(policy)
    path = tmp_path / "aspreset.toml"
    path.write_text(
        f'policy = "{tmp_path / "policy.toml"}"\ninventory = "farm.toml"\ndb = "sqlite:///{tmp_path / "a.db"}"\n'
        + WINRM
    )
    return path


def _run(capsys, *argv: str) -> tuple[int, str, str, float]:
    started = time.monotonic()
    code = main(list(argv))
    took = time.monotonic() - started
    out, err = capsys.readouterr()
    return code, out, err, took


def _locks_held(config: Path, request_id: str) -> int:
    engine = create_engine(f"sqlite:///{config.parent / 'a.db'}")
    try:
        with engine.connect() as conn:
            return int(conn.execute(
                select(func.count()).select_from(request_locks).where(request_locks.c.request_id == request_id)
            ).scalar_one())
    finally:
        engine.dispose()


def _recycle(capsys, config: Path) -> tuple[int, dict, float]:
    # The AppDomain unload (wmi-unload) reads nothing from the hosts while planning (a recycle's plan
    # reads each host's pool first), so the misbehaviour meets the restart itself.
    code, out, err, took = _run(capsys, "recycle", "shop-web", "--scope", "appdomain", "--as", "alice", "--config",
                                str(config), "--json")
    assert not err.strip() or "Traceback" not in err
    return code, json.loads(out), took


SCENARIOS = [
    # (how web01 misbehaves, error code, what the message says, costs the whole deadline)
    ("silent", ["Create"], "winrm_timeout", "while opening a shell; gave up after", True),
    ("drip", ["Receive"], "winrm_timeout", "while receiving the appdomain output; gave up after", True),
    ("html", ["Create"], "protocol_error", "with a web page ('Proxy Authentication Required')", False),
    ("not_xml", ["Receive"], "protocol_error", "something that is not XML", False),
    ("reset", ["Receive"], "host_unreachable", "reset the connection while receiving the appdomain output", False),
]


@pytest.mark.parametrize(("kind", "actions", "code", "said", "slow"), SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_a_misbehaving_host_fails_its_part_of_the_request_which_ends_finished_and_unlocked(
    capsys, config, hostile, kind, actions, code, said, slow
):
    hostile.misbehave(kind, actions=actions, times=1)

    exit_code, view, took = _recycle(capsys, config)

    assert exit_code == 1
    assert view["state"] == "partially_failed"
    web01, web02 = view["hosts"]
    assert web02["outcome"] == "succeeded"
    assert web01["host"] == "web01" and web01["outcome"] == "failed" and web01["error_code"] == code
    assert said in web01["error"]
    assert "Error" not in web01["error"] and "Exception" not in web01["error"]
    assert _locks_held(config, view["id"]) == 0
    assert took < (RESTART_DEADLINE_S + 2 if slow else 3)
    with SqlStore(f"sqlite:///{config.parent / 'a.db'}") as store:
        assert store.get(view["id"]).state.value == "partially_failed"


@pytest.mark.parametrize(
    ("arm", "code", "said"),
    [
        (lambda host: host.inject_unauthorized(), "auth_failed", "refused user 'aspreset-lab' (HTTP 401) over Basic"),
        (lambda host: host.inject_fault(WsmanFaultSpec(MAX_SHELLS, "w:QuotaLimit", "Too many shells."),
                                        actions=["Create"]), "protocol_error", "MaxShellsPerUser"),
        (lambda host: host.inject_fault(WsmanFaultSpec(MAX_OPERATIONS, "w:QuotaLimit", "Too many operations."),
                                        actions=["Command"]), "protocol_error", "MaxConcurrentOperationsPerUser"),
    ],
    ids=["401", "max-shells", "max-operations"],
)
def test_a_host_that_refuses_fails_with_what_to_change_and_frees_the_locks(capsys, config, demo_farm, arm, code, said):
    arm(demo_farm.host("web01"))

    exit_code, view, _ = _recycle(capsys, config)

    assert exit_code == 1 and view["state"] == "partially_failed"
    web01 = view["hosts"][0]
    assert web01["error_code"] == code and said in web01["error"]
    assert _locks_held(config, view["id"]) == 0


def test_the_next_request_for_the_same_pool_is_not_locked_out_after_a_timeout(capsys, config, hostile):
    hostile.misbehave("stall", actions=["Create"], times=1)
    first_code, first, _ = _recycle(capsys, config)

    second_code, second, _ = _recycle(capsys, config)

    assert first_code == 1 and first["hosts"][0]["error_code"] == "winrm_timeout"
    assert second_code == 0 and second["state"] == "succeeded"


def test_status_against_a_silent_host_honours_the_short_status_deadline(capsys, config, hostile):
    hostile.misbehave("silent")

    code, out, _, took = _run(capsys, "status", "shop-web", "--config", str(config))

    assert code == 1
    assert took < STATUS_DEADLINE_S + 1.0
    assert "web01" in out and f"of the {STATUS_DEADLINE_S:g} s status deadline ([winrm] status_deadline_s)" in out
    assert "web02" in out


@pytest.mark.parametrize(
    ("setting", "said"),
    [
        ("command_timeout_s = 1000", "winrm.command_timeout_s: must be at most 900, got 1000"),
        ("restart_deadline_s = 100", "restart_deadline_s = 100 must be at least command_timeout_s (180)"),
        ("cleanup_budget_s = 40", "cleanup_budget_s = 40 must be at most half the shortest deadline (30 s)"),
    ],
)
def test_a_winrm_setting_out_of_bounds_is_refused_at_load_naming_file_and_field(capsys, tmp_path, setting, said):
    path = tmp_path / "aspreset.toml"
    path.write_text(f'inventory = "{EXAMPLES / "inventory.toml"}"\n[winrm]\n{setting}\n')

    code, _, err, _ = _run(capsys, "status", "shop-web", "--config", str(path))

    assert code == 2
    assert str(path) in err and said in err
    assert "Traceback" not in err and "pydantic" not in err
