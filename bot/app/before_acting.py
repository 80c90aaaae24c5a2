"""What the hosts show before acting, judged into the plan a person sees and approves
(docs/iis-behaviour.md, "Checks before acting"): the applications IIS really runs in the pool are the
blast radius of a recycle or a kill (the inventory may be stale; a difference is a warning); content
on a share means a touch restarts the app on every server at once, so an unload is used instead; and
before a kill, the requests in flight and the pool's recent WAS events. The scripts and the simulator
only read; the judgement is here, the same for both."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping

from bot.app.errors import ExecutionError
from bot.app.results import BeforeActing, OperationParams, OperationResult, PoolApp, StatusResult
from commands.rungs import Rung
from policies.inventory import Inventory
from policies.planner import Plan, shared_pool_warning

LOOK_TIMEOUT_S = 15.0  # a read-only status per host, bounded: the plan waits for it
TOUCH_METHODS = ("touch-web-config", "bin-marker")
SHOWN_HOSTS = 12  # per kind of line: a 200-host plan stays readable
WAS_EVENTS = {
    5002: "pool disabled by rapid-fail protection",
    5009: "worker ended unexpectedly",
    5010: "worker did not answer a ping",
    5011: "worker had a fatal communication error",
    5013: "worker exceeded the shutdown time limit",
}


def needs_look(the_plan: Plan) -> bool:
    """Whether the plan depends on what the hosts show: a recycle's or a kill's blast radius, and an
    AppDomain restart that would touch content (its method, or the policy's fallback without WMI)."""
    if the_plan.rung in (Rung.APPPOOL, Rung.WORKER):
        return True
    return the_plan.rung == Rung.APPDOMAIN and (
        the_plan.method in TOUCH_METHODS or the_plan.appdomain_fallback in TOUCH_METHODS)


def look_params(the_plan: Plan) -> OperationParams:
    return OperationParams(op="status", iis_site=the_plan.iis_site, app_path=the_plan.app, pool=the_plan.pool,
                           timeout_s=LOOK_TIMEOUT_S, before_acting=True)


def is_shared_path(path: str) -> bool:
    r"""Content on a share: \\server\share\..., a DFS namespace (\\domain\namespace\...), or the long
    form \\?\UNC\server\share; not \\?\C:\... or a device path \\.\."""
    if path.upper().startswith("\\\\?\\UNC\\"):
        return True
    return path.startswith("\\\\") and not path.startswith(("\\\\?\\", "\\\\.\\"))


def with_host_checks(the_plan: Plan, inventory: Inventory, looks: Mapping[str, OperationResult | ExecutionError],
                     ) -> Plan:
    """The plan with what the hosts showed: blast radius, warnings, method, and the lines a person
    reads before a kill. A host that could not be read is said to be so; the plan is not refused here."""
    read = {host: r.before_acting for host, r in looks.items()
            if isinstance(r, StatusResult) and r.ok and r.before_acting is not None}
    unread = {host: _failure(r) for host, r in looks.items() if host not in read and _failure(r)}
    warnings = [w for w in the_plan.warnings if not w.startswith(f"pool {the_plan.pool} is shared:")]
    warnings += _grouped({f"could not be read before acting ({why}): the plan shows what the inventory says":
                          hosts for why, hosts in _by_text(unread).items()})
    changes: dict[str, object] = {}
    if the_plan.rung in (Rung.APPPOOL, Rung.WORKER):
        radius, differences = _blast_radius(the_plan, inventory, read)
        changes["blast_radius"] = radius
        warnings += _grouped(differences)
        shared = shared_pool_warning(the_plan.pool, the_plan.rung, the_plan.site, radius)
        warnings += [shared] if shared else []
    if the_plan.rung == Rung.APPDOMAIN:
        core = inventory.sites[the_plan.site].runtime == "core" or any(
            isinstance(r, StatusResult) and r.settings is not None and r.settings.aspnet_core for r in looks.values())
        changes.update(_shared_content(the_plan, read, core, warnings))
    seen = _before_kill(the_plan, read) if the_plan.rung == Rung.WORKER else ()
    return dataclasses.replace(the_plan, warnings=tuple(warnings), seen_on_hosts=seen, **changes)  # type: ignore[arg-type]


def _failure(result: OperationResult | ExecutionError) -> str:
    if isinstance(result, ExecutionError):
        return f"{result.code}: {result.detail}"
    if not result.ok:
        return f"{result.error_code}: {result.error}"
    return ""


def _blast_radius(the_plan: Plan, inventory: Inventory, read: Mapping[str, BeforeActing],
                  ) -> tuple[tuple[str, ...], dict[str, list[str]]]:
    """Every application the restart hits, by its inventory name where the inventory has it, and for
    each difference from the inventory the hosts that show it."""
    radius: set[str] = set()
    differences: dict[str, list[str]] = {}
    for host in the_plan.hosts:
        listed = set(inventory.apps_in_pool(host, the_plan.pool))
        if host not in read:
            radius |= listed
            continue
        found = {_app_name(app, host, inventory) for app in read[host].pool_apps}
        radius |= found
        extra = sorted(found - listed)
        missing = sorted(listed - found)
        if extra:
            text = (f"IIS runs {', '.join(extra)} in pool {the_plan.pool} too, which the inventory does not list "
                    f"there: the {the_plan.rung.value} restarts {'it' if len(extra) == 1 else 'them'} as well; "
                    "update the inventory")
            differences.setdefault(text, []).append(host)
        if missing:
            text = (f"the inventory lists {', '.join(missing)} in pool {the_plan.pool}, but IIS does not run "
                    f"{'it' if len(missing) == 1 else 'them'} there: update the inventory")
            differences.setdefault(text, []).append(host)
    return tuple(sorted(radius)), differences


def _app_name(app: PoolApp, host: str, inventory: Inventory) -> str:
    """The inventory's name for an application IIS runs, or `Site/path (not in the inventory)`.
    Windows compares site names and paths without regard to case."""
    path = "/" + app.path.strip("/")
    for name, site in inventory.sites.items():
        if (host in site.hosts and site.iis_site.lower() == app.site.lower()
                and "/" + site.app.strip("/").lower() == path.lower()):
            return name
    return f"{app.site}{'' if path == '/' else path} (not in the inventory)"


def _shared_content(the_plan: Plan, read: Mapping[str, BeforeActing], core: bool, warnings: list[str],
                    ) -> dict[str, str]:
    """Content on a share serves every host at once: touching web.config (or bin/) there restarts the
    app on all of them together, whatever the waves say. Prefer the unload, which acts on one host."""
    shared = {host: seen.physical_path for host, seen in read.items() if is_shared_path(seen.physical_path)}
    if not shared:
        return {}
    where = ", ".join(sorted(set(shared.values())))
    hosts = _hosts_text(sorted(shared))
    if core:
        warnings.append(f"{hosts}: the content is on a share ({where}): touching web.config there restarts the app "
                        "on every server that serves it at once, which defeats the waves; ASP.NET Core has no "
                        "AppDomain to unload: --scope apppool restarts one host at a time")
        return {}
    changes: dict[str, str] = {}
    touched = the_plan.method in TOUCH_METHODS
    if touched:
        changes["method"] = "wmi-unload"
    if the_plan.appdomain_fallback in TOUCH_METHODS:
        changes["appdomain_fallback"] = "mwa-unload"
    instead = f"the unload is used instead of {the_plan.method}" if touched else \
        "without the WMI provider the unload goes through Microsoft.Web.Administration, not a touch"
    warnings.append(f"{hosts}: the content is on a share ({where}): a touch there restarts the app on every server "
                    f"that serves it at once, which defeats the waves; {instead}, one host at a time")
    return changes


def _before_kill(the_plan: Plan, read: Mapping[str, BeforeActing]) -> tuple[str, ...]:
    """What a person approving a kill should see: the requests it ends and how the pool has fared."""
    requests: dict[str, list[str]] = {}
    events: dict[str, list[str]] = {}
    for host in the_plan.hosts:
        seen = read.get(host)
        if seen is None:
            continue
        requests.setdefault(_requests_text(the_plan.pool, seen), []).append(host)
        events.setdefault(_events_text(the_plan.pool, seen), []).append(host)
    return tuple(_grouped(requests) + _grouped(events))


def _requests_text(pool: str, seen: BeforeActing) -> str:
    if seen.requests is None:
        return f"requests in flight in pool {pool}: unknown ({seen.requests_unknown or 'not read'})"
    if not seen.requests:
        return f"no request in flight in pool {pool}"
    longest = sorted(seen.requests, key=lambda r: -r.elapsed_ms)[:3]
    shown = ", ".join(f"{r.verb} {r.path} ({r.elapsed_ms / 1000:.0f} s)" for r in longest)
    return f"{len(seen.requests)} request(s) in flight in pool {pool}, which the kill ends (longest: {shown})"


def _events_text(pool: str, seen: BeforeActing) -> str:
    if seen.was_events is None:
        return f"WAS events of pool {pool}: unknown ({seen.was_events_unknown or 'not read'})"
    if not seen.was_events:
        return f"no WAS failure event for pool {pool} in the System log lately"
    counts = Counter(event.id for event in seen.was_events)
    shown = "; ".join(f"{n}x {event} ({WAS_EVENTS.get(event, 'WAS event')})" for event, n in sorted(counts.items()))
    last = max(event.at for event in seen.was_events)
    return f"WAS events of pool {pool} in the System log lately: {shown}; the last at {last}"


def _by_text(per_host: Mapping[str, str]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for host, text in per_host.items():
        grouped.setdefault(text, []).append(host)
    return grouped


def _grouped(lines: Mapping[str, list[str]]) -> list[str]:
    """One line per text, led by the hosts that show it."""
    return [f"{_hosts_text(hosts)}: {text}" for text, hosts in lines.items()]


def _hosts_text(hosts: list[str]) -> str:
    shown = ", ".join(hosts[:SHOWN_HOSTS])
    return shown + (f" and {len(hosts) - SHOWN_HOSTS} more" if len(hosts) > SHOWN_HOSTS else "")
