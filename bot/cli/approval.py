"""Approving an assistant's request at the bot's terminal. `--as bob` is only a name: an assistant
with a shell on this machine could type it. So a request made by an `mcp:` principal is approved
on the CLI only by the operating-system user the policy maps to that approver
(`[people.bob] os_users = ["bob"]`), interactively on a terminal, with the request's plan shown and
its id typed back. Anything else is refused with the reason, and nothing is recorded."""

from __future__ import annotations

import os
import pwd
from dataclasses import replace
from typing import TextIO

from bot.app.errors import NotAllowed
from bot.app.service import Service
from bot.app.views import RequestView
from bot.cli.render import text as render_text
from policies.identity import Principal

TERMINAL_ONLY = (
    "{id} was asked for by an assistant ({requester}): it is approved in Slack, or here by the approver "
    "in person"
)


def os_user() -> str:
    """Who this process runs as, from the kernel's uid (not $USER or $LOGNAME, which anyone can set)."""
    return pwd.getpwuid(os.geteuid()).pw_name


def confirmed_in_person(
    service: Service, principal: Principal, request_id: str, *, stdin: TextIO, stdout: TextIO, user: str
) -> Principal:
    """`principal`, verified, when the request is an assistant's and the person is at this terminal
    as themselves and confirmed it; unchanged for anyone else's request (the core's rules apply)."""
    request = service.queries.get_request(request_id)
    if not request.requester.startswith("mcp:"):
        return principal
    refused = TERMINAL_ONLY.format(id=request.id, requester=request.requester)
    alias = next((a for a, user_id in service.policy.people.items() if user_id == principal.id), None)
    if alias is None:
        raise NotAllowed(f"{refused}: give --as with your [people] alias")
    mapped = service.policy.os_user_person(user)
    if mapped != alias:
        who = f"the policy maps {user} to {mapped}" if mapped else f"the policy maps {user} to nobody"
        raise NotAllowed(f"{refused}: approving as {alias} takes one of {alias}'s own operating-system accounts "
                         f"([people.{alias}] os_users in {service.policy.source}); you are {user} and {who}")
    if not (stdin.isatty() and stdout.isatty()):
        raise NotAllowed(f"{refused}: run this on a terminal, where the plan is shown and you confirm it "
                         "(there is no terminal here)")
    print(_summary(request), file=stdout)
    stdout.write(f"Type {request.id} to approve it as {alias}: ")
    stdout.flush()
    answer = stdin.readline().strip()
    if answer != request.id:
        raise NotAllowed(f"{request.id} was not confirmed (you typed {answer[:40]!r}); nothing was approved")
    return replace(principal, verified=True)


def _summary(request: RequestView) -> str:
    note = f"\n  why (the assistant's note): {request.reason}" if request.reason else ""
    return f"{render_text(request)}{note}"
