"""What doctor and exercise report: pydantic models whose dump is `--json`'s output (docs/json.md)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class CheckView(_Model):
    host: str
    name: str
    ok: bool
    detail: str
    fix: str | None = None


class DoctorView(_Model):
    ok: bool
    checks: list[CheckView] = Field(default_factory=list)


class RungRunView(_Model):
    rung: str
    method: str
    outcome: str  # succeeded | failed | skipped | refused | awaiting_approval
    detail: str
    evidence: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    pids_before: list[int] = Field(default_factory=list)
    pids_after: list[int] = Field(default_factory=list)
    warmup: str = ""
    error_code: str | None = None
    request_id: str | None = None  # the request it ran as (in the audit trail)


class ExerciseView(_Model):
    ok: bool
    waiting: bool = False  # a rung waits for approval; the rungs after it were not run
    host: str
    site: str
    rungs: list[RungRunView] = Field(default_factory=list)
