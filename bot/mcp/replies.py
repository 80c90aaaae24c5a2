"""A tool's answer: text for the model to read and structured content (the core's view, dumped)
for it to use. Refusals, failures and errors are tool errors (`is_error`), still with their
structured content, so an assistant reads the reason and the narrower alternative either way."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

import structlog
from mcp.types import CallToolResult, TextContent

from bot.app.errors import AspresetError

log = structlog.get_logger("aspreset.mcp")


@dataclass(frozen=True)
class Reply:
    text: str
    data: dict[str, Any] = field(default_factory=dict)
    error: bool = False

    def result(self) -> CallToolResult:
        return CallToolResult(
            content=[TextContent(type="text", text=self.text)],
            structured_content=self.data,
            is_error=self.error,
        )


def error_reply(error: AspresetError) -> Reply:
    text = f"{error} [{error.code}]"
    return Reply(text, {"kind": "error", "code": error.code, "message": str(error), "incident": None}, error=True)


def unavailable_reply(error: AspresetError) -> Reply:
    """The guardrails (policy, inventory, store) could not be read: fail closed."""
    text = (
        f"aspreset did nothing: it cannot check its guardrails ({error}) [{error.code}]. "
        "A person needs to fix the bot's configuration; retrying will not help until then."
    )
    return Reply(text, {"kind": "error", "code": error.code, "message": str(error), "incident": None}, error=True)


def internal_reply(tool: str, error: BaseException) -> Reply:
    """Last resort: the person sees an incident id, the log has the traceback, nobody sees secrets."""
    incident = secrets.token_hex(4)
    log.error("mcp_tool_crashed", tool=tool, incident=incident, error_type=type(error).__name__, exc_info=error)
    text = f"aspreset hit an internal error (incident {incident}); a person can find it in the bot's log."
    return Reply(text, {"kind": "error", "code": "internal", "message": text, "incident": incident}, error=True)
