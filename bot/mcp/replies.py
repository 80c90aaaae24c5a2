"""A tool's answer from the core's view: text for the model to read (bot/mcp/text.py) and the view's
own dump as structured content. Refusals, failed restarts and errors are tool errors (`is_error`)
that still carry their structured content, so an assistant reads the reason and the narrower
alternative either way."""

from __future__ import annotations

from typing import Literal

from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel

from bot.app.errors import AspresetError
from bot.app.incidents import error_view
from bot.app.records import FINAL_STATES, RequestState
from bot.app.views import ErrorView, RefusalView, RequestListView, RequestView, View
from bot.mcp import text

# A request_restart that ends in one of these did not do what was asked.
NOT_DONE = FINAL_STATES - {RequestState.SUCCEEDED}


class RequestsResult(BaseModel):
    """list_requests' structured content: MCP wants an object, the core's list view is a list."""

    kind: Literal["requests"] = "requests"
    requests: list[RequestView]


def result(view: View, *, request_outcome: bool = False) -> CallToolResult:
    """`request_outcome`: the view answers "did the restart I asked for happen?" (request_restart),
    so a refused or failed request is an error; reading a request back never is."""
    if isinstance(view, RequestListView):
        data = RequestsResult(requests=view.root).model_dump(mode="json")
    else:
        data = view.model_dump(mode="json")
    error = isinstance(view, ErrorView | RefusalView) or (
        request_outcome and isinstance(view, RequestView) and view.state in NOT_DONE
    )
    return CallToolResult(content=[TextContent(type="text", text=text.text(view))], structured_content=data,
                          is_error=error)


def unavailable(error: AspresetError) -> CallToolResult:
    """The guardrails (policy, inventory, store) could not be read: fail closed, say what to fix."""
    view = error_view(error)
    message = (f"aspreset did nothing: it cannot check its guardrails ({view.message}). A person needs to fix "
               "the bot's configuration; retrying will not help until then.")
    return result(view.model_copy(update={"message": message}))
