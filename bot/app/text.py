"""Plain text shared by the text front ends (the CLI, the chat console, MCP): pure functions of one
view, for the replies whose wording need not differ by medium."""

from __future__ import annotations

from bot.app.views import AuditView, IncidentListView, IncidentView


def audit_text(audit: AuditView) -> str:
    lines = [f"{e.at:%Y-%m-%d %H:%M:%S}Z  {e.request_id or '-':<9} {e.action:<11} "
             f"{(e.state_from or '-')}->{e.state_to}  {e.site} {e.rung}  by {e.actor_display}"
             for e in audit.root]
    return "\n".join(lines) or "no events"


def incident_line(i: IncidentView) -> str:
    """One incident: what, where, since when, and how it ended or what would help."""
    head = f"{i.id}  {i.state:<6} {i.site} on {i.host}: {i.kind.replace('_', ' ')} since {i.opened_at:%Y-%m-%d %H:%M}Z"
    if i.state == "closed":
        by = f"recovered by request {i.recovered_by}" if i.recovered_by else "recovered on its own"
        return f"{head}, {by} at {i.closed_at:%H:%M}Z ({i.probes} bad probes; last: {i.evidence})"
    offer = f"; offered: {i.offer}" if i.offer else "; no restart offered"
    return f"{head} ({i.probes} bad probes in a row): {i.evidence}{offer}"


def incidents_text(incidents: IncidentListView) -> str:
    return "\n".join(incident_line(i) for i in incidents.root) or "no incidents"
