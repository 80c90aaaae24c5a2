"""`aspreset doctor HOST --exercise SITE` runs each rung once on a canary site against the simulated
farm and says what each observation showed; any site the policy does not name is refused. Each rung
is a request like any restart: recorded in the audit trail and approved as the policy says, unless the
policy waives the approvals for that canary (`exercise_waives_approval`)."""

from __future__ import annotations

import json
from pathlib import Path

from bot.cli import main
from bot.sim.cli import inventory_toml
from bot.store import SqlStore

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def _files(tmp_path, farm_inventory, policy: str | None = None) -> list[str]:
    path = tmp_path / "farm.toml"
    path.write_text(inventory_toml(farm_inventory))
    policy_path = tmp_path / "policy.toml"
    policy_path.write_text(policy if policy is not None else (EXAMPLES / "policy.toml").read_text())
    return ["--inventory", str(path), "--policy", str(policy_path), "--db", f"sqlite:///{tmp_path / 'a.db'}",
            "--as", "alice"]


def test_exercise_runs_every_rung_once_on_the_canary_and_reports_the_evidence(
    demo_farm, farm_inventory, tmp_path, capsys
):
    web03 = demo_farm.host("web03")
    shared = {(w.pid, w.started_at) for w in web03.iis.workers(web03.pool("SharedPool"))}
    code = main(["doctor", "web03", "--exercise", "canary", *_files(tmp_path, farm_inventory), "--json"])

    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["ok"], report
    rungs = {r["rung"]: r for r in report["rungs"]}
    assert list(rungs) == ["none", "appdomain", "apppool", "worker"]
    assert all(r["outcome"] == "succeeded" for r in rungs.values())
    assert "restart_counter_grew" in rungs["appdomain"]["evidence"]
    assert {"old_workers_gone", "new_worker"} <= set(rungs["worker"]["evidence"])
    assert "Host: canary-" in rungs["apppool"]["warmup"] and "Microsoft-IIS" in rungs["apppool"]["warmup"]
    # The other pool on the host was not touched.
    assert shared and {(w.pid, w.started_at) for w in web03.iis.workers(web03.pool("SharedPool"))} == shared


def test_exercise_text_says_what_each_observation_showed(demo_farm, farm_inventory, tmp_path, capsys):
    code = main(["doctor", "web03", "--exercise", "canary", *_files(tmp_path, farm_inventory)])

    out = capsys.readouterr().out
    assert code == 0
    assert "the ASP.NET 'Application Restarts' counter grew" in out
    assert "every worker process from before (PID and start time) has exited" in out


def test_exercise_refuses_a_site_the_policy_does_not_name_and_runs_nothing(
    demo_farm, farm_inventory, tmp_path, capsys
):
    pids = demo_farm.host("web01").pids("ShopPool")
    code = main(["doctor", "web01", "--exercise", "shop-web", *_files(tmp_path, farm_inventory)])

    err = capsys.readouterr().err
    assert code == 3 and "canary_sites" in err
    assert demo_farm.host("web01").received == [] and demo_farm.host("web01").pids("ShopPool") == pids


def test_each_exercised_rung_is_a_request_in_the_audit_trail(demo_farm, farm_inventory, tmp_path, capsys):
    code = main(["doctor", "web03", "--exercise", "canary", *_files(tmp_path, farm_inventory), "--json"])

    report = json.loads(capsys.readouterr().out)
    assert code == 0 and [r["request_id"] for r in report["rungs"]] and all(r["request_id"] for r in report["rungs"])
    with SqlStore(f"sqlite:///{tmp_path / 'a.db'}") as store:
        for run in report["rungs"]:
            request = store.get(run["request_id"])
            assert (request.origin, request.rung.value, request.hosts, request.state.value) == (
                "doctor-exercise", run["rung"], ("web03",), "succeeded")
            actions = [e.action.value for e in store.audit(request_id=request.id)]
            assert actions == ["requested", "started", "finished"]
        worker = store.get(report["rungs"][-1]["request_id"])
        assert worker.decision["rule"] == "exercise_waives_approval"


def test_without_the_waiver_the_worker_kill_waits_for_a_lead_and_runs_when_he_approves(
    demo_farm, farm_inventory, tmp_path, capsys
):
    policy = (EXAMPLES / "policy.toml").read_text().replace('exercise_waives_approval = ["canary"]\n', "")
    files = _files(tmp_path, farm_inventory, policy)
    canary = demo_farm.host("web03").pool("CanaryPool")
    code = main(["doctor", "web03", "--exercise", "canary", *files, "--json"])

    report = json.loads(capsys.readouterr().out)
    rungs = {r["rung"]: r for r in report["rungs"]}
    assert code == 4 and report["waiting"] and not report["ok"]
    assert [rungs[r]["outcome"] for r in ("none", "appdomain", "apppool")] == ["succeeded"] * 3
    worker = rungs["worker"]
    assert worker["outcome"] == "awaiting_approval" and "aspreset approve" in worker["detail"]
    before = demo_farm.host("web03").processes("CanaryPool")
    assert canary.state == "Started" and before

    approve = [a for a in files if a not in ("--as", "alice")]
    code = main(["approve", worker["request_id"], *approve, "--as", "bob", "--json"])

    done = json.loads(capsys.readouterr().out)
    assert code == 0 and done["state"] == "succeeded"
    assert not demo_farm.host("web03").processes("CanaryPool") & before
