"""What `aspreset serve` runs, wired in one place around `bootstrap.build`: the Slack WebClient and
Notifier, the Service, the Bolt app (HTTP mode, or Socket Mode by flag), the deploy webhook and
the one ASGI app carrying them. Tests and the benchmark build exactly this, passing fakes or
simulator-pointed adapters for the ports they replace. `build_slack_work` is the same Slack side
for the Slack work process (`aspreset serve --slack-work`), which does the work after the acks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog
from slack_bolt import App
from slack_sdk import WebClient
from starlette.applications import Starlette
from starlette.types import ASGIApp

from bot.app.ports import Clock, Store
from bot.app.ports import Executor as WinRMPort
from bot.app.service import Service
from bot.app.watch.incidents import IncidentStore
from bot.app.watch.schedule import WatchSchedule
from bot.bootstrap import Runtime, build, process_owner
from bot.config import Settings
from bot.http.asgi import create_app
from bot.http.webhook import DeployWebhook
from bot.metrics.forwarded import MetricLines
from bot.metrics.registry import PrometheusMetrics
from bot.metrics.slack import SlackCallCounter
from bot.runner.processes import ProcessRuns
from bot.slack.app import build_bolt_app, web_client
from bot.slack.approver_dms import ApproverDMs
from bot.slack.channels import ChannelNames
from bot.slack.frontend import SlackFrontEnd
from bot.slack.groups import UserGroups
from bot.slack.notice_keeper import NoticeKeeper
from bot.slack.notifier import SlackNotifier
from bot.slack.pacing import MethodBuckets, SharedPacing, paced_client, retrying_client
from bot.slack.sweeper import EVERY_S, ExpirySweeper, MarksShown
from bot.slack.watching import start_watch
from bot.slack.work_child import slack_work
from bot.slack.work_process import HandToSlackWork, SlackWorkProcess
from bot.store import SqlStore
from bot.store.incidents import incidents_for
from bot.store.liveness import LapsedRuns, SqlLiveness
from bot.store.notices import notices_for
from bot.store.shared import MemoryShared, Shared, SqlShared

if TYPE_CHECKING:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

log = structlog.get_logger("aspreset.serve")


@dataclass
class Serving:
    asgi: Starlette
    bolt: App
    runtime: Runtime
    notifier: SlackNotifier
    metrics: PrometheusMetrics  # this process's own registry, served at /metrics
    work: ThreadPoolExecutor  # Bolt's listener executor: every piece of work after an ack
    restarts: Executor | None = None  # what may run a restart, handed over from `work`
    sweeper: ExpirySweeper | None = None
    slack_work: SlackWorkProcess | None = None  # the process doing the work after each ack, if apart
    watch: WatchSchedule | None = None  # the health watch, when some site is watched
    socket_mode: SocketModeHandler | None = None

    @property
    def service(self) -> Service:
        return self.runtime.service

    def close(self) -> None:
        """Stop sweeping and taking Slack's events, finish the work in flight (a restart that has
        started is finished), send the last message updates, then let go of the hosts and the
        store (bootstrap's Runtime: last opened first). Once."""
        self.runtime.close()


@dataclass
class _Slack:
    """What answers Slack, in the front end or in the Slack work process: the runtime, its Notifier
    and the Bolt app with its listeners."""

    runtime: Runtime
    notifier: SlackNotifier
    shared: Shared
    calls: WebClient
    buckets: MethodBuckets
    bolt: App
    work: ThreadPoolExecutor
    restarts: Executor
    incidents: IncidentStore
    notices: NoticeKeeper


def build_serving(
    settings: Settings,
    *,
    socket_mode: bool = False,
    executor: WinRMPort | None = None,
    store: Store | None = None,
    clock: Clock | None = None,
    mcp: ASGIApp | None = None,
    mcp_lifespan: Callable[[], AbstractAsyncContextManager[object]] | None = None,
    work_threads: int = 8,
    restart_threads: int = 8,
    sweep_every_s: float = EVERY_S,
    runners: Sequence[str] | None = None,
    slack_work: Sequence[str] | None = None,
) -> Serving:
    """`runners`: the command line of a runner process (`aspreset serve --run-one ...`); given, each
    restart runs in one of those (bot/runner), at most `restart_threads` at once, and this process
    only answers Slack and follows them. Not given (the demo, tests that build their settings in
    memory), restarts run on the restart threads here. `slack_work`: the command line of the Slack
    work process (`aspreset serve --slack-work ...`); given, this process only acks Slack's requests
    and hands the work after each ack to that process (bot/slack/work_process.py)."""
    if settings.policy_path is None and settings.loaded_policy is None:
        log.warning("built_in_default_policy",
                    message="NO POLICY FILE: the built-in default policy decides who may restart what from Slack. "
                            "Write your own (docs/policy.md) and give it with --policy or `policy =` in aspreset.toml")
    metrics = PrometheusMetrics()  # one registry per Runtime: replicas and tests never add into each other
    made = _build_slack(settings, metrics, socket_mode=socket_mode, executor=executor, store=store, clock=clock,
                        work_threads=work_threads, restart_threads=restart_threads, runners=runners)
    runtime, notifier, service = made.runtime, made.notifier, made.runtime.service
    try:
        for request_id in runtime.interrupted:  # its message (in the store, whoever posted it) is updated
            notifier.show(request_id, service.get_request(request_id), follow_up=False)
        calls, buckets, shared = made.calls, made.buckets, made.shared
        webhook = DeployWebhook(settings.slack.webhook_secret, lambda: _refreshed(service).inventory,
                                lambda: service.policy, made.notices.post, shared)
        serving = Serving(asgi=Starlette(), bolt=made.bolt, runtime=runtime, notifier=notifier, metrics=metrics,
                          work=made.work, restarts=made.restarts)
        serving.asgi = create_app(bolt=None if socket_mode else made.bolt, webhook=webhook, mcp=mcp,
                                  mcp_lifespan=mcp_lifespan, on_shutdown=[serving.close],
                                  metrics=metrics.registry, metrics_token=settings.metrics_token)
        if slack_work:  # closed after Slack's events stopped coming (below), before the rest
            serving.slack_work = SlackWorkProcess(slack_work, metrics).start()
            runtime.on_close(serving.slack_work.close)
            made.bolt.listener_runner.lazy_listener_runner = HandToSlackWork(serving.slack_work)
        if socket_mode:
            handler = serving.socket_mode = socket_mode_handler(made.bolt, settings.slack.app_token)
            runtime.on_close(handler.close)  # before the work shuts down: no new events meanwhile
        lapsed = LapsedRuns(SqlLiveness(service.store)) if isinstance(service.store, SqlStore) else None
        sweeper = ExpirySweeper(service, notifier, shared, settings.owner or process_owner(settings.replica),
                                every_s=sweep_every_s, replica=settings.replica, lapsed=lapsed,
                                notices=made.notices)
        serving.sweeper = sweeper.start()
        runtime.on_close(sweeper.stop)
        serving.watch = start_watch(runtime, made.incidents, calls, buckets, shared,
                                    settings.owner or process_owner(settings.replica), notifier.permalinks.of_request)
    except BaseException:
        runtime.close()
        raise
    return serving


def serve_slack_work(settings: Settings, runners: Sequence[str] | None) -> int:
    """Be the Slack work process (`aspreset serve --slack-work`) until the front end closes stdin."""

    def build(metrics: MetricLines, restarts: Callable[[ThreadPoolExecutor], Executor]
              ) -> tuple[App, Executor, Callable[[], None]]:
        made = build_slack_work(settings, metrics, runners, restarts)
        return made.bolt, made.work, made.runtime.close

    return slack_work(build)


def build_slack_work(settings: Settings, metrics: MetricLines, runners: Sequence[str] | None,
                     restarts: Callable[[ThreadPoolExecutor], Executor]) -> _Slack:
    """Inside the Slack work process: the same listeners as the front end's (so each lazy function
    is found by its name), without the signature check (the front end checked it; the pipe is
    ours), with `restarts` around the restarts' pool (the work process follows each job to its end)."""
    return _build_slack(settings, metrics, verify=False, runners=runners, restarts_around=restarts)


def _build_slack(
    settings: Settings,
    metrics: PrometheusMetrics | MetricLines,
    *,
    socket_mode: bool = False,
    verify: bool = True,
    executor: WinRMPort | None = None,
    store: Store | None = None,
    clock: Clock | None = None,
    work_threads: int = 8,
    restart_threads: int = 8,
    runners: Sequence[str] | None = None,
    restarts_around: Callable[[ThreadPoolExecutor], Executor] | None = None,
) -> _Slack:
    slack = settings.slack
    pacing = SharedPacing()  # every Web API call of every replica paced by what the store holds
    # every client made from it counts its calls and waits for `pacing`
    client = paced_client(web_client(slack, first_handlers=[SlackCallCounter(metrics)]), pacing)
    made: list[tuple[Shared, SlackNotifier]] = []
    services: list[Service] = []  # the one built below: its inventory is the file as last read

    def channel_of(site: str) -> str | None:
        sites = services[0].inventory.sites if services else {}
        return sites[site].channel if site in sites else None

    buckets = MethodBuckets()  # one budget per Web API method for the whole process
    channels = ChannelNames(retrying_client(client))  # replies (and MCP's answers) name channels, not ids

    def slack_notifier(store: Store) -> MarksShown:
        """Each request's message is kept in the store, so every replica updates the same one (and
        which end it shows, for the sweeper)."""
        shared: Shared = SqlShared(store) if isinstance(store, SqlStore) else MemoryShared()
        pacing.share_through(shared)
        made.append((shared, SlackNotifier(client, channel_of, shared=shared, buckets=buckets,
                                           approver_dms=ApproverDMs(retrying_client(client), buckets, channels))))
        return MarksShown(made[-1][1])

    runs = ProcessRuns(runners, max_runners=restart_threads, metrics=metrics) if runners else None
    try:
        runtime = build(settings, executor=executor, store=store, notifier_for=slack_notifier, clock=clock,
                        metrics=metrics, runs=runs, channel_names=channels)
    except BaseException:
        if runs is not None:
            runs.close()
        raise
    try:
        if runs is not None:
            runtime.on_close(runs.close)  # last of the front end's: after the restarts' pool ended
        (shared, notifier), service = made[0], runtime.service
        services.append(service)
        runtime.on_close(notifier.close)  # after the work below: its last message updates go out
        notifier.reads_views_from(service.get_request)
        pool = ThreadPoolExecutor(max_workers=restart_threads, thread_name_prefix="slack-restarts")
        restarts = restarts_around(pool) if restarts_around else pool
        runtime.on_close(lambda: restarts.shutdown(wait=True))  # after the work below handed over its last
        work = ThreadPoolExecutor(max_workers=work_threads, thread_name_prefix="slack-work")
        runtime.on_close(lambda: work.shutdown(wait=True))
        calls = retrying_client(client)  # every call but the Notifier's (which paces itself) waits out a 429
        notices = NoticeKeeper(calls, notices_for(service.store), notifier.permalinks.of_request, clock=service.clock,
                               buckets=buckets,
                               request_state=lambda request_id: service.store.get(request_id).state.value)
        front = SlackFrontEnd(service, notifier, UserGroups(calls, lambda: service.policy), restarts, channels,
                              notices=notices)
        incidents = service.incidents or incidents_for(service.store)
        bolt = build_bolt_app(slack, calls, front, work, socket_mode=socket_mode, incidents=incidents, verify=verify)
    except BaseException:
        runtime.close()
        raise
    return _Slack(runtime, notifier, shared, calls, buckets, bolt, work, restarts, incidents, notices)


def _refreshed(service: Service) -> Service:
    """The service with its policy and inventory files as they are now (what dispatch does for a
    command; the webhook reads them without one). A broken file raises ConfigError: fail closed."""
    service.refresh()
    return service


def socket_mode_handler(bolt: App, app_token: str | None) -> SocketModeHandler:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from bot.app.errors import ConfigError

    if not app_token or not app_token.startswith("xapp-"):
        raise ConfigError("Socket Mode needs SLACK_APP_TOKEN, an app-level token (xapp-...) with the "
                          "connections:write scope (Basic Information > App-Level Tokens)")
    return SocketModeHandler(bolt, app_token)
