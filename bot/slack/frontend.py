"""What the Slack listeners share: the service, the Notifier, the calls into the core's dispatcher
(which turns known errors into an ErrorView and unexpected ones into an incident), and the pool the
restarts run on. Work that may run a restart (a request, an approval, a deploy button) goes to that
bounded pool of its own, so Bolt's listener threads stay free for help, status, plans and clicks
however many restarts are running; past the pool's size a restart waits its turn."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from bot.app.dispatch import dispatch, handle_text
from bot.app.service import Service
from bot.app.views import View
from bot.slack.channels import ChannelNames
from bot.slack.groups import UserGroups
from bot.slack.notice_keeper import NoticeKeeper
from bot.slack.notifier import SlackNotifier
from bot.slack.permalinks import MessageLink
from commands.model import Command
from policies.identity import Principal


@dataclass(frozen=True)
class SlackFrontEnd:
    service: Service
    notifier: SlackNotifier
    groups: UserGroups | None = None
    restarts: Executor | None = None  # None: on the listener's own thread
    channels: ChannelNames | None = None  # replies name a channel by its name
    notices: NoticeKeeper | None = None  # deploy notices: whose button is still offered

    def may_restart(self, work: Callable[..., None], *args: Any) -> None:
        """Run `work`, which may run a restart, on the restarts' pool."""
        if self.restarts is None:
            work(*args)
        else:
            self.restarts.submit(work, *args)

    def principal(self, user: str, channel: str | None) -> Principal:
        """A Slack user by ID, with their user groups when the policy names any, and the channel."""
        groups = self.groups.of(user) if self.groups is not None else frozenset()
        return Principal(id=user, groups=groups, channel=channel, verified=True)  # Slack signed the request

    def message_link(self, request_id: str) -> MessageLink:
        """Where the request's channel message is: its permalink (asked once, then kept), else its channel."""
        return self.notifier.permalinks.of_request(request_id)

    def handle_text(self, text: str, principal: Principal, origin: str) -> View:
        return handle_text(text, principal, self.service, origin)

    def dispatch(self, command: Command, principal: Principal, origin: str) -> View:
        return dispatch(command, principal, self.service, origin)
