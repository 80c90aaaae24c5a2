"""Trigger -> the narrowest rung that does the job, on which hosts, hitting which apps."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from commands.model import RestartRequest
from commands.rungs import LADDER, Rung
from policies.inventory import Inventory
from policies.policy import Policy
from policies.rollout import rollout_for, waves
from policies.triggers import REASONS, rung_for_path, server_wide_file

DEFAULT_RUNG = Rung.APPDOMAIN


class PlanError(ValueError):
    """The request names something the inventory does not have. The message says what would be right."""


@dataclass(frozen=True)
class Plan:
    site: str
    environment: str
    iis_site: str
    app: str
    pool: str
    rung: Rung
    needed: Rung | None  # what the trigger needs; None when there was no trigger (scope taken as asked)
    method: str
    hosts: tuple[str, ...]
    blast_radius: tuple[str, ...]
    why: tuple[str, ...]
    warnings: tuple[str, ...] = ()
    iis5_hosts: tuple[str, ...] = ()
    dry_run: bool = False
    channel: str | None = None
    warmup_path: str = "/"
    warmup_url: str | None = None
    reason_note: str | None = None
    changed: tuple[str, ...] = field(default=())
    appdomain_fallback: str = "mwa-unload"  # wmi-unload on a host without the WMI provider (policy)
    waves: tuple[tuple[str, ...], ...] = ()  # empty in plans recorded before rollouts: one wave of every host
    keep_going: bool = False  # a failed host does not stop the later waves
    # What the hosts showed before acting (bot.app.before_acting): requests in flight, WAS events
    seen_on_hosts: tuple[str, ...] = ()

    @property
    def host_waves(self) -> tuple[tuple[str, ...], ...]:
        return self.waves or ((self.hosts,) if self.hosts else ())

    @property
    def wider_than_needed(self) -> str | None:
        if self.needed is not None and self.rung.wider_than(self.needed):
            return f"{self.rung.value} is wider than needed: {self.needed.value} would do"
        return None

    @property
    def narrowest(self) -> Rung:
        return self.needed if self.needed is not None else DEFAULT_RUNG

    def to_dict(self) -> dict[str, object]:
        """Plain JSON values: what a request records, so an approval runs exactly what was shown."""
        data = asdict(self)
        data["rung"] = self.rung.value
        data["needed"] = self.needed.value if self.needed is not None else None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        values = dict(data)
        values["rung"] = Rung(values["rung"])
        values["needed"] = Rung(values["needed"]) if values.get("needed") else None
        for name in ("hosts", "blast_radius", "why", "warnings", "iis5_hosts", "changed", "seen_on_hosts"):
            values[name] = tuple(values.get(name) or ())
        values["waves"] = tuple(tuple(wave) for wave in values.get("waves") or ())
        return cls(**values)


def plan(request: RestartRequest, inventory: Inventory, policy: Policy) -> Plan:
    site = inventory.sites.get(request.site)
    if site is None:
        raise PlanError(_unknown("site", request.site, sorted(inventory.sites)))
    hosts = tuple(site.hosts)
    for host in request.hosts:
        if host not in site.hosts:
            raise PlanError(f"host {host!r} does not serve {request.site}; its hosts: {', '.join(hosts)}")
    if request.hosts:
        hosts = tuple(h for h in hosts if h in request.hosts)  # in the site's order, as its waves are
    if request.from_host is not None:
        if request.hosts:
            raise PlanError("give --host (these hosts) or --from (this host and the ones after it), not both")
        if request.from_host not in site.hosts:
            raise PlanError(f"host {request.from_host!r} does not serve {request.site}; its hosts: {', '.join(hosts)}")
        hosts = hosts[hosts.index(request.from_host) :]

    rollout = rollout_for(policy, site.environment)
    core = site.runtime == "core"
    needed, why = _needed(request, policy, core)
    rung = request.scope if request.scope is not None else (needed or DEFAULT_RUNG)
    server_wide = _server_wide(request.changed)
    if needed is None and request.scope is None and server_wide is None:
        why = (f"no change or reason given: {DEFAULT_RUNG.value} is the narrowest restart",)
    if server_wide is not None:
        # A server-wide file is the server rung whatever scope was asked: the decision refuses it
        # and offers `needed`, the narrower restart that does what this one site needs.
        needed, rung, why = server_wide[0], Rung.SERVER, server_wide[1] + why
    if core and rung == Rung.APPDOMAIN:
        why += (
            "ASP.NET Core has no AppDomain: touching web.config makes ANCM restart the app, in process its "
            "w3wp.exe, out of process its dotnet.exe child (each host's web.config hostingModel says which)",
        )
    if request.note:
        why += (f"reason given: {request.note}",)
    warnings: list[str] = []
    if needed is not None and needed.wider_than(rung):
        warnings.append(f"{rung.value} is narrower than the change needs ({needed.value}); it may not take effect")

    if rung >= Rung.APPPOOL:
        radius = sorted({name for host in hosts for name in inventory.apps_in_pool(host, site.pool)})
        shared = shared_pool_warning(site.pool, rung, request.site, radius)
        warnings += [shared] if shared else []
    else:
        radius = [request.site]

    return Plan(
        site=request.site,
        environment=site.environment,
        iis_site=site.iis_site,
        app=site.app,
        pool=site.pool,
        rung=rung,
        needed=needed,
        method=_method(rung, core, site.appdomain_method or policy.appdomain_method),
        hosts=hosts,
        blast_radius=tuple(radius),
        why=why,
        warnings=tuple(warnings),
        iis5_hosts=tuple(h for h in hosts if inventory.hosts[h].iis5_isolation),
        dry_run=request.dry_run,
        channel=site.channel,
        warmup_path=site.warmup_path,
        warmup_url=site.warmup_url,
        reason_note=request.note,
        changed=request.changed,
        appdomain_fallback=policy.appdomain_fallback,
        waves=waves(hosts, rollout.max_parallel),
        keep_going=rollout.keep_going,
    )


def shared_pool_warning(pool: str, rung: Rung, site: str, radius: Sequence[str]) -> str | None:
    """The warning for a pool restart that hits other applications too (None when it hits only `site`)."""
    others = [name for name in radius if name != site]
    if not others:
        return None
    return f"pool {pool} is shared: restarting it ({rung.value}) also hits {', '.join(others)}"


def _server_wide(changed: tuple[str, ...]) -> tuple[Rung, tuple[str, ...]] | None:
    """(the narrowest alternative, a why line per file) when any changed path is server-wide."""
    found = [(path, rule) for path in changed if (rule := server_wide_file(path)) is not None]
    if not found:
        return None
    lines = tuple(
        f"{path}: {rule.what} is a server-wide change: {rule.why} ({rule.alternative.value})" for path, rule in found
    )
    return min(rule.alternative for _, rule in found), lines


def _needed(request: RestartRequest, policy: Policy, core: bool) -> tuple[Rung | None, tuple[str, ...]]:
    """The widest rung any trigger needs, with a line of why for each trigger."""
    found: list[tuple[Rung, str]] = []
    for path in request.changed:
        if server_wide_file(path) is not None:
            continue  # the server rung; see _server_wide
        rung, why = rung_for_path(path, policy.triggers, core)
        found.append((rung, f"{path}: {why} ({rung.value})"))
    if request.reason is not None:
        rung, why = REASONS[request.reason]
        if core and rung == Rung.APPDOMAIN:
            why += " (ASP.NET Core: touch web.config)"
        found.append((rung, f"--reason {request.reason.value}: {why} ({rung.value})"))
    if not found:
        return None, ()
    return max(rung for rung, _ in found), tuple(line for _, line in found)


def _method(rung: Rung, core: bool, appdomain_method: str) -> str:
    method = LADDER[rung].method
    if method is None:  # the appdomain rung: as the site and policy say; ASP.NET Core has no AppDomain
        return "touch-web-config" if core else appdomain_method
    return method


def _unknown(kind: str, name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f"did you mean {' or '.join(close)}?" if close else f"known: {', '.join(known) or 'none'}"
    return f"unknown {kind} {name!r}: {hint}"
