"""Command types: what a person (or an assistant) asked for, before any policy is applied."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from commands.limits import check_changed, check_name, check_reason, check_request_id
from commands.rungs import Rung


class Reason(StrEnum):
    """Explicit reasons for a restart; each maps to the narrowest rung that handles it."""

    HUNG = "hung"
    LOCKED_FILE = "locked-file"
    GAC = "gac"
    MEMORY = "memory"
    CONFIG = "config"
    NATIVE_MODULE = "native-module"


@dataclass(frozen=True)
class RestartRequest:
    """`recycle SITE ...` (executes) or `plan SITE ...` (only shows the plan)."""

    site: str
    scope: Rung | None = None
    reason: Reason | None = None
    note: str | None = None  # free text given with --reason that is not one of the known reasons
    changed: tuple[str, ...] = ()
    host: str | None = None
    from_host: str | None = None  # resume a rollout: this host and the ones after it in the site's order
    dry_run: bool = False
    plan_only: bool = False

    def __post_init__(self) -> None:
        """The limits of commands.limits, whichever front end made this request."""
        check_name("site", self.site)
        if self.host is not None:
            check_name("host", self.host)
        check_reason(self.note, "--note")
        check_changed(self.changed)


@dataclass(frozen=True)
class Status:
    site: str

    def __post_init__(self) -> None:
        check_name("site", self.site)


@dataclass(frozen=True)
class Approve:
    request_id: str

    def __post_init__(self) -> None:
        check_request_id(self.request_id)


@dataclass(frozen=True)
class Deny:
    request_id: str
    reason: str | None = None

    def __post_init__(self) -> None:
        check_request_id(self.request_id)
        check_reason(self.reason)


@dataclass(frozen=True)
class ListSites:
    pass


@dataclass(frozen=True)
class Help:
    topic: str | None = None


@dataclass(frozen=True)
class ServerWideRequest:
    """Someone asked for IISRESET or another server-wide action. It parses (so the bot can answer
    with the reason and the narrow alternative) but no code path ever executes it."""

    text: str
    what: str  # the recognised action, e.g. "IISRESET", "stopping W3SVC"
    alternative: Rung = Rung.APPDOMAIN


Command = RestartRequest | Status | Approve | Deny | ListSites | Help | ServerWideRequest
