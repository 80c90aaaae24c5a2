"""A tool's answer from the core's view: text for the model to read (bot/mcp/text.py) and, as
structured content, the view's own dump when it is the tool's declared output. Refusals, failed
restarts and errors are tool errors (`isError`); an error whose view is not the tool's output (an
`ErrorView` from plan_restart, say) carries no structured content, because clients check structured
content against the tool's outputSchema and would throw away the message with it."""

from __future__ import annotations

from typing import Literal

from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel

from bot.app.errors import AspresetError
from bot.app.incidents import error_view
from bot.app.records import FINAL_STATES, RequestState
from bot.app.views import ErrorView, IncidentListView, IncidentView, RefusalView, RequestListView, RequestView, View
from bot.mcp import text
from bot.mcp.guidance import REFUSAL_SUGGESTION, in_assistant_words

# A request_restart that ends in one of these did not do what was asked.
NOT_DONE = FINAL_STATES - {RequestState.SUCCEEDED}


class RequestsResult(BaseModel):
    """list_requests' structured content: MCP wants an object, the core's list view is a list."""

    kind: Literal["requests"] = "requests"
    requests: list[RequestView]


class IncidentsResult(BaseModel):
    """list_incidents' structured content: the health watch's incidents, newest first."""

    kind: Literal["incidents"] = "incidents"
    incidents: list[IncidentView]


Output = type[BaseModel]


def result(view: View, output: Output, *, request_outcome: bool = False) -> CallToolResult:
    """`output`: the tool's declared output model. `request_outcome`: the view answers "did the
    restart I asked for happen?" (request_restart), so a refused or failed request is an error;
    reading a request back never is."""
    view = _in_assistant_words(view)
    data: BaseModel = view
    if isinstance(view, RequestListView):
        data = RequestsResult(requests=view.root)
    elif isinstance(view, IncidentListView):
        data = IncidentsResult(incidents=view.root)
    error = isinstance(view, ErrorView | RefusalView) or (
        request_outcome and isinstance(view, RequestView) and view.state in NOT_DONE
    )
    structured = data.model_dump(mode="json") if isinstance(data, output) else None
    return CallToolResult(content=[TextContent(type="text", text=text.text(view))], structured_content=structured,
                          is_error=error)


def error(message: str) -> CallToolResult:
    """A tool error with just its sentence (no structured content: no tool's output is an error)."""
    return CallToolResult(content=[TextContent(type="text", text=message)], is_error=True)


def unavailable(problem: AspresetError) -> CallToolResult:
    """The guardrails (policy, inventory, store) could not be read: fail closed, say what to fix."""
    view = error_view(problem)
    message = (f"aspreset did nothing: it cannot check its guardrails ({view.message}). A person needs to fix "
               "the bot's configuration; retrying will not help until then.")
    return error(f"{message} [{view.code}]")


def _in_assistant_words(view: View) -> View:
    if isinstance(view, ErrorView):
        return view.model_copy(update={"message": in_assistant_words(view.message)})
    if isinstance(view, RefusalView):
        return view.model_copy(update={"suggestion": REFUSAL_SUGGESTION})
    return view
