"""The chat console (`aspreset say`, and the demo's console on the same dispatcher) speaks the whole
flow in chat text; the replies are the core's views, the same ones Slack and MCP render."""

from __future__ import annotations

from bot.app.dispatch import handle_text
from bot.app.views import ErrorView, RequestView, StatusView
from bot.cli.render import text as render_text


def test_a_hung_shop_is_requested_approved_and_checked_in_chat_text(make_service, demo_farm):
    service = make_service()
    alice, bob = service.principal("alice"), service.principal("bob")

    asked = handle_text("/recycle shop-web --reason \u201cphones say checkout hangs\u201d", alice, service, "console")
    assert isinstance(asked, RequestView) and asked.rung == "appdomain" and asked.state == "succeeded", \
        "a free-text reason is a note: appdomain restart, allowed"
    assert asked.reason == "phones say checkout hangs"
    hung = handle_text("/recycle shop-web --reason hung", alice, service, "console")
    assert isinstance(hung, RequestView) and hung.waiting
    assert f"approve {hung.id}" in render_text(hung)

    own = handle_text(f"/recycle approve {hung.id}", alice, service, "console")
    assert isinstance(own, ErrorView) and own.code == "not_allowed"
    approved = handle_text(f"/recycle approve {hung.id}", bob, service, "console")
    assert isinstance(approved, RequestView) and approved.state == "succeeded" and approved.ran_now
    after = demo_farm.host("web01").pids("ShopPool")
    web01 = next(h for h in approved.hosts if h.host == "web01")
    assert web01.pids_after == after and f"-> [{after[0]} started " in render_text(approved)

    status = handle_text("/recycle status shop-web", alice, service, "console")
    assert isinstance(status, StatusView) and status.all_ok
    assert [w["pid"] for w in status.hosts[0].workers] == after
    typo = handle_text("/recycle stauts shop-web", alice, service, "console")
    assert isinstance(typo, ErrorView) and typo.code == "bad_input"

