"""What the Slack listeners share: the service, the Notifier, and the calls into the core's
dispatcher (which turns known errors into an ErrorView and unexpected ones into an incident)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.app.dispatch import dispatch, handle_text
from bot.app.service import Service
from bot.app.views import View
from bot.slack.groups import UserGroups
from bot.slack.notifier import SlackNotifier
from commands.model import Command
from policies.identity import Principal


@dataclass(frozen=True)
class SlackFrontEnd:
    service: Service
    notifier: SlackNotifier
    groups: UserGroups | None = None

    def principal(self, user: str, channel: str | None) -> Principal:
        """A Slack user by ID, with their user groups when the policy names any, and the channel."""
        groups = self.groups.of(user) if self.groups is not None else frozenset()
        return Principal(id=user, groups=groups, channel=channel)

    def handle_text(self, text: str, principal: Principal, origin: str) -> View:
        return handle_text(text, principal, self.service, origin)

    def dispatch(self, command: Command, principal: Principal, origin: str) -> View:
        return dispatch(command, principal, self.service, origin)
