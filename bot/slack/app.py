"""The slack-bolt App: one WebClient pointed at the configured Web API base URL, request signature
verification in HTTP mode, listeners registered per kind (bot/slack/commands.py, actions.py).

`process_before_response=True` with lazy listeners: each listener's ack function runs inline and
acks at once, and the lazy function (the real work) is handed to `executor`, which the server
shuts down with wait=True, so a restart in flight is finished before the process exits. Under
`aspreset serve` the lazy functions go to the Slack work process instead (bot/slack/work_process.py),
which builds this same app and runs each one there by its name."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry import RetryHandler, default_retry_handlers

from bot.app.errors import ConfigError
from bot.app.watch.incidents import IncidentStore
from bot.config import SlackSettings
from bot.slack import actions, commands, deny_modal, errors, home, incident_actions
from bot.slack.frontend import SlackFrontEnd


def web_client(slack: SlackSettings, first_handlers: Sequence[RetryHandler] = ()) -> WebClient:
    """`first_handlers` see each response before slack_sdk's default ones (the metrics' call counter)."""
    if not slack.bot_token:
        raise ConfigError("SLACK_BOT_TOKEN is not set: the bot token (xoxb-...) from the Slack app's "
                          "OAuth & Permissions page (docs/slack-setup.md)")
    return WebClient(token=slack.bot_token, base_url=slack.api_base_url, timeout=10,
                     retry_handlers=[*first_handlers, *default_retry_handlers()])


def build_bolt_app(
    slack: SlackSettings, client: WebClient, front: SlackFrontEnd, executor: Executor, *, socket_mode: bool = False,
    incidents: IncidentStore | None = None, verify: bool = True,
) -> App:
    """`verify=False`: no signature check (the Slack work process, whose requests come from the front
    end that checked them, over a pipe)."""
    if verify and not socket_mode and not slack.signing_secret:
        raise ConfigError("SLACK_SIGNING_SECRET is not set: HTTP mode verifies every request with it "
                          "(Basic Information > App Credentials), or run `aspreset serve --socket-mode`")
    app = App(
        client=client,
        signing_secret=slack.signing_secret or "socket-mode-has-no-signing-secret",
        request_verification_enabled=verify and not socket_mode,
        process_before_response=True,
        listener_executor=executor,
        name="aspreset",
    )
    commands.register(app, front)
    actions.register(app, front)
    deny_modal.register(app, front)
    home.register(app, front)
    if incidents is not None:  # the health watch's incident buttons
        incident_actions.register(app, front, incidents)
    errors.register(app)
    return app
