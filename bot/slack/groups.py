"""Which Slack user groups (S...) a person is in, for policies that name user groups as requesters
or approvers. Slack's requests carry the user's ID but not their groups, so the bot asks
`usergroups.list` (scope `usergroups:read`) and keeps the answer for a few minutes. A policy that
names no user group never calls Slack for this."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import structlog
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from policies.policy import Policy

log = structlog.get_logger("aspreset.slack.groups")


def names_user_groups(policy: Policy) -> bool:
    names = [n for rule in policy.rules for n in (*rule.requesters, *rule.approvers)]
    names += [m for members in policy.groups.values() for m in members]
    names += list(policy.approval.wider_than_needed_approvers)
    return any(n.startswith("S") and n[1:].isalnum() and n.isupper() for n in names)


class UserGroups:
    def __init__(self, client: WebClient, policy: Callable[[], Policy], *, ttl_s: float = 300.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._policy = policy
        self._ttl_s = ttl_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._members: dict[str, frozenset[str]] = {}  # group id -> user ids
        self._fetched_at: float | None = None

    def of(self, user: str) -> frozenset[str]:
        if not names_user_groups(self._policy()):
            return frozenset()
        with self._lock:
            now = self._monotonic()
            if self._fetched_at is None or now - self._fetched_at > self._ttl_s:
                self._refresh(now)
            return frozenset(g for g, users in self._members.items() if user in users)

    def _refresh(self, now: float) -> None:
        try:
            answer = self._client.usergroups_list(include_users=True)
        except SlackApiError as error:  # e.g. missing_scope: the policy's group rules then match nobody
            log.warning("usergroups_unavailable", error=error.response.get("error"),
                        hint="add the usergroups:read scope (docs/slack-setup.md)")
            self._fetched_at = now
            return
        except Exception as error:
            log.warning("usergroups_unreachable", error=type(error).__name__)
            return  # try again on the next click
        groups = answer.get("usergroups") or []
        self._members = {str(g["id"]): frozenset(g.get("users") or ()) for g in groups}
        self._fetched_at = now
