"""Metrics over a pipe: a process that a front end started (a runner, the Slack work process) writes
what it measures as JSON lines on its stdout, and the front end, the process a scraper reaches,
adds them to its own registry. One line a measure:

    {"winrm_error": {"op": ..., "code": ..., "fault": ...}}   a failed WinRM call
    {"slack_call": {"method": ..., "status": ..., "error": ...}}   a Slack Web API HTTP request
    {"measured": {...a RequestEvent...}}   a request's event that the metrics count (approved, ended)
"""

from __future__ import annotations

from typing import Any, Protocol

from bot.app.events import EventKind, RequestEvent
from bot.app.ports import Metrics
from bot.metrics.registry import ENDED
from bot.metrics.slack import CountsSlackCalls


class WritesLines(Protocol):
    def write(self, line: dict[str, Any]) -> None: ...


class MetricLines:
    """The Metrics port (and the Slack call counter's) in a process apart: each measure as a line.
    Health probes and open incidents are the front end's own (its watch), never measured here."""

    def __init__(self, lines: WritesLines) -> None:
        self.lines = lines

    def record_probe(self, site: str, host: str, outcome: str, seconds: float) -> None:
        return None

    def count_incidents_with(self, reader: Any) -> None:
        return None

    def observe(self, event: RequestEvent) -> None:
        if event.kind == EventKind.APPROVED or event.kind in ENDED:  # what PrometheusMetrics.observe counts
            self.lines.write({"measured": event.model_dump(mode="json")})

    def count_winrm_error(self, op: str, code: str, fault: int | None) -> None:
        self.lines.write({"winrm_error": {"op": op, "code": code, "fault": fault}})

    def count_slack_call(self, method: str, status: int | str, error: str = "") -> None:
        self.lines.write({"slack_call": {"method": method, "status": status, "error": error}})


class FrontMetrics(Metrics, CountsSlackCalls, Protocol):
    """What the front end counts a forwarded line into (bot.metrics.registry.PrometheusMetrics)."""


def apply_line(line: dict[str, Any], metrics: FrontMetrics) -> bool:
    """Count a forwarded measure into `metrics`; False when `line` is not one. A malformed one is
    dropped (ValueError from pydantic is left to the caller, which logs the line)."""
    if isinstance(failed := line.get("winrm_error"), dict):
        fault = failed.get("fault")
        metrics.count_winrm_error(str(failed.get("op")), str(failed.get("code")),
                                  fault if isinstance(fault, int) else None)
        return True
    if isinstance(call := line.get("slack_call"), dict):
        metrics.count_slack_call(str(call.get("method")), str(call.get("status")), str(call.get("error") or ""))
        return True
    if isinstance(event := line.get("measured"), dict):
        metrics.observe(RequestEvent.model_validate(event))
        return True
    return False
