"""Who is asking, and whether a name in the policy (alias, group, ID, '*') covers them.

People and channels are matched by immutable IDs only; aliases in `[people]` are just readable
names for those IDs."""

from __future__ import annotations

from dataclasses import dataclass, field

from policies.policy import ID_PATTERN, Policy

WATCH = "watch:aspreset"
"""The health watch, when it runs a rung an environment's `auto` lets it run without a click."""


@dataclass(frozen=True)
class Principal:
    """The one who asks or approves: a Slack user (U...), an MCP client (mcp:NAME) or a CLI user
    (cli:NAME). `groups` are the Slack user groups (S...) they belong to, `channel` where they asked.
    `verified`: a front end checked that this is that person (a signed Slack request; at the CLI, the
    operating-system user the policy maps to them, on a terminal); `--as` alone is not a check."""

    id: str
    groups: frozenset[str] = field(default_factory=frozenset)
    channel: str | None = None
    verified: bool = False

    @property
    def is_assistant(self) -> bool:
        return self.id.startswith("mcp:")


class UnknownPerson(ValueError):
    """A name that is neither a [people] alias nor a person's immutable ID."""


def principal_named(name: str, policy: Policy, channel: str | None = None) -> Principal:
    """A principal from an alias in [people] or an immutable ID (U..., mcp:NAME, cli:NAME)."""
    if name in policy.people:
        return Principal(id=policy.people[name], channel=channel)
    if ID_PATTERN.fullmatch(name) and not name.startswith(("S", "C", "G")):
        return Principal(id=name, channel=channel)
    known = ", ".join(sorted(policy.people)) or "none"
    raise UnknownPerson(
        f"unknown person {name!r}: use a [people] alias from {policy.source} ({known}) or an ID like U01ABCDEF"
    )


def person_of(principal_id: str, policy: Policy) -> str | None:
    """The [people] alias behind an ID: the user itself, or the person an MCP/CLI principal acts for."""
    for alias, user_id in policy.people.items():
        if user_id == principal_id:
            return alias
    return policy.links.get(principal_id)


def same_person(a: str, b: str, policy: Policy) -> bool:
    """True when two principal IDs are one human (a Slack user and their linked assistant)."""
    if a == b:
        return True
    person_a, person_b = person_of(a, policy), person_of(b, policy)
    return person_a is not None and person_a == person_b


def covers(name: str, principal: Principal, policy: Policy, _depth: int = 0) -> bool:
    """Does policy name `name` (from requesters/approvers/groups) include this principal?"""
    if name == "*":
        return True
    if name == principal.id:
        return True
    if name in policy.people:
        user_id = policy.people[name]
        return user_id == principal.id or person_of(principal.id, policy) == name
    if name in policy.groups and _depth < 4:
        return any(covers(member, principal, policy, _depth + 1) for member in policy.groups[name])
    if name.startswith("S"):
        return name in principal.groups
    if name[:1] in ("C", "G"):
        return name == principal.channel
    return False


def resolve_approvers(names: list[str], policy: Policy) -> tuple[list[str], list[str]]:
    """Concrete user IDs and Slack user-group IDs that the names stand for, in order, no repeats."""
    users: list[str] = []
    user_groups: list[str] = []

    def add(name: str, depth: int) -> None:
        if name in policy.people:
            target = users
            value = policy.people[name]
        elif name in policy.groups and depth < 4:
            for member in policy.groups[name]:
                add(member, depth + 1)
            return
        elif name.startswith("S"):
            target, value = user_groups, name
        elif name.startswith(("U", "W")):
            target, value = users, name
        else:
            return  # channels, '*' and assistants never approve
        if value not in target:
            target.append(value)

    for name in names:
        add(name, 0)
    return users, user_groups
