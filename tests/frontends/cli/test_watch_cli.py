"""`aspreset watch SITE`: a person watching one site sees, per host and round, what the probe saw on
the simulated farm (over real WinRM), the hung host told apart from its healthy neighbour; it keeps
nothing in the store."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from bot.app.results import ProbeWorker
from bot.app.watch.classify import Finding, Kind, Reading
from bot.app.watch.incidents import Incident
from bot.cli import main
from bot.cli.watch import Heard, table
from bot.sim.cli import inventory_toml
from bot.sim.control import apply
from bot.store import SqlStore
from bot.store.incidents import SqlIncidents

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def test_watch_shows_each_host_per_round_and_the_hung_one_as_hung(capsys, tmp_path, demo_farm, farm_inventory):
    farm_file = tmp_path / "farm.toml"
    farm_file.write_text(inventory_toml(farm_inventory))
    files = ["--inventory", str(farm_file), "--policy", str(EXAMPLES / "policy.toml"),
             "--db", f"sqlite:///{tmp_path / 'a.db'}"]
    apply(demo_farm, "hang web02")
    code = main(["watch", "shop-web", "--interval", "1", "--rounds", "2", *files])
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["round 1 web01", "round 1 web02", "round 2 web01",
                                                       "round 2 web02"]
    assert lines[0].startswith("round 1 web01: HTTP 200") and lines[0].endswith(": ok")
    assert "hung: no answer within 0.5 s while worker" in lines[1]
    store = SqlStore(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        assert SqlIncidents(store).incidents() == []  # the terminal's incidents are its own
    finally:
        store.close()


def test_watch_refuses_an_unknown_site_and_a_bad_interval(capsys, tmp_path):
    files = ["--inventory", str(EXAMPLES / "inventory.toml"), "--policy", str(EXAMPLES / "policy.toml"),
             "--db", f"sqlite:///{tmp_path / 'a.db'}"]
    assert main(["watch", "shop-wbe", "--rounds", "1", *files]) != 0
    assert "unknown site 'shop-wbe'" in capsys.readouterr().err
    assert main(["watch", "shop-web", "--interval", "0.1", "--rounds", "1", *files]) != 0
    assert "--interval 0.1" in capsys.readouterr().err


def test_the_live_table_shows_a_row_per_host_with_what_was_seen_and_the_open_incident():
    now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    heard = Heard()
    heard.incident(Incident(id="i-abc234", site="shop-web", host="web02", kind="hung", opened_at=now, updated_at=now,
                            probes=3, evidence="no answer", first_evidence="no answer"), "opened")
    readings = [
        Reading("web01", (), ms=31, status=200, pool_state="Started",
                workers=(ProbeWorker(pid=4000, started_at="x", private_bytes=300 * 1024 * 1024),)),
        Reading("web02", (Finding(Kind.HUNG, "no answer within 10 s"),), pool_state="Started",
                workers=(ProbeWorker(pid=4004, started_at="y", private_bytes=200 * 1024 * 1024),)),
    ]
    out = io.StringIO()
    Console(file=out, width=120, color_system=None).print(table("shop-web", readings, heard, 4))
    shown = out.getvalue()
    assert "shop-web: round 4" in shown
    row1 = next(line for line in shown.splitlines() if "web01" in line)
    row2 = next(line for line in shown.splitlines() if "web02" in line)
    assert "ok" in row1 and "200" in row1 and "4000" in row1 and "300" in row1
    assert "hung" in row2 and "4004" in row2 and "i-abc234 since 09:00:00Z" in row2
