"""The MCP server: six tools, thin over the core. The same policy decides for an assistant as for a
person; there is no tool that approves or denies, and nothing a client confirms counts as an
approval. Each call runs the (blocking) core in a worker thread, shielded from cancellation, so a
restart that has started finishes and is recorded even if the client hangs up."""

from __future__ import annotations

from typing import Annotated

import anyio
import anyio.to_thread
from mcp.server.auth.provider import TokenVerifier
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, ToolAnnotations

from bot.app.dispatch import dispatch
from bot.app.errors import AspresetError
from bot.app.incidents import reply_for
from bot.app.views import PlanView, RequestView, SiteListView, StatusView
from bot.mcp import calls, replies
from bot.mcp.inputs import (
    RUNG_COSTS,
    ChangedFiles,
    OptionalSite,
    Reason,
    RequestId,
    RequiredReason,
    Scope,
    Site,
    State,
)
from bot.mcp.replies import RequestsResult
from bot.mcp.services import PrincipalSource, ServiceSource
from policies.identity import Principal

INSTRUCTIONS = f"""\
aspreset restarts ASP.NET apps on IIS as narrowly as the job needs, never with IISRESET.
Before asking for a restart, call plan_restart with the files the deploy changed (or the reason):
it shows the narrowest rung, the hosts, which other apps share the pool, and whether the team's
policy allows it, needs a person's approval, or refuses it. Then call request_restart with the
same arguments and a reason. You cannot approve anything: a request that needs approval waits
until a person approves it (in the site's Slack channel or with `aspreset approve`); follow it
with get_request. A refusal names the narrower restart that would do the job.
{RUNG_COSTS}"""

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
# Reading status runs a read-only script on every host over WinRM: it changes nothing.
READS_HOSTS = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True)
# A restart drops in-memory sessions and caches (a worker kill drops requests in flight): destructive,
# and each call records a new request, so not idempotent.
RESTARTS = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=True)

class Tools:
    """Runs one tool's command through the core's dispatcher, failing closed when the core cannot be had."""

    def __init__(self, source: ServiceSource, principal: PrincipalSource, where_approved: calls.WhereApproved) -> None:
        self.source = source
        self.principal = principal
        self.where_approved = where_approved

    async def run(self, tool: str, make: calls.Make, *, request_outcome: bool = False) -> CallToolResult:
        try:
            principal = self.principal()  # read here: the HTTP caller's identity lives in this task's context
        except AspresetError as error:
            return replies.result(reply_for(error))
        # to_thread never abandons its thread, and the shield keeps the reply's bookkeeping from being
        # cancelled too: a restart that started is finished and recorded whatever the client does.
        with anyio.CancelScope(shield=True):
            answer = await anyio.to_thread.run_sync(self._call, tool, make, principal, request_outcome)
        return answer

    def _call(self, tool: str, make: calls.Make, principal: Principal, request_outcome: bool) -> CallToolResult:
        try:
            service = self.source.get()
        except AspresetError as error:
            return replies.unavailable(error)
        except Exception as error:
            return replies.result(reply_for(error, command=tool, principal=principal.id))
        view = dispatch(make, principal, service, principal.id)
        if isinstance(view, RequestView) and view.waiting:
            view = view.model_copy(update={"next_step": self.where_approved(service, view.site, view.id)})
        return replies.result(view, request_outcome=request_outcome)


def build_server(
    source: ServiceSource,
    principal: PrincipalSource,
    *,
    where_approved: calls.WhereApproved = calls.approve_with_cli,
    token_verifier: TokenVerifier | None = None,
) -> MCPServer:
    """The server with its tools. `token_verifier` (HTTP) makes the SDK require a bearer token;
    `where_approved` says where a person approves a waiting request (the CLI, or Slack when the
    Slack front end posts approval requests)."""
    auth = None
    if token_verifier is not None:
        # Static bearer tokens, no OAuth server: the issuer is never advertised (no resource URL).
        auth = AuthSettings(issuer_url="https://aspreset.invalid/static-tokens", resource_server_url=None)
    server: MCPServer = MCPServer(
        "aspreset",
        title="aspreset: narrow ASP.NET restarts on IIS",
        instructions=INSTRUCTIONS,
        version=_version(),
        token_verifier=token_verifier,
        auth=auth,
        log_level="WARNING",
    )
    tools = Tools(source, principal, where_approved)

    @server.tool(title="List sites", annotations=READ_ONLY)
    async def list_sites() -> Annotated[CallToolResult, SiteListView]:
        """The sites aspreset knows: environment, IIS site and app, app pool, hosts."""
        return await tools.run("list_sites", calls.list_sites())

    @server.tool(title="Site status", annotations=READS_HOSTS)
    async def site_status(site: Site) -> Annotated[CallToolResult, StatusView]:
        """Per host: app pool state, worker process IDs, AppDomain id, app_offline.htm. Changes nothing."""
        return await tools.run("site_status", calls.site_status(site))

    @server.tool(title="Plan a restart", annotations=READ_ONLY)
    async def plan_restart(
        site: Site, changed_files: ChangedFiles = None, reason: Reason = None, scope: Scope = None
    ) -> Annotated[CallToolResult, PlanView]:
        """Work out the narrowest restart for a change or a reason, and what the team's policy says about
        it (allow, needs a person's approval, or refuse with the narrower alternative). Records and runs
        nothing. Call this first, with the files the deploy changed."""
        return await tools.run("plan_restart", calls.plan_restart(site, changed_files, reason, scope))

    @server.tool(title="Request a restart", annotations=RESTARTS)
    async def request_restart(
        site: Site, reason: RequiredReason, changed_files: ChangedFiles = None, scope: Scope = None
    ) -> Annotated[CallToolResult, RequestView]:
        """Ask for the restart plan_restart showed. When the policy allows it, it runs now on every host of
        the site and the answer has the per-host result (worker PIDs before and after, AppDomain ids,
        warm-up). When it needs approval, it waits for a person; you cannot approve it, and nothing you or
        the user confirm here counts. A refusal is an error naming the narrower restart that would do."""
        return await tools.run(
            "request_restart",
            calls.request_restart(site, reason, changed_files, scope),
            request_outcome=True,
        )

    @server.tool(title="Get a request", annotations=READ_ONLY)
    async def get_request(request_id: RequestId) -> Annotated[CallToolResult, RequestView]:
        """One request: its state (awaiting_approval, running, succeeded, ...), who asked and approved, the
        plan, and once it ran, each host's result with worker PIDs before and after."""
        return await tools.run("get_request", calls.get_request(request_id))

    @server.tool(title="List requests", annotations=READ_ONLY)
    async def list_requests(
        site: OptionalSite = None, state: State = None
    ) -> Annotated[CallToolResult, RequestsResult]:
        """Recent requests (at most 50), newest first, optionally for one site or in one state."""
        return await tools.run("list_requests", calls.list_requests(site, state))

    return server


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("aspreset")
    except PackageNotFoundError:
        return "0"
