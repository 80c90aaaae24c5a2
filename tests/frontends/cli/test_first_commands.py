"""The first commands a new operator types, as the README writes them, and what they see."""

from __future__ import annotations

import json
import re
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


def subcommands(capsys) -> list[str]:
    _, out, _ = run(capsys, "--help")
    return re.search(r"\{([a-z,]+)\}", out).group(1).split(",")  # type: ignore[union-attr]


def arguments_without_help(help_text: str) -> list[str]:
    """Argument lines of `--help` output (two-space indent) with no description beside or under them."""
    lines = help_text.splitlines()
    missing = []
    for index, line in enumerate(lines):
        if not re.match(r"  [-\w]", line) or line.startswith("   "):
            continue
        described = re.search(r"\S\s{2,}\S", line.strip()) is not None
        continued = index + 1 < len(lines) and lines[index + 1].startswith(" " * 6)
        if not described and not continued:
            missing.append(line.strip())
    return missing


def test_every_argument_of_every_command_has_help_and_help_lists_the_exit_codes(capsys):
    names = subcommands(capsys)
    assert {"plan", "recycle", "config", "policy"} <= set(names)
    for name in [*names, "policy check", "config check", "inventory discover"]:
        code, out, _ = run(capsys, *name.split(), "--help")
        assert code == 0, name
        assert arguments_without_help(out.split("exit codes:")[0]) == [], name
    _, out, _ = run(capsys, "recycle", "--help")
    assert "exit codes:" in out and "4    waiting for approval" in out and "130  stopped by Ctrl-C" in out
    assert "ASPRESET_LOG_LEVEL" in out


def test_a_mistyped_command_is_answered_with_the_closest_one(capsys):
    code, _, err = run(capsys, "recyle", "shop-web")
    assert code == 2 and "aspreset: unknown command 'recyle': did you mean recycle?" in err


def test_a_command_group_alone_shows_its_subcommands(capsys):
    code, out, _ = run(capsys, "policy")
    assert code == 2 and "check" in out and "validate a policy file" in out


def test_the_readmes_first_plan_works_with_the_example_config(capsys, monkeypatch):
    monkeypatch.setenv("ASPRESET_CONFIG", str(EXAMPLES / "aspreset.toml"))
    code, out, err = run(capsys, "plan", "shop-web", "--changed", "bin/Shop.Web.dll", "--json")
    assert code == 0, err
    assert json.loads(out)["decision"]["outcome"] == "allow"


def test_a_login_name_no_rule_knows_is_told_to_act_as_a_person(capsys):
    code, out, _ = run(capsys, "plan", "shop-web", "--changed", "bin/Shop.Web.dll", *FILES)
    assert code == 3
    assert "pass --as PERSON (one of alice, bob, carol), or set cli_user in aspreset.toml" in out
    assert "[[rules]]" not in out
