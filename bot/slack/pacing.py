"""Calls to Slack's Web API paced as Slack asks. Slack counts calls per method per app per workspace,
whichever replica of `serve` makes them, so every call goes through one place, `PacedClient.api_call`,
which first waits for `SharedPacing`: the pause a 429's Retry-After set (seen by any replica) and a
token of the method's bucket, both in the store every replica shares (bot/store/shared.py). Within
the process, the Notifier schedules its messages on `MethodBuckets` (at most one chat.update per
second on one message, what happened meanwhile coalesced), and every call but the Notifier's, which
re-queues on its own, waits out a 429 and tries again (slack_sdk's retry handler, which also records
the pause for every replica).

The rates are Slack's documented tiers (docs/slack-api-behaviour.md): Tier 2 is 20+ per minute,
Tier 3 50+, Tier 4 100+; chat.postMessage allows about one message per second per channel."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import structlog
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web import SlackResponse

from bot.store.shared import Bucket

if TYPE_CHECKING:
    from bot.store.shared import Shared

log = structlog.get_logger("aspreset.slack.pacing")

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
MAX_WAIT_S = 30.0  # past that a call goes anyway: Slack answers 429 if it must, and that is handled


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


def bucket_of(method: str) -> Bucket | None:
    """The method's tier as a bucket: its rate, a burst of about ten seconds' worth (as MethodBuckets)."""
    rate = PER_MINUTE.get(method)
    return Bucket(rate, max(3.0, rate / 6.0)) if rate is not None else None


class SharedPacing:
    """What every replica's calls wait for, kept in the store: a method paused by a 429 (Retry-After)
    and each method's token bucket. Before the store is there (`share_through`), and if it cannot be
    reached, calls go unpaced here (the 429s Slack may then answer are handled where the call is)."""

    def __init__(self, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 monotonic: Callable[[], float] = time.monotonic, max_wait_s: float = MAX_WAIT_S) -> None:
        self._shared: Shared | None = None
        self._clock = clock
        self._monotonic = monotonic
        self._max_wait_s = max_wait_s
        self._never = threading.Event()  # never set: waits are bounded pauses

    def share_through(self, shared: Shared) -> None:
        self._shared = shared

    def before(self, method: str) -> float:
        """Wait until `method` may be called (at most max_wait_s); the seconds waited."""
        start = self._monotonic()
        while self._shared is not None:
            try:
                wait = self._shared.take_token(method, self._clock(), bucket_of(method))
            except Exception as error:  # the store is away: call unpaced rather than not at all
                log.warning("slack_pacing_unavailable", method=method, error=type(error).__name__)
                break
            left = start + self._max_wait_s - self._monotonic()
            if wait <= 0.0 or left <= 0.0:
                break
            self._never.wait(min(wait, left))
        return self._monotonic() - start

    def rate_limited(self, method: str, retry_after_s: float) -> None:
        """Slack answered 429: nobody (on any replica) calls `method` for retry_after_s."""
        log.info("slack_method_paused", method=method, retry_after_s=retry_after_s)
        if self._shared is None:
            return
        now = self._clock()
        try:
            self._shared.pause(method, now + timedelta(seconds=retry_after_s), now)
        except Exception as error:
            log.warning("slack_pause_not_shared", method=method, error=type(error).__name__)

    def __deepcopy__(self, memo: dict[int, object]) -> SharedPacing:
        """Bolt deep-copies the WebClient for each lazy listener: the copy paces through this one."""
        return self


def retry_after_s(headers: dict[str, Any]) -> float:
    """A 429's Retry-After in seconds (a header's value may come as a list of one); 1 when absent."""
    for name, value in headers.items():
        if name.lower() == "retry-after":
            first = value[0] if isinstance(value, list | tuple) and value else value
            try:
                return max(0.0, float(first))
            except (TypeError, ValueError):
                return 1.0
    return 1.0


class PacedClient(WebClient):
    """A WebClient whose every call waits for `pacing` first and reports a 429 to it."""

    def __init__(self, *, pacing: SharedPacing, **options: Any) -> None:
        super().__init__(**options)
        self.pacing = pacing

    def api_call(self, api_method: str, **kwargs: Any) -> SlackResponse:
        self.pacing.before(api_method)
        try:
            return super().api_call(api_method, **kwargs)
        except SlackApiError as error:
            if error.response.status_code == 429:
                self.pacing.rate_limited(api_method, retry_after_s(dict(error.response.headers)))
            raise


class PausingRateLimitHandler(RateLimitErrorRetryHandler):
    """slack_sdk's 429 retry (wait Retry-After, try again), telling every replica to pause first."""

    def __init__(self, pacing: SharedPacing, max_retry_count: int = RETRIES_ON_429) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.pacing = pacing

    def prepare_for_next_attempt(self, *, state: RetryState, request: HttpRequest,
                                 response: HttpResponse | None = None, error: Exception | None = None) -> None:
        if response is not None:
            method = urlsplit(request.url).path.rsplit("/", 1)[-1]
            self.pacing.rate_limited(method, retry_after_s(dict(response.headers)))
        super().prepare_for_next_attempt(state=state, request=request, response=response, error=error)

    def __deepcopy__(self, memo: dict[int, object]) -> PausingRateLimitHandler:
        return self


def paced_client(client: WebClient, pacing: SharedPacing) -> PacedClient:
    """The same token, base URL and handlers, every call paced through `pacing` (the Notifier's)."""
    return PacedClient(pacing=pacing, token=client.token, base_url=client.base_url, timeout=client.timeout,
                       retry_handlers=list(client.retry_handlers))


def retrying_client(client: WebClient) -> WebClient:
    """The same token, base URL and pacing, with 429 answered by waiting Retry-After and trying again."""
    if isinstance(client, PacedClient):
        return PacedClient(pacing=client.pacing, token=client.token, base_url=client.base_url,
                           timeout=client.timeout,
                           retry_handlers=[*client.retry_handlers, PausingRateLimitHandler(client.pacing)])
    on_429 = RateLimitErrorRetryHandler(max_retry_count=RETRIES_ON_429)
    return WebClient(token=client.token, base_url=client.base_url, timeout=client.timeout,
                     retry_handlers=[*client.retry_handlers, on_429])
