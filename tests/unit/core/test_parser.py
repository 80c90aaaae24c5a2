from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commands.model import (
    Approve,
    Deny,
    Help,
    ListSites,
    Reason,
    RestartRequest,
    ServerWideRequest,
    Status,
)
from commands.parser import ParseError, parse
from commands.rungs import Rung


def test_slash_recycle_with_only_a_site_is_a_restart_of_that_site():
    assert parse("/recycle shop-web") == RestartRequest(site="shop-web")


def test_every_restart_option_is_read():
    command = parse(
        "/recycle shop-web --scope apppool --reason gac --changed bin/A.dll App_Config/x.config "
        "--host web01 --dry-run"
    )
    assert command == RestartRequest(
        site="shop-web",
        scope=Rung.APPPOOL,
        reason=Reason.GAC,
        changed=("bin/A.dll", "App_Config/x.config"),
        hosts=("web01",),
        dry_run=True,
    )


def test_plan_verb_marks_the_request_as_plan_only():
    command = parse("plan shop-web --scope=worker")
    assert isinstance(command, RestartRequest)
    assert command.plan_only and command.scope == Rung.WORKER


def test_an_unknown_reason_text_is_kept_as_a_note():
    command = parse('/recycle shop-web --reason "pool leaks after the 9:00 batch"')
    assert isinstance(command, RestartRequest)
    assert command.reason is None and command.note == "pool leaks after the 9:00 batch"


@pytest.mark.parametrize(
    "text",
    [
        "/recycle shop-web --reason \u201cleaks memory\u201d",
        "/recycle shop-web --reason \u2018leaks memory\u2019",
        '/recycle shop-web --reason "leaks memory"',
        "/recycle shop-web --reason 'leaks memory'",
    ],
)
def test_slack_smart_quotes_quote_like_plain_ones(text):
    command = parse(text)
    assert isinstance(command, RestartRequest)
    assert command.note == "leaks memory"


def test_a_lone_typographic_apostrophe_is_an_apostrophe():
    command = parse("/recycle shop-web --reason it\u2019s-hanging")
    assert isinstance(command, RestartRequest)
    assert command.note == "it\u2019s-hanging"


def test_other_verbs():
    assert parse("/recycle status shop-web") == Status(site="shop-web")
    assert parse("approve r-abc123") == Approve(request_id="r-abc123")
    assert parse("/recycle deny r-abc123 --reason not during the sale") == Deny(
        request_id="r-abc123", reason="not during the sale"
    )
    assert parse("/recycle sites") == ListSites()
    assert parse("/recycle") == Help()
    assert parse("help rungs") == Help(topic="rungs")


@pytest.mark.parametrize(
    ("text", "expected_fragment"),
    [
        ("/recycle shop-web --scop apppool", "did you mean --scope"),
        ("/recycle shop-web --scope apppol", "did you mean apppool"),
        ("/recycle stauts shop-web", "did you mean status"),
        ("recylce shop-web", "did you mean recycle"),
        ("/recycle shop-web --scope", "--scope needs a value"),
        ("/recycle --reason gac", "needs a site"),
        ("/recycle shop-web leaks memory", "quote a reason"),
        ('/recycle shop-web --reason "unclosed', "close every quote"),
        ("/recycle shop-web --scope apppool --scope worker", "given twice"),
        ("approve", "needs exactly a request id"),
    ],
)
def test_bad_input_says_what_would_be_right(text, expected_fragment):
    with pytest.raises(ParseError) as caught:
        parse(text)
    assert expected_fragment in caught.value.message


SERVER_WIDE = [
    "iisreset",
    "IISRESET /restart",
    "iisreset.exe /noforce",
    "net stop w3svc",
    "net stop was /y",
    "Restart-Service W3SVC -Force",
    "Stop-Service WAS",
    "taskkill /im w3wp.exe /f",
    "Stop-Process -Name w3wp",
    "edit machine.config",
    "reboot",
    "Restart-Computer",
]


@pytest.mark.parametrize("spelling", SERVER_WIDE)
@pytest.mark.parametrize("prefix", ["", "/recycle "])
def test_every_server_wide_spelling_parses_to_a_refusal_with_a_narrow_alternative(prefix, spelling):
    command = parse(prefix + spelling)
    assert isinstance(command, ServerWideRequest)
    assert command.alternative == Rung.APPDOMAIN


def test_a_reason_that_mentions_iisreset_is_not_a_server_wide_request():
    command = parse('/recycle shop-web --reason "someone ran iisreset yesterday"')
    assert isinstance(command, RestartRequest)


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=200))
def test_any_text_parses_or_raises_the_parse_error(text):
    with contextlib.suppress(ParseError):
        parse(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["/recycle", "plan", "shop-web", "--scope", "worker", "--changed",
                                 "--reason", "\u201c", "\u2019", "'", '"', "--host", "x", "iisreset"]),
                max_size=12))
def test_any_mix_of_command_words_parses_or_raises_the_parse_error(words):
    with contextlib.suppress(ParseError):
        parse(" ".join(words))
