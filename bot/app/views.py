"""The core's replies: pydantic models that carry everything any front end shows, so that a renderer
(CLI text, `--json`, Block Kit, MCP structured content) is a pure function of one view and never
calls back into the service. `--json` prints a view's own dump: its keys are a contract
(docs/json.md), added to but never renamed or removed without a note in CHANGELOG.md.

Every reply has a `kind`; `View` is their union. Lists (requests, audit) are root models whose dump
is a JSON list, as it always was on the CLI.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, computed_field


class Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class PersonView(Model):
    """An immutable principal id (U01ALICE, S0LEADS, mcp:claude, cli:alice) and how to show it."""

    id: str
    name: str | None = None  # the [people] alias, when there is one
    display: str  # "alice (U01ALICE)", or the id itself


class DecisionView(Model):
    outcome: Literal["allow", "needs_approval", "refuse"]
    rule: str | None = None
    reasons: list[str] = Field(default_factory=list)
    approvers: list[str] = Field(default_factory=list)  # ids of who may approve (never the requester)
    approver_people: list[PersonView] = Field(default_factory=list)  # the same, ready to show
    approvals: int = 0  # how many approvals are needed
    expires_in_s: int | None = None
    alternative: str | None = None  # the narrower rung that does the job, when refused
    source: str | None = None  # where the refusal comes from: a rule, "built-in", a freeze


class PlanView(Model):
    kind: Literal["plan"] = "plan"
    site: str
    environment: str
    rung: str
    needed: str | None = None  # what the change needs; None when the scope was taken as asked
    method: str
    hosts: list[str]
    waves: list[list[str]] = Field(default_factory=list)  # hosts restarted together, one wave after another
    keep_going: bool = False  # a failed host does not stop the later waves
    pool: str
    blast_radius: list[str]  # every app that the restart hits (the pool's apps for apppool/worker)
    wider_than_needed: str | None = None
    why: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    seen_on_hosts: list[str] = Field(default_factory=list)  # read on the hosts before acting (a kill's requests...)
    channel: str | None = None
    decision: DecisionView


class HostResultView(Model):
    """What happened on one host, as verified (bot.app.verification). New evidence fields that the
    verification adds flow through unchanged (extra keys are kept)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    host: str
    rung: str
    method: str
    outcome: str  # succeeded | failed | skipped | unknown (restarting when its run was cut off)
    pids_before: list[int] = Field(default_factory=list)
    pids_after: list[int] = Field(default_factory=list)
    appdomain_before: str | None = None
    appdomain_after: str | None = None
    warmup_status: int | None = None
    warmup_ms: int | None = None
    duration_ms: int = 0
    error: str | None = None
    error_code: str | None = None


class ApprovalView(Model):
    approver: str
    display: str
    at: datetime


class RequestView(Model):
    """A recorded request and where it stands: built from the store's record alone, so every replica
    and every front end shows the same thing."""

    kind: Literal["request"] = "request"
    id: str
    state: str
    site: str
    rung: str
    targets: list[str]  # the hosts it restarts
    pool: str
    requester: str  # immutable id
    requester_person: str | None = None  # the [people] alias behind it
    requester_display: str
    origin: str
    reason: str | None = None
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None = None  # approval deadline
    approvals_needed: int = 0
    approvers: list[str] = Field(default_factory=list)
    approvals: list[ApprovalView] = Field(default_factory=list)
    deny_reason: str | None = None
    plan: PlanView | None = None
    decision: DecisionView | None = None
    hosts: list[HostResultView] = Field(default_factory=list)  # per-host results once it ran
    untouched: list[str] = Field(default_factory=list)  # hosts a stopped rollout never started
    in_flight: list[str] = Field(default_factory=list)  # interrupted: restarting when it was cut off (state unknown)
    resume: str | None = None  # the command (after `aspreset ` or `/recycle `) that restarts the untouched hosts
    # the command that repeats every failed host (and only those); for an interrupted run, every host
    # not known to have succeeded (the unknown, failed and never started ones)
    retry: str | None = None
    error: str | None = None  # why a run failed before reaching any host
    message: str = ""  # what this reply adds ("approval counted (1 of 2)", "already handled")
    ran_now: bool = False  # this very call ran the restart (exactly one caller per request does)
    next_step: str | None = None  # what a person can do now

    @computed_field  # type: ignore[prop-decorator]
    @property
    def request_id(self) -> str:  # kept for scripts written against the first --json output
        return self.id

    @property
    def waiting(self) -> bool:
        return self.state == "awaiting_approval"


class HostStatusView(Model):
    """One host's read-only state; new fields of the status operation flow through (extra keys kept)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    host: str
    ok: bool
    error: str | None = None
    error_code: str | None = None
    pool_state: str = ""
    start_mode: str = ""
    worker_process_name: str = "w3wp"
    workers: list[dict[str, Any]] = Field(default_factory=list)  # [{pid, started_at}]
    appdomain_id: str | None = None
    iis_major_version: int = 0
    app_offline: bool = False


class StatusView(Model):
    kind: Literal["status"] = "status"
    site: str
    hosts: list[HostStatusView]

    @property
    def all_ok(self) -> bool:
        return all(h.ok for h in self.hosts)


class SiteView(Model):
    name: str
    environment: str
    iis_site: str
    app: str
    pool: str
    hosts: list[str]
    channel: str | None = None


class SiteListView(Model):
    kind: Literal["sites"] = "sites"
    sites: list[SiteView]


class RefusalView(Model):
    """A server-wide ask (IISRESET, stopping W3SVC, machine.config, ...): refused, never run."""

    kind: Literal["refusal"] = "refusal"
    what: str
    decision: DecisionView
    suggestion: str  # the narrow restarts that do the job instead

    @property
    def rung(self) -> str:
        return "server"


class HelpView(Model):
    kind: Literal["help"] = "help"
    topic: str | None = None
    text: str


class LockHolderView(Model):
    """Who holds the lock a `locked` error is about, as fields a front end can act on."""

    request_id: str
    requester: str  # the holder's principal id (U..., mcp:NAME, cli:NAME)
    host: str
    pool: str
    since: datetime
    until: datetime | None = None  # its approval deadline while it waits for one; None while it runs


class ErrorView(Model):
    kind: Literal["error"] = "error"
    code: str  # stable: bad_input, refused, locked, not_found, not_allowed, winrm_timeout, internal, ...
    message: str
    incident: str | None = None  # set for unexpected errors: the id to find in the logs
    holder: LockHolderView | None = None  # set for `locked`: the request that holds the lock


class AuditEventView(Model):
    id: int
    request_id: str
    at: datetime
    actor: str
    actor_display: str
    action: str
    state_from: str | None
    state_to: str
    site: str
    rung: str
    hosts: list[str]
    details: dict[str, Any] = Field(default_factory=dict)


class IncidentView(Model):
    """One incident of the health watch (docs/watch.md)."""

    id: str
    site: str
    host: str
    kind: str  # hung | failing | pool_stopped | slow | memory | restarted | unreachable
    state: Literal["open", "closed"]
    opened_at: datetime  # the first bad probe of the streak
    updated_at: datetime  # the latest bad probe
    closed_at: datetime | None = None
    probes: int  # bad probes in a row
    evidence: str  # what the latest bad probe showed
    first_evidence: str
    offer: str | None = None  # the rung offered; None: no restart helps or is allowed
    recovered_by: str | None = None  # the request of ours that ran on the host before it recovered


class IncidentListView(RootModel[list[IncidentView]]):
    @property
    def kind(self) -> Literal["incidents"]:
        return "incidents"


class RequestListView(RootModel[list[RequestView]]):
    @property
    def kind(self) -> Literal["requests"]:  # not a field: the dump stays a JSON list
        return "requests"


class AuditView(RootModel[list[AuditEventView]]):
    @property
    def kind(self) -> Literal["audit"]:
        return "audit"


View = (
    PlanView | RequestView | StatusView | SiteListView | RefusalView | HelpView | ErrorView
    | RequestListView | AuditView | IncidentListView
)
