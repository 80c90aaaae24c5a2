"""What the Slack listeners share: the service, the Notifier, and the calls into the core's
dispatcher with this edge's last-resort handler (an unexpected exception is logged with an
incident id and the person sees a sentence with that id, never a traceback)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import structlog

from bot.app.service import Service
from bot.slack.notifier import SlackNotifier
from policies.identity import Principal

log = structlog.get_logger("aspreset.slack")


@dataclass(frozen=True)
class SlackFrontEnd:
    service: Service
    notifier: SlackNotifier

    def handle_text(self, text: str, principal: Principal, origin: str) -> Any:
        from bot.app.dispatch import handle_text

        try:
            return handle_text(text, principal, self.service, origin)
        except Exception:
            return self._incident("command", principal)

    def dispatch(self, command: Any, principal: Principal, origin: str) -> Any:
        from bot.app.dispatch import dispatch

        try:
            return dispatch(command, principal, self.service, origin)
        except Exception:
            return self._incident(type(command).__name__, principal)

    def _incident(self, what: str, principal: Principal) -> Any:
        from bot.app.views import ErrorView

        incident = f"inc-{secrets.token_hex(4)}"
        log.exception("slack_unexpected_error", incident=incident, what=what, user=principal.id)
        return ErrorView(code="internal", incident=incident,
                         message=f"Something went wrong on the bot's side; the log has incident {incident}.")
