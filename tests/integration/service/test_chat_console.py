"""The chat console (`aspreset say`, and `make demo` built on it) speaks the whole flow in chat text."""

from __future__ import annotations

import re

from bot.app.service import EXIT_BAD_INPUT, EXIT_DONE, EXIT_REFUSED, EXIT_WAITING
from bot.chat import handle_text
from bot.demo import run_demo


def test_a_hung_shop_is_requested_approved_and_checked_in_chat_text(make_service, demo_farm):
    service = make_service()
    alice, bob = service.principal("alice"), service.principal("bob")

    asked = handle_text("/recycle shop-web --reason \u201cphones say checkout hangs\u201d", alice, service)
    assert asked.exit_code == EXIT_DONE, "a free-text reason is a note: appdomain restart, allowed"
    hung = handle_text("/recycle shop-web --reason hung", alice, service)
    assert hung.exit_code == EXIT_WAITING
    request_id = re.search(r"approve (r-[a-z0-9]+)", hung.text).group(1)  # type: ignore[union-attr]

    assert handle_text(f"/recycle approve {request_id}", alice, service).exit_code == EXIT_REFUSED
    approved = handle_text(f"/recycle approve {request_id}", bob, service)
    assert approved.exit_code == EXIT_DONE
    after = demo_farm.host("web01").pids("ShopPool")
    assert f"-> [{after[0]}]" in approved.text

    status = handle_text("/recycle status shop-web", alice, service)
    assert status.exit_code == EXIT_DONE and f"w3wp [{after[0]}]" in status.text
    assert handle_text("/recycle stauts shop-web", alice, service).exit_code == EXIT_BAD_INPUT


def test_the_demo_tells_its_story_end_to_end(capsys):
    assert run_demo() == 0
    out = capsys.readouterr().out
    assert re.search(r"web01: ok, kill-and-warm-up: PIDs \[\d+\] -> \[\d+\]", out)
    assert "a second person must approve" in out
    assert "nothing more to do" in out
    assert "Refused (server rung)" in out and "Refused (IIS 5 isolation mode)" in out
    assert out.count(" finished ") == 3, "three restarts ran: appdomain, apppool, worker"
