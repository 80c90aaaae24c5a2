"""Ctrl-C and SIGTERM during `aspreset recycle`, in a real terminal against the simulated farm: the
first lets the host in flight finish and records it with the untouched hosts and the resume
command; the second stops waiting, records the request `interrupted` and exits 130. Either way the
terminal's cursor is shown again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest
from child_output import read_until

from bot.cli import main

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
HIDE_CURSOR, SHOW_CURSOR = "\x1b[?25l", "\x1b[?25h"


@pytest.fixture
def slow_farm(tmp_path: Path) -> Iterator[Path]:
    """The example farm in its own process, an old worker draining 4 s after each recycle."""
    farm_file = tmp_path / "farm.toml"
    sim = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "sim", "--inventory", str(EXAMPLES / "inventory.toml"),
         "--inventory-out", str(farm_file), "--recycle-s", "4"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        assert sim.stdout is not None
        read_until(sim.stdout, b"inventory for this farm")
        yield farm_file
    finally:
        sim.send_signal(signal.SIGINT)
        sim.wait(timeout=15)


def files(tmp_path: Path, farm_file: Path) -> list[str]:
    return ["--inventory", str(farm_file), "--policy", str(EXAMPLES / "policy.toml"),
            "--db", f"sqlite:///{tmp_path / 'a.db'}"]


def recycle_in_a_terminal(tmp_path: Path, farm_file: Path) -> pexpect.spawn:
    child = pexpect.spawn(
        sys.executable, ["-m", "bot.cli", "recycle", "shop-web", "--scope", "apppool", "--as", "alice", "--yes",
                         *files(tmp_path, farm_file)],
        env={**os.environ, "TERM": "xterm-256color", "COLUMNS": "120"}, cwd=str(tmp_path), encoding="utf-8",
        timeout=60, dimensions=(40, 120),
    )
    child.expect_exact("web01")  # the progress bar: the first wave's host has started
    return child


def recorded(capsys, tmp_path: Path, farm_file: Path) -> dict:
    assert main(["requests", *files(tmp_path, farm_file), "--json"]) == 0
    (request,) = json.loads(capsys.readouterr().out)
    return request


def test_the_first_ctrl_c_finishes_the_host_in_flight_and_prints_what_did_not_run(slow_farm, tmp_path, capsys):
    child = recycle_in_a_terminal(tmp_path, slow_farm)
    child.sendintr()
    child.expect_exact("no more hosts will start")
    child.expect(pexpect.EOF)
    child.close()
    seen = child.before
    assert child.exitstatus == 130
    assert "interrupted" in seen and "web01" in seen and "untouched (web02)" in seen
    assert "resume with: aspreset recycle shop-web --scope apppool --from web02" in seen
    assert seen.rfind(SHOW_CURSOR) > seen.rfind(HIDE_CURSOR)

    request = recorded(capsys, tmp_path, slow_farm)
    assert request["state"] == "interrupted"
    assert [(h["host"], h["outcome"]) for h in request["hosts"]] == [("web01", "succeeded"), ("web02", "skipped")]
    assert request["untouched"] == ["web02"]


def test_a_second_ctrl_c_stops_waiting_and_records_the_request_interrupted(slow_farm, tmp_path, capsys):
    child = recycle_in_a_terminal(tmp_path, slow_farm)
    child.sendintr()
    child.expect_exact("no more hosts will start")
    child.sendintr()
    child.expect(pexpect.EOF, timeout=10)  # not the 4 s drain plus the rest: it stops waiting at once
    child.close()
    assert child.exitstatus == 130
    assert "stopped waiting" in child.before
    assert child.before.rfind(SHOW_CURSOR) > child.before.rfind(HIDE_CURSOR)

    request = recorded(capsys, tmp_path, slow_farm)
    assert request["state"] == "interrupted"
    assert "web02" in request["untouched"]


def test_sigterm_is_handled_like_the_first_ctrl_c(slow_farm, tmp_path, capsys):
    child = recycle_in_a_terminal(tmp_path, slow_farm)
    child.kill(signal.SIGTERM)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    assert "resume with: aspreset recycle shop-web --scope apppool --from web02" in child.before
    assert recorded(capsys, tmp_path, slow_farm)["state"] == "interrupted"
