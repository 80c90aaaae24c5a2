"""The CLI progress bar hears the per-host events: drawn on a terminal, silent on a pipe."""

from __future__ import annotations

import io

from bot.app.events import EventKind, RequestEvent
from bot.cli.progress import ProgressBar


def events(failed: str = "") -> list[RequestEvent]:
    out = [RequestEvent(kind=EventKind.STARTED, request_id="r1", site="shop-web", rung="appdomain")]
    for done, host in enumerate(["web01", "web02", "web03"], start=1):
        detail = {"total": 3, "wave": done, "waves": 3}
        out.append(RequestEvent(kind=EventKind.HOST_STARTED, request_id="r1", site="shop-web", rung="appdomain",
                                host=host, detail=detail))
        outcome = "failed" if host == failed else "succeeded"
        out.append(RequestEvent(kind=EventKind.HOST_FINISHED, request_id="r1", site="shop-web", rung="appdomain",
                                host=host, detail={**detail, "done": done, "outcome": outcome, "error": "app_offline"}))
    out.append(RequestEvent(kind=EventKind.FINISHED, request_id="r1", site="shop-web", rung="appdomain"))
    return out


def test_the_bar_is_off_when_stdout_is_not_a_terminal():
    out = io.StringIO()
    bar = ProgressBar(out)
    assert not bar.enabled
    for event in events(failed="web02"):
        bar.notify(event)
    assert out.getvalue() == ""


def test_on_a_terminal_the_bar_counts_hosts_names_failures_and_goes_away_when_the_request_ends():
    out = io.StringIO()
    bar = ProgressBar(out, enabled=True)
    for event in events(failed="web02"):
        bar.notify(event)
    text = out.getvalue()
    assert "web02 failed" in text and "app_offline" in text
    assert bar._progress is None and bar._tasks == {}
