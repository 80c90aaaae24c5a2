"""`aspreset doctor HOST --exercise SITE` runs each rung once on a canary site against the simulated
farm and says what each observation showed; any site the policy does not name is refused."""

from __future__ import annotations

import json
from pathlib import Path

from bot.cli import main
from bot.sim.cli import inventory_toml

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def _files(tmp_path, farm_inventory) -> list[str]:
    path = tmp_path / "farm.toml"
    path.write_text(inventory_toml(farm_inventory))
    return ["--inventory", str(path), "--policy", str(EXAMPLES / "policy.toml")]


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
