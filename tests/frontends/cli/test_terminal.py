"""What a person at a terminal sees, in a real pseudo-terminal: a prod restart shows its plan and
asks first, and log lines are readable there but JSON when the output goes to a program."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pexpect

from bot.cli import main
from bot.sim.cli import inventory_toml

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
POLICY = str(EXAMPLES / "policy.toml")


def farm_files(tmp_path: Path, farm_inventory) -> list[str]:
    farm_file = tmp_path / "farm.toml"
    farm_file.write_text(inventory_toml(farm_inventory))
    return ["--inventory", str(farm_file), "--policy", POLICY, "--db", f"sqlite:///{tmp_path / 'a.db'}"]


def spawn(tmp_path: Path, *argv: str, env: dict[str, str] | None = None) -> pexpect.spawn:
    return pexpect.spawn(sys.executable, ["-m", "bot.cli", *argv], env={**os.environ, **(env or {})},
                         cwd=str(tmp_path), encoding="utf-8", timeout=60, dimensions=(40, 140))


def test_a_prod_recycle_in_a_terminal_shows_the_plan_and_asks_first(tmp_path, capsys, demo_farm, farm_inventory):
    files = farm_files(tmp_path, farm_inventory)
    child = spawn(tmp_path, "recycle", "shop-web", "--scope", "apppool", "--as", "alice", *files)
    child.expect_exact("Plan for shop-web (prod): apppool")
    child.expect_exact("Restart shop-web (prod) now? [y/N] ")
    child.sendline("n")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1 and "nothing was run" in child.before
    assert main(["requests", *files, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert {c.operation for c in demo_farm.host("web01").received} <= {"status"}

    child = spawn(tmp_path, "recycle", "shop-web", "--scope", "apppool", "--as", "alice", *files)
    child.expect_exact("now? [y/N] ")
    child.sendline("y")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0 and "succeeded" in child.before


def test_yes_skips_the_question_and_a_program_is_never_asked(tmp_path, demo_farm, farm_inventory):
    files = farm_files(tmp_path, farm_inventory)
    child = spawn(tmp_path, "recycle", "shop-web", "--scope", "apppool", "--as", "alice", "--yes", *files)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0 and "[y/N]" not in child.before
    assert re.search(r"\x1b\[[0-9;]*32msucceeded\x1b\[0m", child.before), "the outcome is green in a terminal"

    piped = subprocess.run([sys.executable, "-m", "bot.cli", "recycle", "shop-web", "--scope", "apppool", "--as",
                            "alice", *files], capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path)
    assert piped.returncode == 0 and "[y/N]" not in piped.stdout
    assert "succeeded" in piped.stdout and "\x1b[" not in piped.stdout  # no colour codes for a program


def test_log_lines_are_readable_in_a_terminal_and_json_for_a_program(tmp_path):
    argv = ["plan", "shop-web", "--as", "alice", "--policy", POLICY, "--inventory", str(EXAMPLES / "inventory.toml")]
    child = spawn(tmp_path, *argv, env={"ASPRESET_LOG_LEVEL": "info"})
    child.expect(pexpect.EOF)
    child.close()
    planned = next(re.sub(r"\x1b\[[0-9;]*m", "", line) for line in child.before.splitlines() if "planned" in line)
    assert not planned.lstrip().startswith("{") and "[info     ] planned" in planned and "site=shop-web" in planned

    piped = subprocess.run([sys.executable, "-m", "bot.cli", *argv], capture_output=True, text=True, timeout=60,
                           check=False, cwd=tmp_path, env={**os.environ, "ASPRESET_LOG_LEVEL": "info"})
    logged = [json.loads(line) for line in piped.stderr.splitlines()]
    assert any(event["event"] == "planned" and event["site"] == "shop-web" for event in logged)

    child = spawn(tmp_path, *argv, env={"ASPRESET_LOG_LEVEL": "info", "ASPRESET_LOG_FORMAT": "json"})
    child.expect(pexpect.EOF)
    child.close()
    line = next(line for line in child.before.splitlines() if '"planned"' in line)
    assert json.loads(line)["site"] == "shop-web"
