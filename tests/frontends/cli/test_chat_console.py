"""The local chat console (`aspreset say`) as a person in chat uses it: `/help`, `/recycle help`,
`/recycle requests`, and replies that name chat commands, never a shell command."""

from __future__ import annotations

import json
import re
from pathlib import Path

from bot.cli import main
from bot.sim.cli import inventory_toml

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def say(capsys, files: list[str], text: str, person: str = "alice") -> tuple[int, str]:
    code = main(["say", text, "--as", person, *files])
    out, err = capsys.readouterr()
    return code, out + err


def farm_files(tmp_path: Path, farm_inventory) -> list[str]:
    farm_file = tmp_path / "farm.toml"
    farm_file.write_text(inventory_toml(farm_inventory))
    return ["--inventory", str(farm_file), "--policy", str(EXAMPLES / "policy.toml"),
            "--db", f"sqlite:///{tmp_path / 'a.db'}"]


def test_help_and_recycle_help_and_the_requests_topic(capsys, tmp_path, farm_inventory):
    files = farm_files(tmp_path, farm_inventory)
    for text in ("/help", "/recycle help"):
        code, shown = say(capsys, files, text)
        assert code == 0 and "/recycle requests [SITE] [--state STATE]" in shown and "Reasons: hung" in shown
    code, shown = say(capsys, files, "/recycle help requests")
    assert code == 0 and "lists the latest 20 requests" in shown


def test_recycle_requests_lists_the_requests_with_their_state(capsys, tmp_path, demo_farm, farm_inventory):
    files = farm_files(tmp_path, farm_inventory)
    _, asked = say(capsys, files, "/recycle shop-web --reason hung")
    request_id = re.search(r"Request (r-\w+)", asked).group(1)  # type: ignore[union-attr]
    code, shown = say(capsys, files, "/recycle requests")
    assert code == 0 and request_id in shown and "awaiting_approval" in shown
    code, shown = say(capsys, files, "/recycle requests intranet")
    assert code == 0 and request_id not in shown
    assert main(["say", "/recycle requests --state awaiting_approval", "--as", "bob", *files, "--json"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == [request_id]


def test_chat_replies_name_chat_commands_never_shell_ones(capsys, tmp_path, demo_farm, farm_inventory):
    files = farm_files(tmp_path, farm_inventory)
    replies = [say(capsys, files, "/recycle shop-web --reason hung")[1]]
    replies.append(say(capsys, files, "/recycle approve r-nothere", "bob")[1])
    replies += [say(capsys, files, text)[1] for text in
                ("/recycle help", "/recycle plan shop-web --reason gac", "/recycle iisreset", "/recycle sites")]
    waiting = re.search(r"Request (r-\w+)", replies[0]).group(1)  # type: ignore[union-attr]
    assert f"approve with `/recycle approve {waiting}`" in replies[0]
    shell_command = re.compile(r"aspreset (plan|recycle|status|approve|deny|requests|audit|say|doctor|config|"
                               r"policy|inventory|sim|serve|mcp|demo)\b")
    for reply in replies:
        assert not shell_command.search(reply), reply
