"""One line of chat text -> the bot's reply, exactly as the Slack front end handles it. Used by
`aspreset say` (the local chat console) and by the chat front ends."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.app.errors import AspresetError
from bot.app.results import StatusResult
from bot.app.service import EXIT_BAD_INPUT, EXIT_DONE, EXIT_FAILED, EXIT_REFUSED, Service, decision_dict
from bot.cli.exit_codes import exit_code_for_error
from bot.cli.render import decision_text, outcome_json, outcome_text, plan_json, plan_text, status_json, status_text
from commands.help import help_text
from commands.model import Approve, Deny, Help, ListSites, RestartRequest, ServerWideRequest, Status
from commands.parser import ParseError, parse
from policies.decision import Refuse
from policies.identity import Principal


@dataclass(frozen=True)
class Reply:
    text: str
    exit_code: int = EXIT_DONE
    data: dict[str, Any] = field(default_factory=dict)


def handle_text(text: str, principal: Principal, service: Service, origin: str = "console") -> Reply:
    try:
        command = parse(text)
    except ParseError as error:
        return Reply(f"Sorry: {error.message}. Try `/recycle help`.", EXIT_BAD_INPUT, {"error": error.message})
    who = service.display
    try:
        if isinstance(command, ServerWideRequest):
            refusal = service.refuse_server_wide(command)
            alternative = (
                f"Restart only what needs it: `/recycle SITE` restarts one app ({command.alternative.value}); "
                "`--reason gac|memory|locked-file` recycles its pool; `--reason hung` kills only its "
                "pool's worker, with a second person's approval."
            )
            return Reply(f"{decision_text(refusal)}\n{alternative}", EXIT_REFUSED, {"decision": decision_dict(refusal)})
        if isinstance(command, Help):
            return Reply(help_text(command.topic))
        if isinstance(command, ListSites):
            lines = [
                f"{name} ({site.environment}): {site.iis_site}{site.app} pool {site.pool} on {', '.join(site.hosts)}"
                for name, site in sorted(service.inventory.sites.items())
            ]
            return Reply("\n".join(lines) or "No sites in the inventory.")
        if isinstance(command, RestartRequest) and command.plan_only:
            planned = service.plan(command, principal)
            code = EXIT_REFUSED if isinstance(planned.decision, Refuse) else EXIT_DONE
            return Reply(plan_text(planned, who), code, plan_json(planned))
        if isinstance(command, RestartRequest):
            outcome = service.request(command, principal, origin)
        elif isinstance(command, Approve):
            outcome = service.approve(command.request_id, principal)
        elif isinstance(command, Deny):
            outcome = service.deny(command.request_id, principal, command.reason)
        else:
            assert isinstance(command, Status)
            results = service.status(command.site)
            code = EXIT_FAILED if any(not isinstance(r, StatusResult) or not r.ok for _, r in results) else EXIT_DONE
            return Reply(status_text(command.site, results), code, status_json(command.site, results))
        return Reply(outcome_text(outcome, who), outcome.exit_code, outcome_json(outcome))
    except AspresetError as error:
        return Reply(f"Sorry: {error}", exit_code_for_error(error), {"error": str(error)})
