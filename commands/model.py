"""Command types: what a person (or an assistant) asked for, before any policy is applied."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
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
    hosts: tuple[str, ...] = ()  # only these hosts of the site (empty: all of them)
    from_host: str | None = None  # resume a rollout: this host and the ones after it in the site's order
    dry_run: bool = False
    plan_only: bool = False

    @classmethod
    def from_arguments(
        cls,
        site: str,
        *,
        scope: str | None = None,
        reason: str | None = None,
        changed: Sequence[str] | None = None,
        host: str | Sequence[str] | None = None,
        from_host: str | None = None,
        dry_run: bool = False,
        plan_only: bool = False,
        note: str | None = None,
    ) -> RestartRequest:
        """From a front end's named arguments (CLI options, MCP tool arguments): `reason` is one of
        the known reasons (any case), else kept as a note beside `note` (commands/reasons.py checks
        a reason strictly, for front ends that refuse anything else)."""
        known = {r.value: r for r in Reason}
        chosen = known.get(reason.strip().lower()) if reason else None
        notes = [text for text in (reason if reason and chosen is None else None, note) if text]
        return cls(
            site=site,
            scope=Rung(scope) if scope else None,
            reason=chosen,
            note="; ".join(notes) or None,
            changed=tuple(changed or ()),
            hosts=(host,) if isinstance(host, str) else tuple(host or ()),
            from_host=from_host,
            dry_run=dry_run,
            plan_only=plan_only,
        )

    def __post_init__(self) -> None:
        """The limits of commands.limits, whichever front end made this request."""
        check_name("site", self.site)
        for host in self.hosts:
            check_name("host", host)
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
class Cancel:
    """The requester withdraws their own request before it runs."""

    request_id: str

    def __post_init__(self) -> None:
        check_request_id(self.request_id)


@dataclass(frozen=True)
class ShowRequest:
    request_id: str

    def __post_init__(self) -> None:
        check_request_id(self.request_id)


@dataclass(frozen=True)
class ListRequests:
    state: str | None = None  # a request state's value; the core names the valid ones
    site: str | None = None
    limit: int = 100


@dataclass(frozen=True)
class ListIncidents:
    """The health watch's incidents (docs/watch.md), newest first."""

    site: str | None = None
    open_only: bool = False
    limit: int = 50


@dataclass(frozen=True)
class Audit:
    site: str | None = None
    since: datetime | None = None
    request_id: str | None = None


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


Command = (
    RestartRequest | Status | Approve | Deny | Cancel | ListSites | ShowRequest | ListRequests | Audit | Help
    | ServerWideRequest | ListIncidents
)
