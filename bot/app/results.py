"""The contract between the PowerShell operations, the executor and the simulated farm.

Every script receives one `OperationParams` (base64 JSON) and prints exactly one JSON object whose
keys are exactly the fields of the result model for its operation. `bot/sim` produces the same
models, and a test checks the scripts' keys against these models from their parse trees.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Operation = Literal["status", "appdomain", "apppool", "worker", "discover"]

# Stable error codes a script (or the simulator) reports; matched by code, never by message text.
ErrorCode = Literal[
    "site_not_found",
    "app_not_found",
    "pool_not_found",
    "pool_stopped",  # rapid-fail protection (WAS event 5002) or an operator stopped it
    "pool_transition_timeout",  # stuck in Starting/Stopping past the deadline
    "recycle_not_finished",  # old worker(s) still alive after shutdownTimeLimit: hung
    "worker_not_started",  # warm-up did not bring up a new worker
    "appdomain_not_restarted",
    "app_offline",  # app_offline.htm present: no restart will help
    "deploy_in_progress",
    "was_stopped",  # WAS/W3SVC not running: only the server rung would help
    "iis5_isolation",  # aspnet_wp.exe host: killing the worker is the server rung
    "access_denied",
    "bad_parameters",
    "internal",
]


MAX_SCRIPT_TIMEOUT_S = 900
"""The longest a script may wait on a host: the one limit `[winrm] command_timeout_s` is checked against."""


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OperationParams(Model):
    """What a script is told. Travels only as one base64 JSON blob, never pasted into source."""

    op: Operation
    request_id: str = ""
    iis_site: str = ""
    app_path: str = "/"
    pool: str = ""
    method: str = ""  # appdomain: wmi-unload | touch-web-config | bin-marker
    warmup_url: str = ""
    timeout_s: float = Field(default=120.0, gt=0, le=MAX_SCRIPT_TIMEOUT_S)
    poll_ms: int = Field(default=500, ge=50, le=10_000)


class WorkerProcess(Model):
    pid: int
    started_at: str  # ISO 8601, UTC


class StatusResult(Model):
    ok: bool
    error_code: ErrorCode | None = None
    error: str | None = None
    iis_major_version: int = 0
    worker_process_name: str = "w3wp"
    was_running: bool = True
    pool_state: str = ""  # Started | Stopped | Starting | Stopping (not localised)
    start_mode: str = ""  # OnDemand | AlwaysRunning
    managed_runtime: str = ""  # v4.0, v2.0, or "" for No Managed Code (ASP.NET Core)
    max_processes: int = 1
    workers: list[WorkerProcess] = Field(default_factory=list)
    appdomain_id: str | None = None
    app_offline: bool = False


class RestartResult(Model):
    ok: bool
    error_code: ErrorCode | None = None
    error: str | None = None
    op: Operation
    method: str
    state_before: str = ""
    state_after: str = ""
    pids_before: list[int] = Field(default_factory=list)
    pids_after: list[int] = Field(default_factory=list)
    appdomain_before: str | None = None
    appdomain_after: str | None = None
    warmup_status: int | None = None
    warmup_ms: int | None = None
    drained: bool = False  # every worker that ran before is gone
    duration_ms: int = 0


class DiscoveredApp(Model):
    path: str
    pool: str
    physical_path: str


class DiscoveredSite(Model):
    name: str
    state: str
    bindings: list[str] = Field(default_factory=list)
    apps: list[DiscoveredApp] = Field(default_factory=list)


class DiscoveredPool(Model):
    name: str
    state: str
    managed_runtime: str
    start_mode: str
    max_processes: int


class DiscoverResult(Model):
    ok: bool
    error_code: ErrorCode | None = None
    error: str | None = None
    iis_major_version: int = 0
    iis5_isolation: bool = False
    sites: list[DiscoveredSite] = Field(default_factory=list)
    pools: list[DiscoveredPool] = Field(default_factory=list)


OperationResult = StatusResult | RestartResult | DiscoverResult

RESULT_MODELS: dict[str, type[Model]] = {
    "status": StatusResult,
    "appdomain": RestartResult,
    "apppool": RestartResult,
    "worker": RestartResult,
    "discover": DiscoverResult,
}
