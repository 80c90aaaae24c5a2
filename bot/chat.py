"""One line of chat text -> the bot's reply, exactly as the Slack front end handles it. Used by
`aspreset say` (the local chat console) and by the Slack listeners."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.errors import AspresetError
from bot.render import decision_json, decision_text, plan_json, plan_text
from bot.service import Service
from commands.help import help_text
from commands.model import Help, ListSites, RestartRequest, ServerWideRequest
from commands.parser import ParseError, parse
from policies.decision import NeedsApproval, Refuse
from policies.identity import Principal

EXIT_DONE, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_REFUSED, EXIT_WAITING = 0, 1, 2, 3, 4


@dataclass(frozen=True)
class Reply:
    text: str
    exit_code: int = EXIT_DONE
    data: dict[str, Any] = field(default_factory=dict)


def handle_text(text: str, principal: Principal, service: Service) -> Reply:
    try:
        command = parse(text)
    except ParseError as error:
        return Reply(f"Sorry: {error.message}. Try `/recycle help`.", EXIT_BAD_INPUT, {"error": error.message})
    try:
        if isinstance(command, ServerWideRequest):
            refusal = service.refuse_server_wide(command)
            alternative = (
                f"Restart only what needs it: `/recycle SITE` restarts one app ({command.alternative.value}); "
                "`--reason gac|memory|locked-file` recycles its pool; `--reason hung` kills only its "
                "pool's worker, with a second person's approval."
            )
            return Reply(
                f"{decision_text(refusal)}\n{alternative}", EXIT_REFUSED, {"decision": decision_json(refusal)}
            )
        if isinstance(command, Help):
            return Reply(help_text(command.topic))
        if isinstance(command, ListSites):
            lines = [
                f"{name} ({site.environment}): {site.iis_site}{site.app} pool {site.pool} on {', '.join(site.hosts)}"
                for name, site in sorted(service.inventory.sites.items())
            ]
            return Reply("\n".join(lines) or "No sites in the inventory.")
        if isinstance(command, RestartRequest):
            planned = service.plan(command, principal)
            code = (
                EXIT_REFUSED
                if isinstance(planned.decision, Refuse)
                else EXIT_WAITING
                if isinstance(planned.decision, NeedsApproval) and not command.plan_only
                else EXIT_DONE
            )
            return Reply(plan_text(planned), code, plan_json(planned))
        return Reply(
            f"`{type(command).__name__.lower()}` is not available in this console yet.", EXIT_BAD_INPUT
        )
    except AspresetError as error:
        return Reply(f"Sorry: {error}", error.exit_code, {"error": str(error)})
