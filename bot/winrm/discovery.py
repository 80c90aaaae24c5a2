"""Turns what the `discover` operation found on one host into inventory TOML for the team to finish.

`aspreset inventory discover HOST` prints this text: one `[hosts.NAME]` table and one `[sites.X]` table
per IIS application (the root application "/" included), each with `environment = "unknown"` marked
as a placeholder. The output loads with `policies.files.load_inventory` as it is; the team then sets
the environments, removes the applications aspreset should not manage and adds credentials.
"""

from __future__ import annotations

import json
import re
from collections import Counter

import tomli_w

from bot.app.errors import ScriptFailed
from bot.app.results import DiscoveredApp, DiscoveredPool, DiscoveredSite, DiscoverResult

ENVIRONMENT_PLACEHOLDER = "unknown"

_ENVIRONMENT_LINE = f"environment = {json.dumps(ENVIRONMENT_PLACEHOLDER)}"
_ENVIRONMENT_NOTE = "  # placeholder: set the real environment (prod, staging, ...)"
_NAME_LIMIT = 63  # policies.inventory: letters, digits, '.', '_', '-'; at most 63, alphanumeric first
_NOT_NAME = re.compile(r"[^a-z0-9._-]+")


def inventory_toml(result: DiscoverResult, host: str, address: str | None = None) -> str:
    """The inventory text for one discovered host. `host` names the host (and is its address unless
    `address` is given). A failed discovery raises `ScriptFailed` with the script's code and message."""
    if not result.ok:
        raise ScriptFailed(host, result.error_code or "internal", result.error or "discover failed")
    host_key = inventory_name(host)
    lines = [
        f"# Discovered on {_quote(host)} by `aspreset inventory discover`: every IIS application found.",
        "# Set each environment, delete the applications aspreset should not manage, and say how to",
        '# authenticate (username_env/password_env, or transport = "kerberos").',
        "",
        tomli_w.dumps({"hosts": {host_key: _host_table(result, address or host)}}).rstrip("\n"),
    ]
    missing = _missing_features(result)
    if missing:
        lines[4:4] = [f"# Not installed on this host: {missing}."]
    if not any(site.apps for site in result.sites):
        reason = (
            "IIS 6 has no Microsoft.Web.Administration to read" if 0 < result.iis_major_version < 7 else "none found"
        )
        lines += ["", f"# No IIS applications discovered ({reason}): add this host's sites by hand.", "[sites]"]
    pools = {pool.name.lower(): pool for pool in result.pools}
    apps_per_pool = Counter(app.pool.lower() for site in result.sites for app in site.apps)
    taken: set[str] = set()
    for site in result.sites:
        for app in site.apps:
            key = _unique(inventory_name(_site_app_name(site.name, app.path)), taken)
            pool = pools.get(app.pool.lower())
            lines += ["", *_describe(site, app, pool, apps_per_pool[app.pool.lower()])]
            table = tomli_w.dumps({"sites": {key: _site_table(host_key, site, app, pool)}}).rstrip("\n")
            lines.append(table.replace(_ENVIRONMENT_LINE, _ENVIRONMENT_LINE + _ENVIRONMENT_NOTE, 1))
    return "\n".join(lines) + "\n"


def _missing_features(result: DiscoverResult) -> str:
    """The optional IIS features the host lacks and what that means (docs/supported.md)."""
    features = result.features
    missing = []
    if features.wmi_provider is False:
        missing.append("the WMI provider (Install-WindowsFeature Web-Scripting-Tools; without it the appdomain "
                       "rung unloads through Microsoft.Web.Administration)")
    if features.webadministration_module is False:
        missing.append("the WebAdministration module (not needed)")
    if features.aspnet is False:
        missing.append("ASP.NET 4.x (Install-WindowsFeature Web-Asp-Net45, for ASP.NET apps)")
    return "; ".join(missing)


def inventory_name(text: str) -> str:
    """A name the inventory accepts for a host or site key, derived from free text."""
    name = _NOT_NAME.sub("-", text.lower()).strip("-._")
    name = re.sub(r"-{2,}", "-", name)[:_NAME_LIMIT].rstrip("-._")
    return name or "site"


def _host_table(result: DiscoverResult, address: str) -> dict[str, object]:
    table: dict[str, object] = {"address": address, "transport": "ntlm"}
    if 5 <= result.iis_major_version <= 20:
        table["iis_major_version"] = result.iis_major_version
    if result.iis5_isolation:
        table["iis5_isolation"] = True
    return table


def _site_table(
    host_key: str, site: DiscoveredSite, app: DiscoveredApp, pool: DiscoveredPool | None
) -> dict[str, object]:
    table: dict[str, object] = {
        "environment": ENVIRONMENT_PLACEHOLDER,
        "hosts": [host_key],
        "iis_site": site.name,
        "app": app.path,
        "pool": app.pool,
    }
    if app.aspnet_core:  # by its ANCM handler: a No Managed Code pool may serve static files or PHP
        table["runtime"] = "core"
    if app.path != "/":
        table["warmup_path"] = app.path.rstrip("/") + "/"
    return table


def _describe(site: DiscoveredSite, app: DiscoveredApp, pool: DiscoveredPool | None, apps_in_pool: int) -> list[str]:
    where = f"# IIS site {_quote(site.name)} ({site.state}), app {_quote(app.path)} at {_quote(app.physical_path)}"
    lines = [where, _hosting(app)]
    if pool is None:
        return [*lines, f"# pool {_quote(app.pool)}: not found among the host's application pools"]
    runtime = pool.managed_runtime or "no managed code"
    shared = f", shared by {apps_in_pool} applications" if apps_in_pool > 1 else ""
    return [
        *lines,
        f"# pool {_quote(pool.name)}: {pool.state}, {runtime}, {pool.start_mode}, "
        f"maxProcesses {pool.max_processes}{shared}",
    ]


def _hosting(app: DiscoveredApp) -> str:
    """What runs the app, as its effective configuration says (docs/iis-behaviour.md)."""
    if app.aspnet_core is None:
        return (f"# its configuration could not be read ({_quote((app.config_error or 'no reason given')[:200])}): "
                'whether it runs ASP.NET Core is unknown; set runtime = "core" by hand if it does')
    if app.aspnet_core:
        return f"# ASP.NET Core under ANCM, {app.hosting_model or 'outofprocess'}"
    return "# no ASP.NET Core Module handler: ASP.NET (CLR) if its pool loads the CLR, else static files or others"


def _site_app_name(site: str, app_path: str) -> str:
    return site if app_path.strip("/") == "" else f"{site}-{app_path.strip('/')}"


def _unique(name: str, taken: set[str]) -> str:
    candidate, number = name, 2
    while candidate in taken:
        suffix = f"-{number}"
        candidate = name[: _NAME_LIMIT - len(suffix)] + suffix
        number += 1
    taken.add(candidate)
    return candidate


def _quote(text: str) -> str:
    """Names from the host, quoted for a TOML comment: control characters (a newline) escaped."""
    return json.dumps(text, ensure_ascii=False)
