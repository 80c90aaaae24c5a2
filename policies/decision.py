"""Plan + who asks + policy + now -> allow, needs approval, or refuse, always with reasons."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from commands.rungs import Rung
from policies.identity import WATCH, Principal, covers, person_of, resolve_approvers, same_person
from policies.planner import Plan
from policies.policy import WEEKDAYS, Effect, Freeze, Policy, Rule


@dataclass(frozen=True)
class Allow:
    rule: str
    reasons: tuple[str, ...]
    outcome: str = "allow"


@dataclass(frozen=True)
class NeedsApproval:
    rule: str
    reasons: tuple[str, ...]
    approvers: tuple[str, ...]  # Slack user IDs and user-group IDs, the requester left out
    approvals: int
    expires_in_s: int
    outcome: str = "needs_approval"


@dataclass(frozen=True)
class Refuse:
    rule: str
    reasons: tuple[str, ...]
    source: str
    alternative: Rung | None = None
    outcome: str = "refuse"


Decision = Allow | NeedsApproval | Refuse


@dataclass(frozen=True)
class PoolHealth:
    """What one host said about the pool a kill would hit: its rapid-fail protection settings, how
    many workers the kill would end, how many kills the store recorded within the interval, and how
    many worker failures (WAS events 5009-5011, kills included) the host's System log holds for it.
    `unreadable` says why the host could not tell (its status, or its System log, could not be read)."""

    host: str
    rapid_fail_protection: bool
    max_crashes: int
    interval_s: float
    workers: int
    recent_kills: int
    crashes: int = 0
    unreadable: str = ""

    @classmethod
    def unknown(cls, host: str, why: str) -> PoolHealth:
        return cls(host, True, 0, 0.0, 0, 0, unreadable=why)

SERVER_WIDE_WHY = (
    "server-wide restarts (IISRESET, stopping W3SVC/WAS, killing every w3wp.exe, machine.config, reboot) "
    "take every site on the server down; aspreset never runs them"
)


def decide(
    plan: Plan,
    principal: Principal,
    policy: Policy,
    now: datetime,
    recent_worker_kills: int = 0,
    pool_health: Sequence[PoolHealth] = (),
    recent_requests: Sequence[datetime] = (),
) -> Decision:
    """`now` must be timezone-aware. `recent_worker_kills` is the number of worker kills of this
    pool in the last hour (the store counts them; the decision stays pure); `pool_health` what the
    hosts said about the pool's rapid-fail protection (read for the worker rung only);
    `recent_requests` when this principal's recorded requests of this site were made, within the
    policy's requests window (for its rate limit)."""
    src = policy.source
    narrow = plan.narrowest if plan.narrowest < plan.rung else None

    if plan.rung == Rung.SERVER:
        return Refuse("server rung", (SERVER_WIDE_WHY,), src, plan.narrowest)
    if plan.iis5_hosts and plan.rung >= Rung.APPPOOL:
        why = (
            f"{', '.join(plan.iis5_hosts)}: IIS 5 isolation mode, where one aspnet_wp.exe serves every site, "
            f"so a {plan.rung.value} restart there is the server rung"
        )
        return Refuse("IIS 5 isolation mode", (why,), src, Rung.APPDOMAIN)

    widest = policy.environment(plan.environment).widest_rung
    if plan.rung > widest:
        why = f"the widest rung allowed in {plan.environment} is {widest.value}"
        return Refuse(f"environments.{plan.environment}.widest_rung", (why,), src, narrow or widest)

    blocked = time_guards(plan, policy, now, recent_worker_kills, pool_health)
    if blocked is not None:
        return blocked
    limited = rate_limit(plan, principal, policy, now, recent_requests)
    if limited is not None:
        return limited

    if principal.id == WATCH:
        return _by_itself(plan, policy)
    rule = _first_rule(plan, plan.rung, principal, policy)
    who = person_of(principal.id, policy) or principal.id
    if rule is None:
        why = f"no rule lets {who} run {plan.rung.value} on {plan.site} ({plan.environment})"
        hint = "a [[rules]] entry naming them (or their group) as requester would"
        if principal.id.startswith("cli:") and who == principal.id:  # the login name, not a person
            hint = ("the CLI acts for a person of the policy: pass --as PERSON (one of "
                    f"{', '.join(sorted(policy.people)) or 'the [people] aliases'}), or set cli_user in aspreset.toml")
        return Refuse("no matching rule", (why, hint), src, _allowed_narrower(plan, principal, policy))
    reasons = [f"rule {rule.name!r}"]
    if plan.wider_than_needed:
        reasons.append(plan.wider_than_needed)

    if rule.effect == "refuse":
        return Refuse(rule.name, tuple(reasons), src, _allowed_narrower(plan, principal, policy))
    effect: Effect = rule.effect
    approvers, approvals, expiry = rule.approvers, rule.approvals, rule.expiry_minutes
    if effect == "allow" and plan.wider_than_needed and policy.approval.wider_than_needed != "allow":
        effect = policy.approval.wider_than_needed
        approvers, approvals, expiry = policy.approval.wider_than_needed_approvers, 1, None
        if effect == "refuse":
            return Refuse("approval.wider_than_needed", tuple(reasons), src, plan.needed)
    if effect == "allow":
        return Allow(rule.name, tuple(reasons))
    return _needs_approval(rule, approvers, approvals, expiry, reasons, plan, principal, policy)


def _by_itself(plan: Plan, policy: Policy) -> Decision:
    """The health watch asks without a person: only a rung its environment's `auto` lists (never a
    worker kill: the policy refuses that at load; prod only with auto_in_production)."""
    where = f"environments.{plan.environment}.auto"
    if plan.rung in policy.environment(plan.environment).auto:
        return Allow(where, (f"{plan.rung.value} in {plan.environment} may run without a click ({where})",))
    return Refuse(where, (f"the watch runs nothing by itself at {plan.rung.value} in {plan.environment}: "
                          "it offers it to a person",), policy.source)


def rate_limit(
    plan: Plan, principal: Principal, policy: Policy, now: datetime, recent_requests: Sequence[datetime]
) -> Refuse | None:
    """At most N requests of one site by one principal within the window (any rung), so that an
    assistant in a loop cannot restart a site over and over. Says when the next one is possible."""
    field, cap = policy.limits.requests_cap(principal.is_assistant)
    if cap is None:
        return None
    window = timedelta(minutes=policy.limits.requests_window_minutes)
    inside = sorted(at for at in recent_requests if at > now - window)
    if len(inside) < cap:
        return None
    frees = inside[len(inside) - cap] + window
    who = person_of(principal.id, policy) or principal.id
    why = (f"{who} asked for {len(inside)} restarts of {plan.site} in the last "
           f"{policy.limits.requests_window_minutes} minutes ({field} = {cap}); the next one can be asked for "
           f"at {frees.astimezone(UTC):%H:%M:%S} UTC")
    return Refuse(field, (why,), policy.source, None)


def time_guards(
    plan: Plan, policy: Policy, now: datetime, recent_worker_kills: int = 0, pool_health: Sequence[PoolHealth] = ()
) -> Refuse | None:
    """What can change while a request waits: a freeze window, the per-pool kill cap, the pool's
    rapid-fail budget. Checked when it is asked for and again when the last approval arrives, just
    before it runs."""
    for index, freeze in enumerate(policy.freezes):
        ends = _freeze_active(freeze, plan, now)
        if ends is not None:
            why = f"change freeze {freeze.name!r} is in force until {ends}"
            return Refuse(f"freezes[{index + 1}] ({freeze.name})", (why,), policy.source, None)
    cap = policy.limits.worker_kills_per_pool_per_hour
    if plan.rung == Rung.WORKER and recent_worker_kills >= cap:
        why = (
            f"pool {plan.pool} had {recent_worker_kills} worker kills in the last hour (cap {cap}); "
            "kills count towards rapid-fail protection, which stops the pool"
        )
        return Refuse("limits.worker_kills_per_pool_per_hour", (why,), policy.source, Rung.APPPOOL)
    if plan.rung == Rung.WORKER:
        return rapid_fail_guard(plan, pool_health, policy.source)
    return None


def rapid_fail_guard(plan: Plan, pool_health: Sequence[PoolHealth], source: str) -> Refuse | None:
    """Every killed worker counts as a crash towards the pool's rapid-fail protection, and so do the
    app's own crashes (docs/iis-behaviour.md): a kill that reaches `maxCrashes` within the interval
    would stop the pool, and the site would answer 503 until someone starts it. A host that could not
    tell holds the kill (fail closed). A graceful recycle counts nothing."""
    offer = "a graceful recycle (--scope apppool) replaces the workers without counting as crashes"
    for health in pool_health:
        if health.unreadable:
            why = (f"{health.host}: {health.unreadable}; without the pool's recent worker failures a kill could trip "
                   f"rapid-fail protection unseen, so pool {plan.pool} is not killed until it can be read")
            return Refuse("rapid-fail protection", (why, offer), source, Rung.APPPOOL)
        if not health.rapid_fail_protection or health.workers == 0:
            continue
        # A killed worker logs WAS event 5009 too: the System log's failures include the recorded kills.
        failures = max(health.recent_kills, health.crashes)
        if failures + health.workers >= health.max_crashes:
            minutes = f"{health.interval_s / 60:g} min"
            why = (
                f"{health.host}: killing {health.workers} worker(s) of pool {plan.pool} after {health.recent_kills} "
                f"kill(s) and {health.crashes} worker failure(s) in the System log (WAS events 5009-5011, kills "
                f"included) in the last {minutes} reaches its rapid-fail protection limit ({health.max_crashes} "
                f"crashes in {minutes}): IIS would stop the pool and the site would answer 503 until someone "
                "starts it"
            )
            return Refuse("rapid-fail protection", (why, offer), source, Rung.APPPOOL)
    return None


def _needs_approval(
    rule: Rule,
    names: list[str],
    approvals: int,
    expiry_minutes: int | None,
    reasons: list[str],
    plan: Plan,
    principal: Principal,
    policy: Policy,
) -> Decision:
    users, user_groups = resolve_approvers(names, policy)
    users = [u for u in users if not same_person(u, principal.id, policy)]
    pool = users + user_groups
    if not pool or (not user_groups and len(users) < approvals):
        listed = ", ".join(names) or "none"
        why = (
            f"{plan.rung.value} needs {approvals} approval(s) from {listed}, and no one but the requester "
            "is in it yet"
        )
        hint = f'add Slack user IDs to the approvers, e.g. [groups] leads = ["U0123ABCD"] in {policy.source}'
        return Refuse(f"{rule.name} (no approvers)", (why, hint), policy.source, _narrower(plan))
    minutes = expiry_minutes or policy.approval.expiry_minutes
    return NeedsApproval(rule.name, tuple(reasons), tuple(pool), approvals, minutes * 60)


def _narrower(plan: Plan) -> Rung | None:
    return plan.narrowest if plan.narrowest < plan.rung else None


def _first_rule(plan: Plan, rung: Rung, principal: Principal, policy: Policy) -> Rule | None:
    for rule in policy.rules:
        if (
            rung in rule.rungs
            and _any_glob(plan.environment, rule.environments)
            and _any_glob(plan.site, rule.sites)
            and any(covers(name, principal, policy) for name in rule.requesters)
        ):
            return rule
    return None


def _allowed_narrower(plan: Plan, principal: Principal, policy: Policy) -> Rung | None:
    """The widest rung below the asked one, not narrower than needed, that a rule would allow."""
    floor = plan.needed if plan.needed is not None else Rung.NONE
    for rung in sorted((r for r in Rung if floor <= r < plan.rung), reverse=True):
        rule = _first_rule(plan, rung, principal, policy)
        if rule is not None and rule.effect != "refuse":
            return rung
    return None


def _any_glob(value: str, globs: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(value, glob) for glob in globs)


def _freeze_active(freeze: Freeze, plan: Plan, now: datetime) -> str | None:
    """When the freeze covers this plan now: the local time it ends, else None."""
    if plan.rung not in freeze.rungs:
        return None
    if not (_any_glob(plan.environment, freeze.environments) and _any_glob(plan.site, freeze.sites)):
        return None
    local = now.astimezone(ZoneInfo(freeze.timezone))
    clock = local.time().replace(tzinfo=None)
    today = WEEKDAYS[local.weekday()]
    yesterday = WEEKDAYS[(local.weekday() - 1) % 7]
    if freeze.start <= freeze.end:
        active = today in freeze.days and freeze.start <= clock < freeze.end
        end_day = local
    else:  # spans midnight, e.g. 22:00-06:00
        late = today in freeze.days and clock >= freeze.start
        early = yesterday in freeze.days and clock < freeze.end
        active = late or early
        end_day = local + timedelta(days=1) if late else local
    if not active:
        return None
    return f"{end_day:%a} {freeze.end:%H:%M} {freeze.timezone}"
