"""The tools' typed inputs. Their descriptions are what an assistant reads when it chooses
arguments, so they say what each rung costs the site's users and steer to the narrowest one."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from bot.mcp.notes import ONE_LINE_PATTERN
from commands.limits import MAX_CHANGED_FILES, MAX_NAME, MAX_PATH, MAX_REASON, MAX_REQUEST_ID, NAME_PATTERN
from commands.reasons import REASON_MEANINGS
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

ReasonChoice = Literal["hung", "locked-file", "gac", "memory", "native-module", "config"]

Reason = Annotated[
    ReasonChoice | None,
    Field(
        description=(
            "Why a restart is needed, when it is one of these: "
            + "; ".join(f"{reason.value}: {meaning}" for reason, meaning in REASON_MEANINGS.items())
            + ". Leave it out when changed_files says it, and say anything else in note."
        ),
    ),
]

Note = Annotated[
    str | None,
    Field(
        min_length=1,
        max_length=MAX_REASON,
        pattern=ONE_LINE_PATTERN,
        description=(
            "Why, in a short sentence on one line, for the audit trail and the person who may approve it, e.g. "
            "'deploy 2024.06.1 changed the connection string'. It never widens the restart."
        ),
    ),
]

RequiredNote = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_REASON,
        pattern=ONE_LINE_PATTERN,
        description=(
            "Why this restart is needed, in a short sentence on one line; recorded in the audit trail and shown "
            "to the person who may approve it, e.g. 'deploy 2024.06.1 changed the connection string'. It never "
            "widens the restart: give reason or changed_files for that."
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

IncidentSite = Annotated[
    str | None,
    Field(max_length=MAX_NAME, description="Only incidents of this site, e.g. shop-web."),
]
OpenOnly = Annotated[bool, Field(description="Only the incidents still open.")]
OptionalSite = Annotated[
    str | None,
    Field(max_length=MAX_NAME, description="Only requests for this site, e.g. shop-web."),
]
