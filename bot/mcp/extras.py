"""What a client shows beside the tools: prompts for the common jobs (a person picks "after a
deploy" or "a site is hung" and the assistant gets the steps), and each request as a resource
(`aspreset://requests/{request_id}`), the same JSON get_request gives, for clients that attach
resources to a conversation."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError
from mcp.types import CallToolResult, TextContent

REQUEST_URI = "aspreset://requests/{request_id}"

NEVER_APPROVE = ("If it needs approval, tell the user that a person must approve it and where the answer says; "
                 "you cannot approve it and must not try. Follow it with get_request.")


def add_prompts_and_resources(server: MCPServer, read_request: Callable[[str], Awaitable[CallToolResult]]) -> None:
    """`read_request` is the get_request tool's body: the same checks, the same answer."""

    @server.resource(REQUEST_URI, name="request", title="A restart request", mime_type="application/json",
                     description="One restart request as get_request gives it: state, plan, approvals, each "
                                 "host's result.")
    async def request(request_id: str) -> str:
        result = await read_request(request_id)
        if result.is_error or result.structured_content is None:
            said = [block.text for block in result.content if isinstance(block, TextContent)]
            raise ResourceError(" ".join(said) or f"no request {request_id}")
        return json.dumps(result.structured_content, indent=2)

    @server.prompt(name="after_a_deploy", title="Restart after a deploy",
                   description="Make a deploy's changes take effect with the narrowest restart.")
    def after_a_deploy(site: str, changed_files: str) -> str:
        return (f"A deploy of {site} changed these files (one per line or comma-separated): {changed_files}\n"
                f"1. Call plan_restart with site {site!r} and changed_files as the list of those paths, relative to "
                "the app's root. Read the rung, the hosts, what else shares the pool, and the policy's decision.\n"
                "2. If nothing needs restarting (rung none), say so: ASP.NET picks the change up by itself.\n"
                "3. Otherwise call request_restart with the same site and changed_files and a one-line note naming "
                f"the deploy. {NEVER_APPROVE}\n"
                "4. Report each host's result: worker PIDs before and after, the AppDomain, the warm-up.")

    @server.prompt(name="site_is_hung", title="A site is hung",
                   description="Find out whether a site is hung and ask for the narrowest restart that helps.")
    def site_is_hung(site: str) -> str:
        return (f"Users say {site} is hung.\n"
                f"1. Call site_status for {site!r}: look at each host's pool state, worker PIDs and AppDomain.\n"
                "2. If a pool is stopped or a host cannot be read, report that; a restart does not fix it.\n"
                "3. Otherwise call plan_restart with reason hung (it kills only the pool's worker and needs a "
                "person's approval); if the plan refuses it, it names the narrower restart to ask for instead.\n"
                f"4. Call request_restart with the same arguments and a one-line note on what users see. "
                f"{NEVER_APPROVE}")
