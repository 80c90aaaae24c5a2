"""What the Notifier hears about a request, in the order it happens. Each front end renders these
(the Slack message updated in place, a CLI progress bar, MCP's per-host state, logs)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.app.views import RequestView


class EventKind(StrEnum):
    CREATED = "created"  # recorded; allowed requests start at once
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVAL_COUNTED = "approval_counted"  # more approvals still needed
    APPROVED = "approved"
    DENIED = "denied"
    CANCELLED = "cancelled"
    REFUSED = "refused"
    STARTED = "started"
    HOST_STARTED = "host_started"
    HOST_FINISHED = "host_finished"
    FINISHED = "finished"


class RequestEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: EventKind
    request_id: str
    site: str
    rung: str
    by: str | None = None  # who caused it (requester, approver, denier)
    host: str | None = None  # for the host_* kinds
    state: str | None = None  # the request's state after the event
    detail: dict[str, Any] = Field(default_factory=dict)  # e.g. the host's outcome
    request: RequestView | None = None  # the request as it stands after the event, ready to render


class SilentNotifier:
    """Nobody listening (the CLI without progress, the tests that do not ask)."""

    def notify(self, event: RequestEvent) -> None:
        return None


class RecordingNotifier:
    """Keeps every event, in order: for tests and for front ends that read them back."""

    def __init__(self) -> None:
        self.events: list[RequestEvent] = []

    def notify(self, event: RequestEvent) -> None:
        self.events.append(event)

    def kinds(self, request_id: str | None = None) -> list[str]:
        return [e.kind.value for e in self.events if request_id is None or e.request_id == request_id]
