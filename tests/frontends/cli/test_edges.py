"""What a person sees at the CLI's edges: a reader that leaves the pipe early, and an unexpected
error, which is an incident id in one sentence and never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.app.queries import Queries
from bot.cli import main

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
FILES = ["--policy", str(EXAMPLES / "policy.toml"), "--inventory", str(EXAMPLES / "inventory.toml")]


def test_output_into_a_pipe_whose_reader_left_ends_quietly_with_the_commands_own_exit_code(tmp_path):
    args = [sys.executable, "-m", "bot.cli", "plan", "shop-web", "--reason", "hung", "--as", "alice", *FILES,
            "--db", f"sqlite:///{tmp_path / 'a.db'}"]
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the command writes a byte (`| head -0`)
    try:
        done = subprocess.run(args, stdout=write_end, stderr=subprocess.PIPE, timeout=60, check=False)
    finally:
        os.close(write_end)
    assert done.returncode == 0, "a plan that needs approval still exits 0, as it would to a terminal"
    assert done.stderr == b"", done.stderr.decode()


def test_an_unexpected_error_shows_an_incident_id_and_says_nothing_further_ran(capsys, monkeypatch, tmp_path):
    def explode(self: Queries, *args: object, **kwargs: object) -> None:
        raise RuntimeError("the store's driver broke in an unforeseen way")

    monkeypatch.setattr(Queries, "list_requests", explode)  # nothing else reaches an unforeseen bug
    code = main(["requests", *FILES, "--db", f"sqlite:///{tmp_path / 'a.db'}"])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    sentence = next(line for line in err.splitlines() if line.startswith("aspreset: "))
    assert "internal error (incident " in sentence and "nothing further was run" in sentence
    assert "Traceback" not in err and "RuntimeError" not in sentence
    logged = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    incident = sentence.split("incident ")[1].split(")")[0]
    assert any(e.get("incident") == incident and e.get("error_type") == "RuntimeError" for e in logged)


@pytest.mark.parametrize("command", [["requests"], ["audit"]])
def test_listing_commands_print_json_lists(command, capsys, tmp_path):
    assert main([*command, *FILES, "--db", f"sqlite:///{tmp_path / 'a.db'}", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
