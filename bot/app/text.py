"""Plain text shared by the text front ends (the CLI, the chat console, MCP): pure functions of one
view, for the replies whose wording need not differ by medium."""

from __future__ import annotations

from bot.app.views import AuditView


def audit_text(audit: AuditView) -> str:
    lines = [f"{e.at:%Y-%m-%d %H:%M:%S}Z  {e.request_id or '-':<9} {e.action:<11} "
             f"{(e.state_from or '-')}->{e.state_to}  {e.site} {e.rung}  by {e.actor_display}"
             for e in audit.root]
    return "\n".join(lines) or "no events"
