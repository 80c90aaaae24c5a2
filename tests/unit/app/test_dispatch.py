"""The dispatcher: one table entry per command type, and every front end's reads and cancel go
through it with the same answers as the chat commands (the fakes of tests/unit/app/conftest.py)."""

from __future__ import annotations

import typing

from fakes import FakeWorld as World

from bot.app.dispatch import HANDLERS, dispatch
from bot.app.views import AuditView, ErrorView, RequestListView, RequestView
from commands.model import Audit, Cancel, Command, ListRequests, Reason, RestartRequest, ShowRequest
from policies.identity import Principal

ALICE, BOB = Principal(id="U01ALICE"), Principal(id="U02BOB")
HUNG = RestartRequest(site="shop-web", reason=Reason.HUNG)  # needs bob's approval: it waits


def test_every_command_type_has_exactly_one_handler() -> None:
    assert set(HANDLERS) == set(typing.get_args(Command))


def test_the_requester_cancels_a_waiting_request_and_nobody_else_can(world: World) -> None:
    waiting = dispatch(HUNG, ALICE, world.service, "cli")
    assert isinstance(waiting, RequestView) and waiting.state == "awaiting_approval"

    refused = dispatch(Cancel(waiting.id), BOB, world.service, "cli")
    cancelled = dispatch(Cancel(waiting.id), ALICE, world.service, "cli")

    assert isinstance(refused, ErrorView) and refused.code == "not_allowed"
    assert isinstance(cancelled, RequestView) and cancelled.state == "cancelled"
    assert all(not ops for ops in world.executor.restarts().values())


def test_reading_requests_and_the_audit_goes_through_dispatch(world: World) -> None:
    waiting = dispatch(HUNG, ALICE, world.service, "cli")
    assert isinstance(waiting, RequestView)

    shown = dispatch(ShowRequest(waiting.id), ALICE, world.service, "cli")
    listed = dispatch(ListRequests(state="awaiting_approval"), ALICE, world.service, "cli")
    audit = dispatch(Audit(request_id=waiting.id), ALICE, world.service, "cli")
    bad_state = dispatch(ListRequests(state="sleeping"), ALICE, world.service, "cli")

    assert isinstance(shown, RequestView) and shown.id == waiting.id
    assert isinstance(listed, RequestListView) and [r.id for r in listed.root] == [waiting.id]
    assert isinstance(audit, AuditView) and {e.request_id for e in audit.root} == {waiting.id}
    assert isinstance(bad_state, ErrorView) and bad_state.code == "bad_input" and "sleeping" in bad_state.message


def test_a_command_over_the_limits_built_inside_dispatch_is_bad_input(world: World) -> None:
    reply = dispatch(lambda: RestartRequest.from_arguments("shop web"), ALICE, world.service, "mcp")

    assert isinstance(reply, ErrorView) and reply.code == "bad_input" and "'shop web'" in reply.message
