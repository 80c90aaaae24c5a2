"""The runner: one restart request, in a process of its own (`aspreset mcp --run-one`), so that it
is recorded to the end whatever happens to the stdio server that started it.

An MCP client owns the stdio server's process group: when it shuts down it closes the server's
stdin, waits 2 s, sends SIGTERM to the group and SIGKILL 2 s later (the Python SDK's
`stdio_client`; the TypeScript SDK does much the same). A restart takes longer than that. So the
stdio server starts this runner in a new session (`start_new_session`), outside that group, hands
it the tool's arguments on stdin and follows what it prints on stdout, one JSON object a line:

    {"event": {...a RequestEvent: host_started, host_finished, ... with the request as it stands...}}
    {"result": {...the view the core answered: a RequestView, RefusalView or ErrorView...}}

If the server goes away, the runner's writes fail and it keeps going: the store has every step.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable
from typing import Any, TextIO

from bot.app.dispatch import dispatch
from bot.app.events import RequestEvent
from bot.app.incidents import reply_for
from bot.app.service import Service
from bot.mcp import calls
from bot.mcp.services import assistant
from policies.identity import Principal


class EventLines:
    """The service's notifier in the runner: each event as one JSON line on `out`. A reader that
    left (the stdio server ended) only stops the lines, never the restart."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.gone = False

    def notify(self, event: RequestEvent) -> None:
        self.write({"event": event.model_dump(mode="json")})

    def write(self, line: dict[str, Any]) -> None:
        if self.gone:
            return
        try:
            self.out.write(json.dumps(line, default=str) + "\n")
            self.out.flush()
        except (BrokenPipeError, OSError, ValueError):  # ValueError: the stream was closed
            self.gone = True

    def close(self) -> None:
        """Closed here, so that the interpreter's own flush at exit has no broken pipe to report."""
        with contextlib.suppress(OSError):
            self.out.close()


def arguments_line(principal: Principal, arguments: dict[str, Any]) -> str:
    """What the stdio server writes to the runner's stdin."""
    return json.dumps({"principal": principal.id.removeprefix("mcp:"), "arguments": arguments}) + "\n"


def run_one(build: Callable[[EventLines], Service], stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> int:
    """Read the request's arguments, run it through the core like any tool call, print the answer."""
    lines = EventLines(stdout)
    given = json.loads(stdin.readline())
    stdin.close()
    principal = assistant(given["principal"])
    a = given["arguments"]
    make = calls.restart(a["site"], a.get("changed_files"), a.get("reason"), a.get("note"), a.get("scope"),
                         plan_only=False)
    try:
        service = build(lines)
    except Exception as error:  # the files changed since the server read them: fail closed, say why
        lines.write({"result": reply_for(error, command="request_restart", principal=principal.id).model_dump(
            mode="json")})
        return 1
    view = dispatch(make, principal, service, principal.id)
    lines.write({"result": view.model_dump(mode="json")})
    lines.close()
    return 0
