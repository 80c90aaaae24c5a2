"""The CLI's promises, end to end: `aspreset sim` serves a farm that `aspreset recycle` restarts for
real, and a worker kill goes through request, refused self-approval, approval and audit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from bot.cli import main
from bot.sim.cli import inventory_toml

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
POLICY = str(EXAMPLES / "policy.toml")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_aspreset_sim_serves_a_farm_that_recycle_restarts_with_new_pids(tmp_path, capsys, wait_for_output):
    farm_file = tmp_path / "farm.toml"
    sim = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "sim", "--inventory", str(EXAMPLES / "inventory.toml"),
         "--inventory-out", str(farm_file)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "ASPRESET_CONFIG": ""},
    )
    try:
        # the farm prints this line once every host serves and the inventory file is written
        wait_for_output(sim.stdout, b"inventory for this farm")
        code, out, _ = run(capsys, "recycle", "shop-web", "--scope", "apppool", "--as", "alice", "--inventory",
                           str(farm_file), "--policy", POLICY, "--db", f"sqlite:///{tmp_path / 'a.db'}", "--json")
        assert code == 0, out
        result = json.loads(out)
        assert [h["host"] for h in result["hosts"]] == ["web01", "web02"]
        for host in result["hosts"]:
            assert host["outcome"] == "succeeded" and host["rung"] == "apppool"
            assert host["pids_after"] and not set(host["pids_before"]) & set(host["pids_after"])
            assert set(host) >= {"method", "appdomain_before", "appdomain_after", "warmup_status", "warmup_ms",
                                 "duration_ms", "error"}
    finally:
        sim.send_signal(signal.SIGINT)
        assert sim.wait(timeout=15) == 0


def test_a_worker_kill_from_the_cli_waits_is_refused_to_alice_and_runs_once_for_bob(
    demo_farm, farm_inventory, tmp_path, capsys
):
    farm_file = tmp_path / "farm.toml"
    farm_file.write_text(inventory_toml(farm_inventory))
    files = ["--inventory", str(farm_file), "--policy", POLICY, "--db", f"sqlite:///{tmp_path / 'a.db'}"]

    code, out, _ = run(capsys, "recycle", "shop-web", "--reason", "hung", "--as", "alice", *files, "--json")
    assert code == 4
    request_id = json.loads(out)["request_id"]
    # Only a read-only status ran (the kill's rapid-fail check reads the pool): nothing restarted before approval.
    assert {c.operation for c in demo_farm.host("web01").received} <= {"status"}, "nothing ran before approval"

    code, _, err = run(capsys, "approve", request_id, "--as", "alice", *files)
    assert code == 3 and "second person" in err

    code, out, _ = run(capsys, "approve", request_id, "--as", "bob", *files, "--json")
    assert code == 0
    hosts = json.loads(out)["hosts"]
    # Windows reuses PIDs: a process is (PID, start time).
    keys = [({(w["pid"], w["started_at"]) for w in h["workers_before"]},
             {(w["pid"], w["started_at"]) for w in h["workers_after"]}) for h in hosts]
    assert all(after and not before & after for before, after in keys)
    pids_now = demo_farm.host("web01").pids("ShopPool")

    code, out, _ = run(capsys, "approve", request_id, "--as", "bob", *files)
    assert code == 0 and "nothing more" in out
    assert demo_farm.host("web01").pids("ShopPool") == pids_now

    code, out, _ = run(capsys, "audit", *files, "--json")
    story = [(e["request_id"], e["action"]) for e in json.loads(out)]
    assert story == [(request_id, a) for a in ("requested", "approved", "started", "finished")]
    code, out, _ = run(capsys, "requests", "--state", "succeeded", *files, "--json")
    assert [r["id"] for r in json.loads(out)] == [request_id]
