"""What a careful operator checks on a host before acting, each a switch of the simulated server whose
default is the real (conservative) behaviour: the operations run through real WinRM against the farm
(docs/iis-behaviour.md, "Checks before acting")."""

from __future__ import annotations

import time

import pytest
from restart_results import restart_of, verdict_of, worker_keys

from bot.app.results import StatusResult

# ---- a deploy still writing to bin/ holds every rung ------------------------------------------------


@pytest.mark.parametrize(("op", "extra"), [("appdomain", {}), ("appdomain", {"method": "touch-web-config"}),
                                           ("apppool", {}), ("worker", {})])
def test_a_deploy_still_writing_to_bin_holds_every_rung_and_says_what_is_being_written(
    farm, executor, call, op, extra
):
    web01 = farm.host("web01")
    app = web01.iis.app("Shop")
    app.deploy_copying = ("Shop.Web.dll",)  # a copy in progress: the file changes between two looks
    workers, domain = web01.processes("ShopPool"), app.appdomain

    r = restart_of(executor.run(*call("shop-web", "web01", op, **extra)))

    assert r.error_code == "deploy_in_progress" and r.actions == []
    assert "bin\\Shop.Web.dll" in (r.error or "") and "retry when" in (r.error or "")
    assert web01.processes("ShopPool") == workers and app.appdomain is domain


def test_files_written_a_moment_ago_hold_a_recycle_and_older_ones_do_not(farm, executor, call):
    web01 = farm.host("web01")
    app = web01.iis.app("Shop")
    app.bin_writes = {"Shop.Web.dll": time.monotonic() - 1.0}  # written a second ago: the deploy may go on

    held = restart_of(executor.run(*call("shop-web", "web01", "apppool", deploy_quiet_s=5)))
    app.bin_writes = {"Shop.Web.dll": time.monotonic() - 30.0}
    ran = restart_of(executor.run(*call("shop-web", "web01", "apppool", deploy_quiet_s=5)))

    assert held.error_code == "deploy_in_progress" and held.actions == []
    assert ran.ok and [a.step for a in ran.actions] == ["recycle"] and ran.deploy_check == "quiet"


def test_the_none_rungs_warm_up_waits_for_a_deploy_still_writing(farm, executor, call):
    farm.host("web01").iis.app("Shop").deploy_copying = ("Shop.Web.dll",)

    status = executor.run(*call("shop-web", "web01", "status", warm_up=True))

    assert isinstance(status, StatusResult) and status.error_code == "deploy_in_progress" and status.warmups == []


def test_a_recycle_goes_on_when_bin_cannot_be_read_and_says_the_check_was_not_made(farm, executor, call):
    web01 = farm.host("web01")
    web01.iis.app("Shop").content_denied = True  # a UNC share the network logon cannot reach (double hop)
    before = web01.processes("ShopPool")

    r = restart_of(executor.run(*call("shop-web", "web01", "apppool")))

    assert r.ok and r.deploy_check.startswith("unreadable: access_denied")
    assert not worker_keys(r.after.workers if r.after else []) & before
    verdict = verdict_of(r)
    assert verdict.error_code is None and any("without that check" in note for note in verdict.notes)
