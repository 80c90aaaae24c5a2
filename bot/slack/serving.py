"""What `aspreset serve` runs, wired in one place around `bootstrap.build`: the Slack WebClient and
Notifier, the Service, the Bolt app (HTTP mode, or Socket Mode by flag), the deploy webhook and
the one ASGI app carrying them. Tests and the benchmark build exactly this, passing fakes or
simulator-pointed adapters for the ports they replace."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog
from slack_bolt import App
from starlette.applications import Starlette
from starlette.types import ASGIApp

from bot.app.ports import Clock, Executor, Store
from bot.app.service import Service
from bot.bootstrap import build, process_owner, reap_dead_local_runs
from bot.config import Settings
from bot.http.asgi import create_app
from bot.http.webhook import DeployWebhook
from bot.slack.app import build_bolt_app, web_client
from bot.slack.deploy_notice import post_notice
from bot.slack.frontend import SlackFrontEnd
from bot.slack.groups import UserGroups
from bot.slack.notifier import SlackNotifier
from bot.slack.sweeper import EVERY_S, ExpirySweeper
from bot.store import SqlStore, open_store
from bot.store.shared import MemoryShared, Shared, SqlShared

if TYPE_CHECKING:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

log = structlog.get_logger("aspreset.serve")


@dataclass
class Serving:
    asgi: Starlette
    bolt: App
    service: Service
    notifier: SlackNotifier
    work: ThreadPoolExecutor  # Bolt's listener executor: every piece of work after an ack
    sweeper: ExpirySweeper | None = None
    socket_mode: SocketModeHandler | None = None
    _closed: bool = field(default=False, repr=False)

    def close(self) -> None:
        """Finish the work in flight (a restart that has started is finished), send the last
        message updates, then let go of Slack and the store."""
        if self._closed:
            return
        self._closed = True
        if self.sweeper is not None:
            self.sweeper.stop()
        if self.socket_mode is not None:
            self.socket_mode.close()  # type: ignore[no-untyped-call]
        self.work.shutdown(wait=True)
        self.notifier.close()
        self.service.store.close()


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
    sweep_every_s: float = EVERY_S,
) -> Serving:
    slack = settings.slack
    client = web_client(slack)
    inventory = settings.inventory()
    interrupted: list[str] = []
    if store is None:  # opened here (not in build) to hear which runs a dead process of this machine left
        store = open_store(settings.db_url, settings.workdir)
        interrupted = reap_dead_local_runs(store)
    shared: Shared = SqlShared(store) if isinstance(store, SqlStore) else MemoryShared()
    notifier = SlackNotifier(client, lambda site: inventory.sites[site].channel if site in inventory.sites else None,
                             shared=shared)
    service = build(settings, executor=executor, store=store, notifier=notifier, clock=clock)
    for request_id in interrupted:  # its message (in the store, whoever posted it) is updated, else posted
        notifier.show(request_id, service.get_request(request_id), follow_up=False)
    work = ThreadPoolExecutor(max_workers=work_threads, thread_name_prefix="slack-work")
    front = SlackFrontEnd(service, notifier, UserGroups(client, lambda: service.policy))
    bolt = build_bolt_app(slack, client, front, work, socket_mode=socket_mode)
    webhook = DeployWebhook(slack.webhook_secret, lambda: service.inventory, lambda: service.policy,
                            lambda channel, assessment: post_notice(client, channel, assessment), shared)
    sweeper = ExpirySweeper(service, notifier, shared, settings.owner or process_owner(), every_s=sweep_every_s)
    serving = Serving(asgi=Starlette(), bolt=bolt, service=service, notifier=notifier, work=work,
                      sweeper=sweeper.start())
    serving.asgi = create_app(bolt=None if socket_mode else bolt, webhook=webhook, mcp=mcp,
                              mcp_lifespan=mcp_lifespan, on_shutdown=[serving.close])
    if socket_mode:
        serving.socket_mode = socket_mode_handler(bolt, slack.app_token)
    return serving


def socket_mode_handler(bolt: App, app_token: str | None) -> SocketModeHandler:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from bot.app.errors import ConfigError

    if not app_token or not app_token.startswith("xapp-"):
        raise ConfigError("Socket Mode needs SLACK_APP_TOKEN, an app-level token (xapp-...) with the "
                          "connections:write scope (Basic Information > App-Level Tokens)")
    return SocketModeHandler(bolt, app_token)
