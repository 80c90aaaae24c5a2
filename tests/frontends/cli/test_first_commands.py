"""The first commands a new operator types, as the README writes them, and what they see."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main
from commands.parser import ParseError, parse

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
FILES = ["--policy", str(EXAMPLES / "policy.toml"), "--inventory", str(EXAMPLES / "inventory.toml")]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as done:
        code = int(done.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_changed_takes_one_file_per_flag_so_the_site_may_come_last(capsys):
    code, out, err = run(capsys, "plan", "--changed", "bin/Shop.Web.dll", "--changed",
                         "App_Config/connectionStrings.config", "shop-web", "--as", "alice", *FILES, "--json")
    assert code == 0, err
    assert json.loads(out)["rung"] == "appdomain"


def test_a_mistyped_reason_is_refused_with_the_closest_known_one(capsys):
    code, out, err = run(capsys, "plan", "shop-web", "--reason", "hnug", "--as", "alice", *FILES)
    assert code == 2 and out == ""
    assert "unknown reason 'hnug': did you mean hung?" in err and "--note" in err


def test_free_text_goes_in_a_note_beside_a_known_reason(capsys):
    code, out, _ = run(capsys, "plan", "shop-web", "--reason", "hung", "--note", "checkout hangs since 9:00",
                       "--as", "alice", *FILES, "--json")
    data = json.loads(out)
    assert code == 0 and data["rung"] == "worker"
    assert "reason given: checkout hangs since 9:00" in data["why"]


def test_chat_corrects_a_one_word_typo_and_keeps_a_sentence_as_a_note():
    with pytest.raises(ParseError, match="did you mean hung"):
        parse("/recycle shop-web --reason hnug")
    command = parse('/recycle shop-web --reason hung --note "checkout hangs"')
    assert command.reason is not None and command.reason.value == "hung" and command.note == "checkout hangs"
