"""The tools' typed inputs. Their descriptions are what an assistant reads when it chooses
arguments, so they say what each rung costs the site's users and steer to the narrowest one."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from commands.limits import MAX_CHANGED_FILES, MAX_NAME, MAX_PATH, MAX_REASON, MAX_REQUEST_ID, NAME_PATTERN
from commands.rungs import rung_costs

RUNG_COSTS = rung_costs()

Site = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_NAME,
        pattern=f"^{NAME_PATTERN.pattern}$",
        description="The site's name in the inventory, e.g. shop-web (list_sites gives them).",
    ),
]

ChangedFiles = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=MAX_PATH)]] | None,
    Field(
        max_length=MAX_CHANGED_FILES,
        description=(
            "Paths the deploy changed, relative to the app root, e.g. ['App_Config/connectionStrings.config'] "
            "or ['bin/Shop.Web.dll']. Give them whenever you know them: aspreset picks the narrowest rung "
            "that makes the change take effect (bin/, web.config, App_Code/: none, ASP.NET restarts by itself; "
            "other .config files, App_Data/, appsettings*.json: appdomain; open database files .mdf/.ldf: "
            "apppool; pages, views, scripts: nothing). The team's policy may add its own paths."
        ),
    ),
]

Reason = Annotated[
    str | None,
    Field(
        max_length=MAX_REASON,
        description=(
            "Why a restart is needed: one of hung (worker, needs a person's approval), locked-file, gac, memory, "
            "native-module (apppool), config (appdomain), or a short note in words for the audit trail."
        ),
    ),
]

RequiredReason = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_REASON,
        description=(
            "Why this restart is needed; recorded in the audit trail and shown to approvers. One of hung "
            "(worker, needs a person's approval), locked-file, gac, memory, native-module (apppool), "
            "config (appdomain), or a short note in words."
        ),
    ),
]

Scope = Annotated[
    Literal["none", "appdomain", "apppool", "worker", "server"] | None,
    Field(
        description=(
            "Leave this out: aspreset works out the narrowest rung from changed_files and reason. Give it only "
            "when a person asked for a specific rung; wider than needed may need approval.\n" + RUNG_COSTS
        ),
    ),
]

RequestId = Annotated[
    str,
    Field(
        max_length=MAX_REQUEST_ID,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="A request id as request_restart or list_requests gave it, e.g. r-7k2m9q.",
    ),
]

State = Annotated[
    Literal[
        "awaiting_approval",
        "approved",
        "running",
        "succeeded",
        "failed",
        "partially_failed",
        "denied",
        "expired",
        "cancelled",
        "refused",
        "interrupted",
    ]
    | None,
    Field(description="Only requests in this state, e.g. awaiting_approval."),
]

OptionalSite = Annotated[
    str | None,
    Field(max_length=MAX_NAME, description="Only requests for this site, e.g. shop-web."),
]
