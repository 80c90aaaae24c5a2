"""A deploy finished: what changed, and what follows. Pure: the webhook's verified body in, an
assessment out (ASP.NET restarted the app by itself, or which narrow restart is still needed and
the restart request a button offers to run under the same policy). The HTTP layer verifies the
signature; the Slack layer posts the notice."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.app.errors import ConfigError
from commands.limits import MAX_CHANGED_FILES, MAX_NAME, MAX_PATH
from commands.model import RestartRequest
from commands.rungs import Rung
from policies.inventory import Inventory
from policies.planner import Plan, PlanError, plan
from policies.policy import Policy

MAX_FILES = MAX_CHANGED_FILES  # a pipeline listing more is sending the whole tree (commands.limits)
SHOWN_FILES = 10  # files named in the notice; the rest are counted


class DeployNotice(BaseModel):
    """The body of `POST /hooks/deploy`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    site: str = Field(min_length=1, max_length=MAX_NAME)
    version: str = Field(min_length=1, max_length=100)
    environment: str | None = Field(default=None, max_length=63)
    changed_files: tuple[str, ...] = Field(min_length=1, max_length=MAX_FILES)
    pipeline_url: str | None = Field(default=None, max_length=2000, pattern=r"^https?://\S+$")
    deployed_by: str | None = Field(default=None, max_length=200)

    @field_validator("changed_files")
    @classmethod
    def _paths_are_relative(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for path in value:
            if not path or len(path) > MAX_PATH or "\n" in path:
                raise ValueError(
                    f"each changed file is a path relative to the app, 1-{MAX_PATH} characters; got {path!r}"
                )
        return value


class NoticeError(ConfigError):
    """The body is not a deploy notice, or names what the inventory does not have. `field` says
    which part (body, site, environment, changed_files...)."""

    def __init__(self, code: str, field: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.field = field


def read_notice(body: bytes) -> DeployNotice:
    """Parse and validate the body; a NoticeError names the field and what would be right."""
    try:
        return DeployNotice.model_validate_json(body)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        if first["type"] == "json_invalid":
            raise NoticeError("malformed_body", "body", "the body is not JSON: send one JSON object") from None
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in error.errors())
        raise NoticeError(
            "malformed_body", where,
            f"{problems}. Expected {{site, version, changed_files: [paths], "
            "environment?, pipeline_url?, deployed_by?}",
        ) from None


@dataclass(frozen=True)
class DeployAssessment:
    """What the deploy means for the running app."""

    notice: DeployNotice
    plan: Plan
    restarted_by_itself: bool  # every change is one ASP.NET picks up by restarting the app itself

    @property
    def rung(self) -> Rung:
        return self.plan.rung

    @property
    def follow_up(self) -> RestartRequest:
        """The request a button runs: the same changed files, so the planner and the policy decide
        exactly as for a person typing `/recycle SITE --changed ...`."""
        return follow_up_request(self.notice.site, self.notice.changed_files, self.notice.version)

    @property
    def shown_files(self) -> tuple[str, ...]:
        return self.notice.changed_files[:SHOWN_FILES]

    @property
    def more_files(self) -> int:
        return max(0, len(self.notice.changed_files) - SHOWN_FILES)


def follow_up_request(site: str, changed: tuple[str, ...], version: str | None) -> RestartRequest:
    return RestartRequest(site=site, changed=changed, note=f"after deploy {version}" if version else None)


def assess(notice: DeployNotice, inventory: Inventory, policy: Policy) -> DeployAssessment:
    """The narrowest rung for what changed. Unknown site, or an environment that is not the
    site's, is a NoticeError: nothing is posted or run for a notice about the wrong thing."""
    site = inventory.sites.get(notice.site)
    if site is None:
        known = ", ".join(sorted(inventory.sites)) or "none"
        raise NoticeError("unknown_site", "site", f"unknown site {notice.site!r}; the inventory has: {known}")
    if notice.environment is not None and notice.environment != site.environment:
        raise NoticeError(
            "wrong_environment", "environment",
            f"site {notice.site!r} is in {site.environment!r}, not {notice.environment!r}",
        )
    try:
        the_plan = plan(RestartRequest(site=notice.site, changed=notice.changed_files), inventory, policy)
    except PlanError as error:
        raise NoticeError("bad_input", "body", str(error)) from None
    return DeployAssessment(notice, the_plan, the_plan.rung == Rung.NONE)
