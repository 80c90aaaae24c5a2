"""Counts every HTTP request a slack_sdk WebClient makes, by Web API method, status and Slack's
error code. slack_sdk offers each response (a 200, an HTTP error such as 429, or a failure with no
response) to the client's retry handlers in order before deciding on a retry: placed first, this
handler sees every attempt, counts it and never asks for a retry, so the handlers after it (the
429 one of bot.slack.pacing) decide as before."""

from __future__ import annotations

import json
from typing import Protocol
from urllib.parse import urlsplit

from slack_sdk.http_retry import HttpRequest, HttpResponse, RetryHandler, RetryState

NO_RESPONSE = "none"  # the status label of a request that got no HTTP answer (refused, reset, timed out)


class CountsSlackCalls(Protocol):
    def count_slack_call(self, method: str, status: int | str, error: str = "") -> None: ...


class SlackCallCounter(RetryHandler):
    def __init__(self, metrics: CountsSlackCalls) -> None:
        super().__init__(max_retry_count=0)
        self.metrics = metrics

    def can_retry(self, *, state: RetryState, request: HttpRequest, response: HttpResponse | None = None,
                  error: Exception | None = None) -> bool:
        method = urlsplit(request.url).path.rsplit("/", 1)[-1] or "unknown"
        if response is None:
            self.metrics.count_slack_call(method, NO_RESPONSE)
        else:
            self.metrics.count_slack_call(method, response.status_code, _slack_error(response))
        return False

    def __deepcopy__(self, memo: dict[int, object]) -> SlackCallCounter:
        """Bolt deep-copies the WebClient for each lazy listener: the copy counts into the same metrics."""
        return self


def _slack_error(response: HttpResponse) -> str:
    """Slack's `error` code ("not_in_channel", "ratelimited"), or "" when the call was ok."""
    body = response.body
    if body is None and response.data:
        try:
            body = json.loads(response.data)
        except ValueError:
            return ""
    if isinstance(body, dict) and body.get("ok") is False:
        return str(body.get("error") or "unknown")[:64]
    return ""
