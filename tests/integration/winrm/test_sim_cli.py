"""`aspreset sim` serves a farm that makes an inventory real and writes the inventory that points
at it, so every other command can use the farm unchanged."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
import threading
from pathlib import Path

from bot.app.results import OperationParams, RestartResult
from bot.app.verification import judge
from bot.sim.cli import run
from bot.sim.timing import SimTiming
from bot.winrm.executor import WinRMExecutor
from commands.rungs import Rung
from policies.files import load_inventory

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "inventory.toml"


def _serve(tmp_path: Path, inventory: Path | None, hosts: int | None):
    out_path = tmp_path / "farm.toml"
    ready, stop = threading.Event(), threading.Event()
    printed = io.StringIO()
    codes: list[int] = []
    thread = threading.Thread(
        target=lambda: codes.append(
            run(inventory, out_path, hosts, timing=SimTiming.fast(), out=printed, ready=ready, stop=stop)
        )
    )
    thread.start()
    assert ready.wait(10), "the farm did not start"
    return out_path, printed, stop, thread, codes


def test_sim_serves_the_example_inventory_and_recycles_shop_web_with_new_pids(tmp_path):
    out_path, printed, stop, thread, codes = _serve(tmp_path, EXAMPLE, None)
    try:
        farm = load_inventory(out_path)
        example = load_inventory(EXAMPLE)
        assert farm.sites == example.sites and farm.hosts.keys() == example.hosts.keys()
        assert all(h.address == "127.0.0.1" and h.lab and h.transport == "basic" for h in farm.hosts.values())
        assert printed.getvalue().count("winrm http://127.0.0.1:") == len(example.hosts)

        site = farm.sites["shop-web"]
        calls = [
            (
                name,
                farm.hosts[name],
                OperationParams(
                    op="apppool",
                    iis_site=site.iis_site,
                    pool=site.pool,
                    warmup_url=f"{farm.hosts[name].warmup_base_url}{site.warmup_path}",
                    timeout_s=10,
                ),
            )
            for name in site.hosts
        ]
        results = WinRMExecutor(env={}).run_many(calls)
        for result in results:
            assert isinstance(result, RestartResult) and result.ok, result
            assert judge(Rung.APPPOOL, site.pool, result).error_code is None
            before = {(w.pid, w.started_at) for w in result.before.workers}  # type: ignore[union-attr]
            after = {(w.pid, w.started_at) for w in result.after.workers}  # type: ignore[union-attr]
            assert after and not before & after
    finally:
        stop.set()
        thread.join(10)
    assert codes == [0]


def test_sim_with_hosts_generates_a_larger_farm(tmp_path):
    out_path, _, stop, thread, codes = _serve(tmp_path, EXAMPLE, 10)
    try:
        farm = load_inventory(out_path)
        assert len(farm.hosts) == 10
        generated = [name for name in farm.sites if name.startswith("app-")]
        assert len(generated) == 6 and all(len(farm.sites[s].hosts) == 2 for s in generated)
    finally:
        stop.set()
        thread.join(10)
    assert codes == [0]


def test_sim_refuses_a_bad_inventory_file_with_exit_code_2(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[hosts.web01]\naddress = "x"\ntransport = "telnet"\n', encoding="utf-8")
    err = io.StringIO()

    assert run(bad, tmp_path / "out.toml", None, err=err) == 2
    assert "bad.toml" in err.getvalue() and "transport" in err.getvalue()


def test_sim_runs_in_the_foreground_until_sigint(tmp_path):
    out_path = tmp_path / "farm.toml"
    code = "import sys; from bot.sim.cli import run; sys.exit(run(None, sys.argv[1], 2))"
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(out_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(3)]  # one per host, then the inventory line
        assert lines[0].startswith("sim001: winrm http://127.0.0.1:") and "inventory for this farm" in lines[2]
        assert len(load_inventory(out_path).hosts) == 2
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
