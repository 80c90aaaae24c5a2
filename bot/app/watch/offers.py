"""The narrowest restart that would help with an incident, as the planner works it out for the reason
the kind stands for (hung: the worker kill; memory: the pool recycle; failing: the planner's default,
the AppDomain), within the environment's widest rung. Whether the person who clicks may run it, and
who must approve, is decided when they click, by the usual policy. Some kinds get no offer: a stopped
pool needs a person to find why it stopped; a slow app or a worker that restarted by itself is not
helped by restarting it."""

from __future__ import annotations

from dataclasses import dataclass

from bot.app.watch.classify import Kind
from commands.model import Reason, RestartRequest
from commands.rungs import Rung
from policies.inventory import Inventory
from policies.planner import PlanError, plan
from policies.policy import Policy

REASON_OF = {Kind.HUNG: Reason.HUNG, Kind.MEMORY: Reason.MEMORY, Kind.FAILING: None}
NO_OFFER = {
    Kind.POOL_STOPPED: "no restart is offered: the pool is stopped, and it starts only when a person starts it "
                       "(Start-WebAppPool, or IIS Manager) after finding why it stopped",
    Kind.SLOW: "no restart is offered: a slow answer is seldom cured by one; look at what the app waits on",
    Kind.RESTARTED: "no restart is offered: the worker already restarted; the Application log says why",
    Kind.UNREACHABLE: "no restart is offered: the bot cannot reach the host, so a restart could not run either",
}


@dataclass(frozen=True)
class Offer:
    rung: Rung | None  # None: nothing offered (`why` says why)
    request: RestartRequest | None
    why: str


def offer_for(kind: Kind, site: str, host: str, inventory: Inventory, policy: Policy) -> Offer:
    if kind not in REASON_OF:
        return Offer(None, None, NO_OFFER[kind])
    request = RestartRequest(site=site, reason=REASON_OF[kind], hosts=(host,))
    try:
        planned = plan(request, inventory, policy)
    except PlanError as error:
        return Offer(None, None, f"no restart is offered: {error}")
    widest = policy.environment(planned.environment).widest_rung
    if planned.rung > widest:
        return Offer(None, None, f"no restart is offered: {planned.rung.value} would help, but the widest rung "
                                 f"allowed in {planned.environment} is {widest.value}; ask a person")
    why = planned.why[0] if planned.why else f"{planned.rung.value} is the narrowest restart"
    if planned.rung == Rung.WORKER:
        why += "; a worker kill always waits for a second person's approval"
    return Offer(planned.rung, request, why)
