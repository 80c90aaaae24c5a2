"""The MCP server: eight tools, thin over the core. The same policy decides for an assistant as for a
person; there is no tool that approves or denies, and nothing a client confirms counts as an
approval. Each call runs the (blocking) core in a worker thread, shielded from cancellation, so a
restart that has started finishes and is recorded even if the client hangs up."""

from __future__ import annotations

import inspect
from typing import Annotated, Any

import anyio
import anyio.to_thread
import structlog
from mcp.server.auth.provider import TokenVerifier
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult, ToolAnnotations

from bot.app.dispatch import dispatch
from bot.app.errors import AspresetError
from bot.app.incidents import reply_for
from bot.app.service import Service
from bot.app.views import ErrorView, PlanView, RequestListView, RequestView, SiteListView, StatusView, View
from bot.mcp import calls, replies
from bot.mcp.arguments import AssistantServer
from bot.mcp.extras import add_prompts_and_resources
from bot.mcp.follow import Progress, follow_restart
from bot.mcp.guidance import WhereApproved, at_the_terminal, for_assistant, locked
from bot.mcp.inputs import (
    RUNG_COSTS,
    ChangedFiles,
    IncidentSite,
    Note,
    OpenOnly,
    OptionalSite,
    Reason,
    RequestId,
    RequiredNote,
    Scope,
    Site,
    State,
)
from bot.mcp.replies import IncidentsResult, Output, RequestsResult
from bot.mcp.services import PrincipalSource, ServiceSource
from policies.identity import Principal

log = structlog.get_logger("aspreset.mcp")

INSTRUCTIONS = f"""\
aspreset restarts ASP.NET apps on IIS as narrowly as the job needs, never with IISRESET.
Before asking for a restart, call plan_restart with the files the deploy changed (or the reason):
it shows the narrowest rung, the hosts, which other apps share the pool, and whether the team's
policy allows it, needs a person's approval, or refuses it. Then call request_restart with the
same arguments and a note saying why. You cannot approve anything: a request that needs approval
waits until a person approves it; follow it with get_request, and cancel_request withdraws your
own request while it waits. A refusal names the narrower restart that would do the job.
{RUNG_COSTS}"""

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
# Reads the hosts over WinRM (status; a worker plan reads the pool's health): changes nothing there.
READS_HOSTS = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True)
# A restart drops in-memory sessions and caches (a worker kill drops requests in flight): destructive,
# and each call records a new request, so not idempotent.
RESTARTS = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=True)
# Withdraws the assistant's own waiting request: nothing runs, nothing on a host changes.
CANCELS = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False)

class Tools:
    """Runs one tool's command through the core's dispatcher, failing closed when the core cannot be
    had. With `answer_after_s` (stdio), a restart is followed as it runs and answered once it ends or
    that long has passed (bot/mcp/follow.py)."""

    def __init__(
        self, source: ServiceSource, principal: PrincipalSource, where_approved: WhereApproved,
        answer_after_s: float | None = None,
    ) -> None:
        self.source = source
        self.principal = principal
        self.where_approved = where_approved
        self.answer_after_s = answer_after_s

    async def run(self, tool: str, output: Output, make: calls.Make, *, request_outcome: bool = False
                  ) -> CallToolResult:
        try:
            principal = self.principal()  # read here: the HTTP caller's identity lives in this task's context
        except AspresetError as error:
            return replies.result(reply_for(error), output)
        # to_thread never abandons its thread, and the shield keeps the reply's bookkeeping from being
        # cancelled too: a restart that started is finished and recorded whatever the client does.
        with anyio.CancelScope(shield=True):
            answer = await anyio.to_thread.run_sync(self._call, tool, output, make, principal, request_outcome)
        return answer

    async def restart(self, arguments: dict[str, Any], ctx: Context[Any, Any]) -> CallToolResult:
        """request_restart: answered when it ends, or (stdio) followed with progress and answered
        with the request as it stands once `answer_after_s` passed."""
        a = arguments
        make = calls.restart(a["site"], a["changed_files"], a["reason"], a["note"], a["scope"], plan_only=False)
        if self.answer_after_s is None:
            return await self.run("request_restart", RequestView, make, request_outcome=True)
        try:
            principal = self.principal()
        except AspresetError as error:
            return replies.result(reply_for(error), RequestView)
        got = await anyio.to_thread.run_sync(self._service, "request_restart", RequestView, principal)
        if isinstance(got, CallToolResult):
            return got
        service = got
        view = await follow_restart(lambda: dispatch(make, principal, service, principal.id), _progress_to(ctx),
                                    self.answer_after_s)
        return self._answer(got, principal, view, RequestView, request_outcome=True)

    def _call(
        self, tool: str, output: Output, make: calls.Make, principal: Principal, request_outcome: bool
    ) -> CallToolResult:
        got = self._service(tool, output, principal)
        if isinstance(got, CallToolResult):
            return got
        view = dispatch(make, principal, got, principal.id)
        return self._answer(got, principal, view, output, request_outcome)

    def _service(self, tool: str, output: Output, principal: Principal) -> Service | CallToolResult:
        try:
            return self.source.get()
        except AspresetError as error:
            return replies.unavailable(error)
        except Exception as error:
            return replies.result(reply_for(error, command=tool, principal=principal.id), output)

    def _answer(
        self, service: Service, principal: Principal, view: View, output: Output, request_outcome: bool
    ) -> CallToolResult:
        if isinstance(view, ErrorView) and view.code == "locked":
            view = view.model_copy(update={"message": locked(service, principal.id, view)})
        if isinstance(view, RequestView):
            view = for_assistant(view, self.where_approved(service, view.site))
        elif isinstance(view, RequestListView):
            where = self.where_approved
            view = RequestListView([for_assistant(r, where(service, r.site)) for r in view.root])
        return replies.result(view, output, request_outcome=request_outcome)


def _progress_to(ctx: Context[Any, Any]) -> Progress:
    """MCP progress for the call (a no-op when the client sent no progressToken). A client that has
    gone cannot hear it, and that never stops the request."""

    async def report(progress: float, total: float | None, message: str | None) -> None:
        try:
            await ctx.report_progress(progress, total, message)
        except Exception:
            log.info("mcp_progress_not_sent", progress=progress)

    return report


def build_server(
    source: ServiceSource,
    principal: PrincipalSource,
    *,
    where_approved: WhereApproved = at_the_terminal,
    token_verifier: TokenVerifier | None = None,
    answer_after_s: float | None = None,
) -> MCPServer:
    """The server with its tools. `token_verifier` (HTTP) makes the SDK require a bearer token;
    `where_approved` says where a person approves a waiting request (at the bot's terminal, or in
    Slack when the Slack front end posts approval requests); `answer_after_s` (stdio) follows each
    restart with progress and answers a long one early, while it goes on."""
    auth = None
    if token_verifier is not None:
        # Static bearer tokens, no OAuth server: the issuer is never advertised (no resource URL).
        auth = AuthSettings(issuer_url="https://aspreset.invalid/static-tokens", resource_server_url=None)
    server: MCPServer = AssistantServer(
        "aspreset",
        title="aspreset: narrow ASP.NET restarts on IIS",
        instructions=INSTRUCTIONS,
        version=_version(),
        token_verifier=token_verifier,
        auth=auth,
        log_level="WARNING",
    )
    tools = Tools(source, principal, where_approved, answer_after_s)

    @server.tool(title="List sites", annotations=READ_ONLY, description=doc("""
        The sites aspreset knows: environment, IIS site and app, app pool, hosts."""))
    async def list_sites() -> Annotated[CallToolResult, SiteListView]:
        return await tools.run("list_sites", SiteListView, calls.list_sites())

    @server.tool(title="Site status", annotations=READS_HOSTS, description=doc("""
        Per host: app pool state, worker process IDs, AppDomain id, app_offline.htm. Reads the hosts;
        changes nothing."""))
    async def site_status(site: Site) -> Annotated[CallToolResult, StatusView]:
        return await tools.run("site_status", StatusView, calls.site_status(site))

    @server.tool(title="Plan a restart", annotations=READS_HOSTS, description=doc("""
        Work out the narrowest restart for a change or a reason, and what the team's policy says about
        it (allow, needs a person's approval, or refuse with the narrower alternative). Records and runs
        nothing (a worker plan reads the pool's health on the hosts). Call this first, with the files the
        deploy changed."""))
    async def plan_restart(
        site: Site, changed_files: ChangedFiles = None, reason: Reason = None, note: Note = None, scope: Scope = None
    ) -> Annotated[CallToolResult, PlanView]:
        return await tools.run(
            "plan_restart", PlanView,
            calls.restart(site, changed_files, reason, note, scope, plan_only=True),
        )

    @server.tool(title="Request a restart", annotations=RESTARTS, description=doc("""
        Ask for the restart plan_restart showed. When the policy allows it, it runs now on every host of
        the site and the answer has the per-host result (worker PIDs before and after, AppDomain ids,
        warm-up). When it needs approval, it waits for a person; you cannot approve it, and nothing you or
        the user confirm here counts. A refusal is an error naming the narrower restart that would do."""))
    async def request_restart(
        ctx: Context[Any, Any], site: Site, note: RequiredNote, reason: Reason = None,
        changed_files: ChangedFiles = None, scope: Scope = None,
    ) -> Annotated[CallToolResult, RequestView]:
        arguments = {"site": site, "note": note, "reason": reason, "changed_files": changed_files, "scope": scope}
        return await tools.restart(arguments, ctx)

    @server.tool(title="Get a request", annotations=READ_ONLY, description=doc("""
        One request: its state (awaiting_approval, running, succeeded, ...), who asked and approved, the
        plan, and once it ran, each host's result with worker PIDs before and after."""))
    async def get_request(request_id: RequestId) -> Annotated[CallToolResult, RequestView]:
        return await tools.run(
            "get_request", RequestView, calls.get_request(request_id)
        )

    @server.tool(title="List requests", annotations=READ_ONLY, description=doc("""
        Recent requests (at most 50), newest first, optionally for one site or in one state."""))
    async def list_requests(
        site: OptionalSite = None, state: State = None
    ) -> Annotated[CallToolResult, RequestsResult]:
        return await tools.run(
            "list_requests", RequestsResult, calls.list_requests(site, state)
        )

    @server.tool(title="List incidents", annotations=READ_ONLY, description=doc("""
        What the health watch saw (at most 50, newest first), optionally for one site or only the open
        ones: per host, the kind (hung, failing, pool_stopped, slow, memory, restarted, unreachable), since
        when, the evidence, the narrowest restart it offers, and for a closed one the request that
        recovered it. Ask this first when someone says a site is slow or down."""))
    async def list_incidents(
        site: IncidentSite = None, open_only: OpenOnly = False
    ) -> Annotated[CallToolResult, IncidentsResult]:
        return await tools.run("list_incidents", IncidentsResult, calls.list_incidents(site, open_only))

    @server.tool(title="Cancel a request", annotations=CANCELS, description=doc("""
        Withdraw one of your own requests while it waits for approval (or is approved and not started).
        Nothing runs. A request someone else asked for is not yours to cancel."""))
    async def cancel_request(request_id: RequestId) -> Annotated[CallToolResult, RequestView]:
        return await tools.run(
            "cancel_request", RequestView, calls.cancel_request(request_id)
        )

    add_prompts_and_resources(
        server, lambda request_id: tools.run("get_request", RequestView, calls.get_request(request_id))
    )
    return server


def doc(text: str) -> str:
    """A description as the model reads it: no source indentation, one paragraph."""
    return " ".join(inspect.cleandoc(text).split())


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("aspreset")
    except PackageNotFoundError:
        return "0"
