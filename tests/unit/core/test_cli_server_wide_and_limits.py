"""`plan`, `recycle` and chat (`say`) give one answer for a server-wide file and one answer for an
input over a limit: the CLI and chat share the planner and the limits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main
from commands.limits import MAX_REASON

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
MACHINE_CONFIG = r"C:\Windows\Microsoft.NET\Framework64\v4.0.30319\Config\machine.config"


@pytest.fixture
def files(tmp_path) -> list[str]:
    return ["--policy", str(EXAMPLES / "policy.toml"), "--inventory", str(EXAMPLES / "inventory.toml"),
            "--db", f"sqlite:///{tmp_path / 'a.db'}"]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("verb", ["plan", "recycle"])
def test_a_changed_machine_config_is_refused_by_plan_and_recycle_with_the_narrower_alternative(capsys, files,
                                                                                               verb):
    code, out, _ = run(capsys, verb, "shop-web", "--changed", MACHINE_CONFIG, "--as", "alice", *files, "--json")

    decision = json.loads(out)["decision"]
    assert code == 3
    assert decision["outcome"] == "refuse" and decision["alternative"] == "appdomain"


def test_chat_refuses_the_same_change_the_same_way(capsys, files):
    code, out, _ = run(capsys, "say", f"/recycle plan shop-web --changed {MACHINE_CONFIG}", "--as", "alice",
                       *files, "--json")

    assert code == 3
    data = json.loads(out)
    assert data["decision"]["outcome"] == "refuse" and data["decision"]["alternative"] == "appdomain"
    assert any("machine.config is a server-wide change" in line for line in data["why"])


def test_the_cli_refuses_the_note_length_chat_refuses(capsys, files):
    long_note = "x" * (MAX_REASON + 1)

    cli_code, _, cli_err = run(capsys, "recycle", "shop-web", "--note", long_note, "--as", "alice", *files)
    chat_code, chat_out, chat_err = run(capsys, "say", f'/recycle shop-web --note "{long_note}"', "--as", "alice",
                                 *files)

    assert cli_code == chat_code == 2
    sentence = f"--note is {MAX_REASON + 1} characters long; at most {MAX_REASON} are kept"
    assert sentence in cli_err and sentence in chat_out + chat_err
