"""Whether a policy and an inventory fit together. A site whose environment the policy does not
define would get the built-in defaults (every host at once, any rung up to a worker kill): a
forgotten `environment = "unknown"` from `inventory discover` must not restart a prod farm all at
once, so that is an error. A policy environment no site uses only deserves a warning."""

from __future__ import annotations

from dataclasses import dataclass, field

from policies.inventory import Inventory
from policies.policy import Policy


@dataclass(frozen=True)
class Fit:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def environments_fit(policy: Policy, inventory: Inventory, inventory_source: str = "the inventory") -> Fit:
    known = sorted(policy.environments)
    listed = ", ".join(known) if known else "none"
    unknown: dict[str, list[str]] = {}
    for name, site in sorted(inventory.sites.items()):
        if site.environment not in policy.environments:
            unknown.setdefault(site.environment, []).append(f"sites.{name}")
    errors = [
        f"{inventory_source}: {', '.join(sites)}: environment = {env!r} is not an environment of the policy "
        f"({policy.source}), which defines: {listed}. Set the environment to one of those, or add "
        f"[environments.{env}] to the policy"
        for env, sites in unknown.items()
    ]
    used = {site.environment for site in inventory.sites.values()}
    warnings = [
        f"{policy.source}: environments.{env}: no site in {inventory_source} has this environment"
        for env in known
        if env not in used
    ]
    return Fit(errors, warnings)
