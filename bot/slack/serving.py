"""What `aspreset serve` runs, wired in one place around `bootstrap.build`: the Slack WebClient and
Notifier, the Service, the Bolt app (HTTP mode, or Socket Mode by flag), the deploy webhook and
the one ASGI app carrying them. Tests and the benchmark build exactly this, passing fakes or
simulator-pointed adapters for the ports they replace."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog
from slack_bolt import App
from starlette.applications import Starlette
from starlette.types import ASGIApp

from bot.app.ports import Clock, Executor, Store
from bot.app.service import Service
from bot.bootstrap import Runtime, build
from bot.config import Settings
from bot.http.asgi import create_app
from bot.http.webhook import DeployWebhook
from bot.slack.app import build_bolt_app, web_client
from bot.slack.deploy_notice import post_notice
from bot.slack.frontend import SlackFrontEnd
from bot.slack.groups import UserGroups
from bot.slack.notifier import SlackNotifier

if TYPE_CHECKING:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

log = structlog.get_logger("aspreset.serve")


@dataclass
class Serving:
    asgi: Starlette
    bolt: App
    runtime: Runtime
    notifier: SlackNotifier
    work: ThreadPoolExecutor  # Bolt's listener executor: every piece of work after an ack
    socket_mode: SocketModeHandler | None = None

    @property
    def service(self) -> Service:
        return self.runtime.service

    def close(self) -> None:
        """Stop taking Slack's events, finish the work in flight (a restart that has started is
        finished), send the last message updates, then let go of the hosts and the store. Once."""
        self.runtime.close()


def build_serving(
    settings: Settings,
    *,
    socket_mode: bool = False,
    executor: Executor | None = None,
    store: Store | None = None,
    clock: Clock | None = None,
    mcp: ASGIApp | None = None,
    mcp_lifespan: Callable[[], AbstractAsyncContextManager[object]] | None = None,
    work_threads: int = 8,
) -> Serving:
    slack = settings.slack
    client = web_client(slack)
    inventory = settings.inventory()
    notifier = SlackNotifier(client, lambda site: inventory.sites[site].channel if site in inventory.sites else None)
    runtime = build(settings, executor=executor, store=store, notifier=notifier, clock=clock)
    try:
        service = runtime.service
        for request_id in runtime.interrupted:  # the channel hears it; the old message's ts died with that process
            notifier.show(request_id, service.get_request(request_id), follow_up=False)
        runtime.on_close(notifier.close)  # after the work below: its last message updates go out
        work = ThreadPoolExecutor(max_workers=work_threads, thread_name_prefix="slack-work")
        runtime.on_close(lambda: work.shutdown(wait=True))
        front = SlackFrontEnd(service, notifier, UserGroups(client, lambda: service.policy))
        bolt = build_bolt_app(slack, client, front, work, socket_mode=socket_mode)
        webhook = DeployWebhook(slack.webhook_secret, lambda: service.inventory, lambda: service.policy,
                                lambda channel, assessment: post_notice(client, channel, assessment))
        serving = Serving(asgi=Starlette(), bolt=bolt, runtime=runtime, notifier=notifier, work=work)
        serving.asgi = create_app(bolt=None if socket_mode else bolt, webhook=webhook, mcp=mcp,
                                  mcp_lifespan=mcp_lifespan, on_shutdown=[serving.close])
        if socket_mode:
            handler = serving.socket_mode = socket_mode_handler(bolt, slack.app_token)
            runtime.on_close(handler.close)  # first: no new events while the work in flight finishes
    except BaseException:
        runtime.close()
        raise
    return serving


def socket_mode_handler(bolt: App, app_token: str | None) -> SocketModeHandler:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from bot.app.errors import ConfigError

    if not app_token or not app_token.startswith("xapp-"):
        raise ConfigError("Socket Mode needs SLACK_APP_TOKEN, an app-level token (xapp-...) with the "
                          "connections:write scope (Basic Information > App-Level Tokens)")
    return SocketModeHandler(bolt, app_token)
