"""doctor over the Executor port (the core's fakes, no WinRM): each host's checks, and a host that
cannot be reached names the fix; the view is what `aspreset doctor --json` prints."""

from __future__ import annotations

from fakes import FakeWorld as World

from bot.app.errors import HostUnreachable
from bot.app.readiness.doctor import run_doctor


def test_doctor_reads_every_host_of_the_site_through_the_port(world: World) -> None:
    report = run_doctor(world.service.inventory, "shop-web", world.executor)

    assert report.ok
    assert {(c.host, c.name) for c in report.checks if c.name == "read shop-web"} == {
        ("web01", "read shop-web"), ("web02", "read shop-web")}
    assert all(op == "discover" or op == "status" for host in ("web01", "web02")
               for op in (p.op for p in world.executor.ran(host)))


def test_a_host_that_cannot_be_reached_fails_its_check_with_the_fix(world: World) -> None:
    world.executor.fail_next("web02", HostUnreachable("web02", "connection refused"))

    report = run_doctor(world.service.inventory, "shop-web", world.executor)

    failed = [c for c in report.checks if not c.ok]
    assert not report.ok and [(c.host, c.name, c.detail) for c in failed] == [
        ("web02", "WinRM reachable", "connection refused")]
    assert failed[0].fix is not None and "Enable-PSRemoting" in failed[0].fix
    assert report.model_dump(mode="json")["checks"][0].keys() == {"host", "name", "ok", "detail", "fix"}
