"""Ctrl-C and SIGTERM in the middle of a wave larger than the host pool, in a real terminal against
a simulated farm served by this test process (so the test sees what each host received): the
first signal starts no further host, not even the current wave's hosts still waiting for a free
slot, lets the started ones finish and lists the rest as not started, untouched on the hosts; a
second signal records what is known, restores the terminal and deletes the shells of the hosts it
stopped waiting for before exiting 130."""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from bot.cli import main
from bot.sim.cli import inventory_toml
from bot.sim.farm import Farm
from bot.sim.timing import SimTiming
from policies.files import load_inventory

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
HOSTS = ["st01", "st02", "st03", "st04"]
HIDE_CURSOR, SHOW_CURSOR = "\x1b[?25l", "\x1b[?25h"
STAGING = "".join(f"""
[hosts.{name}]
address = "{name}.shop.example"
transport = "ntlm"
username_env = "ASPRESET_WINRM_USER"
password_env = "ASPRESET_WINRM_PASSWORD"
iis_major_version = 10
""" for name in HOSTS) + f"""
[sites.shop-staging]
environment = "staging"
hosts = {json.dumps(HOSTS)}
iis_site = "Shop"
app = "/"
pool = "ShopPool"
warmup_path = "/"
"""


@pytest.fixture
def staging_farm(tmp_path: Path) -> Iterator[Farm]:
    """Four hosts restarted at once (staging: one wave), an old worker draining 3 s after a recycle."""
    (tmp_path / "staging.toml").write_text(STAGING)
    with Farm.from_inventory(load_inventory(tmp_path / "staging.toml"),
                             timing=SimTiming.bench(recycle_s=3.0, cold_start_s=0.2)) as farm:
        yield farm


@pytest.fixture
def config(tmp_path: Path, staging_farm: Farm) -> Path:
    """Two hosts at a time for this bot ([winrm] max_parallel): the wave of four is larger."""
    (tmp_path / "farm.toml").write_text(inventory_toml(staging_farm.client_inventory()))
    path = tmp_path / "aspreset.toml"
    path.write_text(f'policy = "{EXAMPLES / "policy.toml"}"\ninventory = "farm.toml"\n'
                    f'db = "sqlite:///{tmp_path / "a.db"}"\n[winrm]\nmax_parallel = 2\n')
    return path


def recycle(config: Path) -> pexpect.spawn:
    child = pexpect.spawn(
        sys.executable, ["-m", "bot.cli", "recycle", "shop-staging", "--scope", "apppool", "--as", "alice",
                         "--config", str(config)],
        env={**os.environ, "TERM": "xterm-256color", "COLUMNS": "120"}, cwd=str(config.parent), encoding="utf-8",
        timeout=60, dimensions=(40, 120),
    )
    child.expect(r"shop-staging apppool: st0\d")  # the progress bar: hosts have started (st03, st04 wait)
    return child


def recycles(farm: Farm, host: str) -> list[object]:
    """The recycle commands a host received (the plan reads every host first with a status)."""
    return [c for c in farm.host(host).received if b"operation: apppool" in bytes(c.stdin)]


def recorded(capsys, config: Path) -> dict:
    assert main(["requests", "--config", str(config), "--json"]) == 0
    (request,) = json.loads(capsys.readouterr().out)
    return request


def test_sigterm_mid_wave_starts_none_of_the_hosts_still_waiting_for_a_slot(staging_farm, config, capsys):
    child = recycle(config)
    child.kill(signal.SIGTERM)
    child.expect(pexpect.EOF)
    child.close()
    seen = child.before

    assert child.exitstatus == 130
    assert "untouched (st03, st04)" in seen
    assert "resume with: aspreset recycle shop-staging --scope apppool --from st03" in seen
    assert seen.rfind(SHOW_CURSOR) > seen.rfind(HIDE_CURSOR)
    request = recorded(capsys, config)
    assert request["state"] == "interrupted" and request["untouched"] == ["st03", "st04"]
    assert [(h["host"], h["outcome"]) for h in request["hosts"]] == [
        ("st01", "succeeded"), ("st02", "succeeded"), ("st03", "skipped"), ("st04", "skipped")]
    assert recycles(staging_farm, "st01") and recycles(staging_farm, "st02")
    for name in ("st03", "st04"):  # never restarted: the plan's read-only look before acting, no recycle
        assert not recycles(staging_farm, name)
    assert {name: staging_farm.host(name).open_shells for name in HOSTS} == dict.fromkeys(HOSTS, 0)


def test_a_second_signal_deletes_the_shells_of_the_hosts_in_flight_before_exiting(staging_farm, config, capsys):
    child = recycle(config)
    child.kill(signal.SIGTERM)
    child.expect_exact("no more hosts will start")
    assert staging_farm.host("st01").open_shells == 1  # its recycle is still draining the old worker
    child.kill(signal.SIGTERM)
    child.expect(pexpect.EOF, timeout=10)
    child.close()

    assert child.exitstatus == 130
    assert "stopped waiting" in child.before
    assert child.before.rfind(SHOW_CURSOR) > child.before.rfind(HIDE_CURSOR)
    assert {name: staging_farm.host(name).open_shells for name in HOSTS} == dict.fromkeys(HOSTS, 0)
    request = recorded(capsys, config)
    assert request["state"] == "interrupted" and request["untouched"] == ["st03", "st04"]
    assert "st01, st02 were still restarting" in request["error"]
    for name in ("st03", "st04"):
        assert not recycles(staging_farm, name)
