"""Calls to Slack's Web API paced as Slack asks: one token bucket per method for the whole process
(Slack's rate tiers count calls per method per workspace, across channels), at most one
chat.update per second on one message (the Notifier coalesces what happened meanwhile), and every
other call through a WebClient that honours 429 with Retry-After (slack_sdk's own retry handler).

The rates are Slack's documented tiers (docs/slack-api-behaviour.md): Tier 2 is 20+ per minute,
Tier 3 50+, Tier 4 100+; chat.postMessage allows about one message per second per channel."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

PER_MINUTE = {
    "chat.postMessage": 60,
    "chat.update": 50,  # Tier 3
    "chat.postEphemeral": 100,  # Tier 4
    "chat.getPermalink": 100,  # Tier 4
    "views.open": 100,  # Tier 4
    "usergroups.list": 20,  # Tier 2
}
UPDATE_INTERVAL_S = 1.0  # per message
RETRIES_ON_429 = 2


@dataclass
class _Bucket:
    rate_per_s: float
    capacity: float
    tokens: float
    at: float


class MethodBuckets:
    """One token bucket per method; a burst of about ten seconds' worth, then the tier's rate."""

    def __init__(self, per_minute: dict[str, int] | None = None, *,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._refilled = threading.Event()
        now = monotonic()
        self._buckets = {method: _Bucket(rate / 60.0, max(3.0, rate / 6.0), max(3.0, rate / 6.0), now)
                         for method, rate in (per_minute or PER_MINUTE).items()}

    def wait_s(self, method: str) -> float:
        """Seconds until `method` may be called (0: now)."""
        with self._lock:
            bucket = self._fill(method)
            if bucket is None or bucket.tokens >= 1.0:
                return 0.0
            return (1.0 - bucket.tokens) / bucket.rate_per_s

    def acquire(self, method: str, timeout_s: float = 30.0) -> bool:
        """Wait for a token of `method` (at most timeout_s) and take it; False if none came."""
        deadline = self._monotonic() + timeout_s
        while True:
            with self._lock:
                bucket = self._fill(method)
                if bucket is None or bucket.tokens >= 1.0:
                    if bucket is not None:
                        bucket.tokens -= 1.0
                    return True
                wait = (1.0 - bucket.tokens) / bucket.rate_per_s
            left = deadline - self._monotonic()
            if left <= 0:
                return False
            self._refilled.wait(min(wait, left))  # never set: a bounded pause until the next token

    def take(self, method: str) -> None:
        with self._lock:
            bucket = self._fill(method)
            if bucket is not None:
                bucket.tokens -= 1.0

    def _fill(self, method: str) -> _Bucket | None:
        bucket = self._buckets.get(method)
        if bucket is not None:
            now = self._monotonic()
            bucket.tokens = min(bucket.capacity, bucket.tokens + (now - bucket.at) * bucket.rate_per_s)
            bucket.at = now
        return bucket


def retrying_client(client: WebClient) -> WebClient:
    """The same token and base URL, with 429 answered by waiting Retry-After and trying again."""
    on_429 = RateLimitErrorRetryHandler(max_retry_count=RETRIES_ON_429)
    return WebClient(token=client.token, base_url=client.base_url, timeout=client.timeout,
                     retry_handlers=[*client.retry_handlers, on_429])
