"""Arguments the input schema refuses, said as sentences that name the argument and what it takes
(the SDK's own message is pydantic's dump, with links). The server class is the SDK's MCPServer
with only that translation added, through its public `call_tool`."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.types import CallToolResult, InputRequiredResult
from pydantic import ValidationError
from pydantic_core import ErrorDetails

# What a value of an argument with a pattern looks like, for the sentence that refuses one.
PATTERN_HINTS = {
    "site": "a site's name as list_sites gives it, e.g. shop-web",
    "request_id": "a request id as request_restart or list_requests gave it, e.g. r-7k2m9q",
    "note": "one line of text, without newlines or control characters",
}


class AssistantServer(MCPServer):
    """MCPServer whose refused arguments read as sentences."""

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as error:
            cause = error.__cause__
            if isinstance(error, UnexpectedToolError) or not isinstance(cause, ValidationError):
                raise
            raise ToolError(refused_arguments(name, cause)) from cause


def refused_arguments(tool: str, error: ValidationError) -> str:
    sentences = [sentence(detail) for detail in error.errors(include_url=False)]
    return f"{tool} was not called: " + " ".join(sentences)


def sentence(detail: ErrorDetails) -> str:
    loc = [part for part in detail["loc"] if part not in ("arguments",)]
    name = str(loc[0]) if loc else "the arguments"
    where = name + "".join(f"[{part}]" for part in loc[1:])
    ctx: dict[str, Any] = dict(detail.get("ctx") or {})
    kind = detail["type"]
    got = _shown(detail.get("input"))
    if kind == "missing":
        return f"The argument {where} is required."
    if kind in ("literal_error", "enum"):
        return f"The argument {where} must be one of {ctx.get('expected', '')}; got {got}."
    if kind == "string_too_long":
        return f"The argument {where} is at most {ctx.get('max_length')} characters long."
    if kind == "string_too_short":
        return f"The argument {where} must not be empty."
    if kind == "too_long":
        return f"The argument {where} lists at most {ctx.get('max_length')} items."
    if kind == "string_pattern_mismatch":
        form = PATTERN_HINTS.get(name, "in the form its description gives")
        return f"The argument {where} must be {form}; got {got}."
    if kind == "string_type":
        return f"The argument {where} must be text; got {got}."
    if kind == "list_type":
        return f"The argument {where} must be a list; got {got}."
    return f"The argument {where} is not valid: {detail['msg']}."


def _shown(value: object) -> str:
    """The refused value, short and on one line (repr escapes control characters)."""
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."
