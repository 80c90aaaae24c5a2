"""`POST /hooks/deploy`: a CI pipeline says a deploy finished. The body is signed with HMAC-SHA256
in `X-Aspreset-Signature: sha256=<hex>` over `<timestamp>.<body>`, the timestamp (Unix seconds)
in `X-Aspreset-Timestamp`, accepted within 5 minutes either way; the compare is constant-time.
Every failure is a 4xx JSON error naming which check failed, with nothing posted or run. A signed
request is taken once across every replica sharing the store (`use_once`)."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog

from bot.app.deploy import DeployAssessment, NoticeError, assess, read_notice
from bot.app.errors import ConfigError
from policies.inventory import Inventory
from policies.policy import Policy

if TYPE_CHECKING:
    from bot.store.shared import Shared

log = structlog.get_logger("aspreset.webhook")

SIGNATURE_HEADER = "x-aspreset-signature"
TIMESTAMP_HEADER = "x-aspreset-timestamp"
TOLERANCE_S = 300
MAX_BODY = 256 * 1024
STATUS_FOR = {"unknown_site": 404, "wrong_environment": 422, "no_channel": 422, "malformed_body": 400,
              "bad_input": 400}


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The header value a pipeline sends: sha256=<hex of HMAC-SHA256(secret, "<timestamp>.<body>")>."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]


def _error(status: int, code: str, message: str, **extra: Any) -> Answer:
    return Answer(status, {"ok": False, "error": code, "message": message, **extra})


class DeployWebhook:
    """Checks, in order: signature headers present, timestamp fresh, signature right, not a replay
    of a request already taken (by any replica), body a deploy notice, site known and with a
    channel. Then the notice is posted."""

    def __init__(
        self,
        secret: str | None,
        inventory: Callable[[], Inventory],
        policy: Callable[[], Policy],
        post: Callable[[str, DeployAssessment], str],
        shared: Shared,
        *,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._secret = secret
        self._inventory = inventory
        self._policy = policy
        self._post = post
        self._now = now
        self._shared = shared  # signatures taken in the last 2 * TOLERANCE_S: replays are refused

    def handle(self, headers: Mapping[str, str], body: bytes) -> Answer:
        if not self._secret:
            return _error(503, "webhook_disabled",
                          "the deploy webhook is off: set ASPRESET_WEBHOOK_SECRET (or [slack] webhook_secret)")
        if len(body) > MAX_BODY:
            return _error(413, "body_too_large", f"the body is {len(body)} bytes; at most {MAX_BODY} are read")
        signature, timestamp = headers.get(SIGNATURE_HEADER), headers.get(TIMESTAMP_HEADER)
        if not signature or not timestamp:
            return _error(401, "missing_signature",
                          "send X-Aspreset-Timestamp (Unix seconds) and X-Aspreset-Signature: sha256=<hex>")
        if not timestamp.isdigit():
            return _error(401, "bad_timestamp", "X-Aspreset-Timestamp must be Unix seconds, e.g. 1764686400")
        skew = abs(self._now() - int(timestamp))
        if skew > TOLERANCE_S:
            return _error(401, "stale_timestamp",
                          f"X-Aspreset-Timestamp is {int(skew)} s away from the bot's clock (at most {TOLERANCE_S})")
        if not hmac.compare_digest(sign(self._secret, timestamp, body).encode(), signature.strip().encode()):
            return _error(401, "bad_signature",
                          "X-Aspreset-Signature does not match: HMAC-SHA256 of '<timestamp>.<body>' "
                          "with the shared secret, as sha256=<hex>")
        if not self._claim(signature.strip()):
            return _error(409, "replayed", "this exact signed request was already taken; sign a new one to send again")
        answer = self._notice(body)
        if not answer.body["ok"]:
            self._release(signature.strip())  # a corrected or retried send may use the same signature
        return answer

    def _notice(self, body: bytes) -> Answer:
        try:
            notice = read_notice(body)
            assessment = assess(notice, self._inventory(), self._policy())
        except NoticeError as error:
            return _error(STATUS_FOR.get(error.code, 400), error.code, str(error), field=error.field)
        except ConfigError as error:  # the policy or inventory file no longer reads: fail closed
            return _error(503, "bad_configuration", f"nothing was posted: the bot cannot read its files ({error}); "
                          "a person needs to fix them")
        channel = assessment.plan.channel
        if not channel:
            return _error(422, "no_channel", f"site {notice.site!r} has no channel in the inventory "
                          f"(sites.{notice.site}.channel = \"C...\"), so there is nowhere to post", field="site")
        try:
            ts = self._post(channel, assessment)
        except Exception as error:  # Slack down: the pipeline hears it and can retry
            log.warning("deploy_notice_failed", site=notice.site, error=type(error).__name__)
            return _error(502, "slack_failed", "the notice could not be posted to Slack; retry later")
        log.info("deploy_notice", site=notice.site, version=notice.version, rung=assessment.rung.value)
        return Answer(200, {"ok": True, "site": notice.site, "rung": assessment.rung.value,
                            "restarted_by_itself": assessment.restarted_by_itself, "channel": channel, "ts": ts})

    def _claim(self, signature: str) -> bool:
        """A signed request is taken once: the same bytes again within the window are a replay."""
        now = datetime.fromtimestamp(self._now(), UTC)
        return self._shared.use_once(f"webhook:{signature}", now, keep_s=2 * TOLERANCE_S)

    def _release(self, signature: str) -> None:
        self._shared.forget(f"webhook:{signature}")
