"""The policy file: who may run which rung where, who approves, when nothing runs.

Validated by pydantic at load: an invalid file is refused with its field path and the reason, and
a running bot keeps its last good policy. See docs/policy.md for the reference.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from commands.rungs import EXECUTABLE_RUNGS, Rung
from policies.inventory import AppDomainMethod
from policies.rollout import PROD_ENVIRONMENTS, check_max_parallel

Effect = Literal["allow", "needs_approval", "refuse"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# Immutable Slack IDs (users U/W, user groups S, channels C/G) and MCP/CLI principals.
ID_PATTERN = re.compile(r"^(?:[UW][A-Z0-9]{2,}|S[A-Z0-9]{2,}|[CG][A-Z0-9]{2,}|mcp:[\w.-]+|cli:[\w.-]+)$")
_ALIAS = re.compile(r"^[a-z][a-z0-9_.-]{0,40}$")
_OS_USER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.$-]{0,63}$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rule(Strict):
    name: str = Field(min_length=1)
    effect: Effect
    rungs: list[Rung] = Field(default_factory=lambda: list(EXECUTABLE_RUNGS), min_length=1)
    environments: list[str] = Field(default_factory=lambda: ["*"], min_length=1)
    sites: list[str] = Field(default_factory=lambda: ["*"], min_length=1)
    requesters: list[str] = Field(default_factory=lambda: ["*"], min_length=1)
    approvers: list[str] = Field(default_factory=list)
    approvals: int = Field(default=1, ge=1, le=5)
    expiry_minutes: int | None = Field(default=None, ge=1, le=24 * 60)

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        if Rung.SERVER in self.rungs and self.effect != "refuse":
            raise ValueError("the server rung (IISRESET and the like) can never be allowed; remove 'server'")
        if Rung.WORKER in self.rungs and self.effect == "allow":
            raise ValueError(
                "killing a worker process always needs a second person: use effect = \"needs_approval\" "
                "with approvers, or list rungs without 'worker' (rungs default to all of them)"
            )
        if self.effect == "needs_approval" and not self.approvers:
            raise ValueError('effect "needs_approval" needs approvers, e.g. approvers = ["leads"]')
        return self


class Freeze(Strict):
    """A change freeze: nothing at these rungs runs in these environments at these times."""

    name: str = Field(min_length=1)
    environments: list[str] = Field(default_factory=lambda: ["*"], min_length=1)
    sites: list[str] = Field(default_factory=lambda: ["*"], min_length=1)
    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS), min_length=1)
    start: time
    end: time
    timezone: str
    rungs: list[Rung] = Field(default_factory=lambda: [Rung.APPDOMAIN, Rung.APPPOOL, Rung.WORKER])

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r}; use an IANA name like 'Europe/Berlin'") from None
        return value


class Environment(Strict):
    widest_rung: Rung = Rung.WORKER
    max_parallel: int | str | None = Field(
        default=None, description='hosts restarted at once: a count (2) or a percentage ("25%"); '
        "unset: 1 in prod/production, all hosts elsewhere",
    )
    keep_going: bool = Field(default=False, description="a failed host does not stop the later waves")
    auto: list[Rung] = Field(
        default_factory=list, description="rungs the health watch may run for an incident without a click"
    )
    auto_in_production: bool = Field(
        default=False, description="prod/production: `auto` holds only with this set too, on purpose"
    )

    @field_validator("auto")
    @classmethod
    def _people_kill_workers(cls, value: list[Rung]) -> list[Rung]:
        if Rung.WORKER in value or Rung.SERVER in value:
            raise ValueError(
                "a worker kill always waits for a person (and the server rung never runs): the watch may only "
                "run appdomain or apppool by itself; remove 'worker' from auto"
            )
        return value

    @field_validator("max_parallel")
    @classmethod
    def _count_or_percent(cls, value: int | str | None) -> int | str | None:
        return None if value is None else check_max_parallel(value)

    @field_validator("widest_rung")
    @classmethod
    def _never_server(cls, value: Rung) -> Rung:
        if value == Rung.SERVER:
            raise ValueError("the server rung is never run; the widest an environment can allow is 'worker'")
        return value


class Limits(Strict):
    worker_kills_per_pool_per_hour: int = Field(default=3, ge=0, le=100)
    # Restart requests one principal may make of one site (any rung) within requests_window_minutes;
    # refused beyond that, saying when the next one is possible. None: no limit.
    requests_per_site: int | None = Field(default=None, ge=1, le=1000)
    assistant_requests_per_site: int | None = Field(default=3, ge=1, le=1000)
    requests_window_minutes: int = Field(default=10, ge=1, le=24 * 60)

    def requests_cap(self, assistant: bool) -> tuple[str, int | None]:
        """The field that limits this kind of principal, and its cap."""
        if assistant:
            return "limits.assistant_requests_per_site", self.assistant_requests_per_site
        return "limits.requests_per_site", self.requests_per_site


class Approval(Strict):
    expiry_minutes: int = Field(default=15, ge=1, le=24 * 60)
    wider_than_needed: Effect = "needs_approval"
    wider_than_needed_approvers: list[str] = Field(default_factory=list)


class Policy(Strict):
    people: dict[str, str] = Field(default_factory=dict, description="readable alias -> Slack user ID")
    os_users: dict[str, list[str]] = Field(
        default_factory=dict,
        description="alias -> the operating-system users who are that person at the bot's terminal; written "
        'as [people.ALIAS] id = "U..." os_users = ["NAME"]',
    )
    groups: dict[str, list[str]] = Field(default_factory=dict)
    links: dict[str, str] = Field(
        default_factory=dict, description="MCP/CLI principal -> the person (alias) it acts for"
    )
    triggers: dict[str, Rung] = Field(default_factory=dict, description="glob -> rung, before the built-ins")
    environments: dict[str, Environment] = Field(default_factory=dict)
    limits: Limits = Field(default_factory=Limits)
    approval: Approval = Field(default_factory=Approval)
    appdomain_method: AppDomainMethod = "wmi-unload"
    # wmi-unload on a host without the WMI provider (Web-Scripting-Tools not installed): unload through
    # Microsoft.Web.Administration, touch web.config instead, or refuse with wmi_provider_missing.
    appdomain_fallback: Literal["mwa-unload", "touch-web-config", "refuse"] = "mwa-unload"
    # Sites the team names as safe to restart: `aspreset doctor HOST --exercise SITE` runs every rung on them.
    canary_sites: list[str] = Field(default_factory=list)
    # Canary sites whose `doctor --exercise` runs need no approval (the team's named consent); any other
    # exercise needs the approvals its rung would. The one way a worker kill runs without a second person.
    exercise_waives_approval: list[str] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)
    freezes: list[Freeze] = Field(default_factory=list)

    _source: str = PrivateAttr(default="<built-in default policy>")

    @property
    def source(self) -> str:
        return self._source

    def with_source(self, source: str) -> Policy:
        copy = self.model_copy()
        copy._source = source
        return copy

    @model_validator(mode="before")
    @classmethod
    def _people_tables(cls, data: object) -> object:
        """`[people.bob] id = "U02BOB"` with `os_users = ["bob"]` is bob's ID and his OS users."""
        if not isinstance(data, dict) or not isinstance(data.get("people"), dict):
            return data
        people: dict[str, object] = {}
        os_users: dict[str, object] = dict(data.get("os_users") or {})
        for alias, entry in data["people"].items():
            if isinstance(entry, dict):
                unknown = set(entry) - {"id", "os_users"}
                if unknown or "id" not in entry:
                    raise ValueError(f"people.{alias}: a table takes id = \"U...\" and os_users = [...]"
                                     + (f", not {', '.join(sorted(unknown))}" if unknown else ""))
                people[alias] = entry["id"]
                if "os_users" in entry:
                    os_users[alias] = entry["os_users"]
            else:
                people[alias] = entry
        return {**data, "people": people, "os_users": os_users}

    @field_validator("os_users")
    @classmethod
    def _os_user_names(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        owner: dict[str, str] = {}
        for alias, names in value.items():
            for name in names:
                if not _OS_USER.fullmatch(name):
                    raise ValueError(f"people.{alias}.os_users: {name!r} is not an operating-system user name")
                if name in owner and owner[name] != alias:
                    raise ValueError(f"people.{alias}.os_users: {name!r} is already {owner[name]}'s; one OS user "
                                     "is one person")
                owner[name] = alias
        return value

    @field_validator("people")
    @classmethod
    def _people_are_user_ids(cls, value: dict[str, str]) -> dict[str, str]:
        for alias, user_id in value.items():
            if not _ALIAS.fullmatch(alias):
                raise ValueError(f"alias {alias!r} must be lower-case letters, digits, '.', '_' or '-'")
            if not re.fullmatch(r"[UW][A-Z0-9]{2,}", user_id):
                raise ValueError(f"{alias} = {user_id!r} must be a Slack user ID like U01ABCDEF (not a name)")
        return value

    @field_validator("triggers")
    @classmethod
    def _trigger_rungs_are_executable(cls, value: dict[str, Rung]) -> dict[str, Rung]:
        for glob, rung in value.items():
            if rung == Rung.SERVER:
                raise ValueError(f"trigger {glob!r}: no change needs the server rung; use apppool or worker")
        return value

    @model_validator(mode="after")
    def _names_resolve(self) -> Policy:
        for name, members in self.groups.items():
            for member in members:
                if not self.is_known_name(member) or member == "*":
                    raise ValueError(
                        f"groups.{name}: member {member!r} is neither a [people] alias nor a Slack ID "
                        "(U... user, S... user group)"
                    )
        for alias in self.os_users:
            if alias not in self.people:
                raise ValueError(f"os_users: {alias!r} is not an alias in [people]")
        for principal, person in self.links.items():
            if not re.fullmatch(r"(mcp|cli):[\w.-]+", principal):
                raise ValueError(f"links: {principal!r} must be an MCP or CLI principal like 'mcp:claude'")
            if person not in self.people:
                raise ValueError(f"links.{principal}: {person!r} is not an alias in [people]")
        for index, rule in enumerate(self.rules):
            for field in ("requesters", "approvers"):
                for name in getattr(rule, field):
                    if not self.is_known_name(name):
                        raise ValueError(
                            f"rules[{index + 1}].{field}: {name!r} is not '*', a [people] alias, "
                            f"a [groups] name, or an ID (U..., S..., C..., mcp:NAME) (rule {rule.name!r})"
                        )
        for site in self.exercise_waives_approval:
            if site not in self.canary_sites:
                raise ValueError(f"exercise_waives_approval: {site!r} is not in canary_sites "
                                 f"({', '.join(self.canary_sites) or 'none'}); only a canary site's exercise may run "
                                 "without approval")
        for name in self.approval.wider_than_needed_approvers:
            if not self.is_known_name(name):
                raise ValueError(f"approval.wider_than_needed_approvers: {name!r} is not a known name or ID")
        return self

    @model_validator(mode="after")
    def _auto_on_purpose(self) -> Policy:
        for name, env in self.environments.items():
            wider = [rung.value for rung in env.auto if rung > env.widest_rung]
            if wider:
                raise ValueError(f"environments.{name}.auto: {', '.join(wider)} is wider than its widest_rung "
                                 f"({env.widest_rung.value})")
            if env.auto and name in PROD_ENVIRONMENTS and not env.auto_in_production:
                raise ValueError(
                    f"environments.{name}.auto: {name} never restarts anything by itself unless the policy says "
                    "so on purpose: add auto_in_production = true beside it, or remove auto"
                )
        return self

    def os_user_person(self, os_user: str) -> str | None:
        """The [people] alias an operating-system user is, if the policy says so."""
        return next((alias for alias, names in self.os_users.items() if os_user in names), None)

    def is_known_name(self, name: str) -> bool:
        return name == "*" or name in self.people or name in self.groups or bool(ID_PATTERN.fullmatch(name))

    def environment(self, name: str) -> Environment:
        return self.environments.get(name, Environment())
