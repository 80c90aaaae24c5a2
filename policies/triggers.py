r"""What a change needs: the planner's trigger table (docs/iis-behaviour.md).

Paths are matched case-insensitively (IIS content lives on NTFS) with `/` separators, so
`App_Data\settings.xml` and `app_data/Settings.xml` plan alike. A full path (`C:\inetpub\...`,
`\\web01\c$\...`) is matched from each of its folders down, so the part under the app's folder
decides. Server-wide files (machine.config, the framework's root web.config, applicationHost.config,
aspnet.config, the GAC, Temporary ASP.NET Files) are recognised before anything else; then the
policy's own glob rules, then the built-in table, first match wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from commands.model import Reason
from commands.rungs import Rung


@dataclass(frozen=True)
class TriggerRule:
    glob: str
    rung: Rung
    why: str


CLR_TABLE: tuple[TriggerRule, ...] = (
    TriggerRule("**/web.config", Rung.NONE, "ASP.NET restarts the AppDomain by itself when web.config changes"),
    TriggerRule("global.asax", Rung.NONE, "ASP.NET restarts the AppDomain by itself when global.asax changes"),
    TriggerRule("bin/**", Rung.NONE, "ASP.NET watches bin/ and restarts the AppDomain by itself"),
    TriggerRule("App_Code/**", Rung.NONE, "ASP.NET recompiles App_Code and restarts the AppDomain by itself"),
    TriggerRule(
        "App_GlobalResources/**", Rung.NONE, "ASP.NET restarts the AppDomain by itself for global resources"
    ),
    TriggerRule("**.mdf", Rung.APPPOOL, "the app holds database files open; only a pool recycle frees them"),
    TriggerRule("**.ldf", Rung.APPPOOL, "the app holds database files open; only a pool recycle frees them"),
    TriggerRule(
        "**.config",
        Rung.APPDOMAIN,
        "config files other than web.config are read at start; touch the app to reread them",
    ),
    TriggerRule("App_Data/**", Rung.APPDOMAIN, "settings files in App_Data are read when the app starts"),
    TriggerRule("appsettings*.json", Rung.APPDOMAIN, "appsettings files are read when the app starts"),
)

# ASP.NET Core under ANCM: no AppDomain, no bin/ watcher; a web.config change restarts the app.
CORE_TABLE: tuple[TriggerRule, ...] = (
    TriggerRule("**/web.config", Rung.NONE, "ANCM restarts the app by itself when web.config changes"),
    TriggerRule("**.dll", Rung.APPDOMAIN, "ASP.NET Core does not watch its assemblies: touch web.config"),
    TriggerRule("**.json", Rung.APPDOMAIN, "settings are read at start: touch web.config to restart the app"),
    TriggerRule("**.config", Rung.APPDOMAIN, "config is read at start: touch web.config to restart the app"),
)

@dataclass(frozen=True)
class ServerWideFile:
    glob: str
    what: str
    alternative: Rung  # the narrower restart that does what this app needs
    why: str


_FRAMEWORK = "**/Microsoft.NET/Framework*/v*"
SERVER_WIDE_FILES: tuple[ServerWideFile, ...] = (
    ServerWideFile(
        "**/machine.config", "machine.config", Rung.APPDOMAIN,
        "machine.config configures every .NET application on the server; put the setting in the site's own "
        "web.config, which restarts only its AppDomain",
    ),
    ServerWideFile(
        f"{_FRAMEWORK}/Config/web.config", "the framework's root web.config", Rung.APPDOMAIN,
        "the root web.config under the .NET Framework folder configures every ASP.NET application on the "
        "server; put the setting in the site's own web.config",
    ),
    ServerWideFile(
        "**/applicationHost.config", "applicationHost.config", Rung.NONE,
        "applicationHost.config is IIS's server-wide configuration; IIS applies a change itself and recycles "
        "only the pools it affects",
    ),
    ServerWideFile(
        "**/aspnet.config", "aspnet.config", Rung.APPPOOL,
        "aspnet.config sets the CLR of every worker process on the server; recycle only the pools that need it",
    ),
    ServerWideFile(
        "**/Windows/assembly/**", "the GAC", Rung.APPPOOL,
        "the GAC is shared by every application on the server; recycle only the pool of a site that needs the "
        "new assembly (`--reason gac`)",
    ),
    ServerWideFile(
        "**/Microsoft.NET/assembly/**", "the GAC", Rung.APPPOOL,
        "the GAC is shared by every application on the server; recycle only the pool of a site that needs the "
        "new assembly (`--reason gac`)",
    ),
    ServerWideFile(
        "**/GAC_*/**", "the GAC", Rung.APPPOOL,
        "the GAC is shared by every application on the server; recycle only the pool of a site that needs the "
        "new assembly (`--reason gac`)",
    ),
    ServerWideFile(
        "**/Temporary ASP.NET Files/**", "Temporary ASP.NET Files", Rung.APPDOMAIN,
        "Temporary ASP.NET Files holds the compiled code of every application on the server; an AppDomain "
        "restart of the one site recompiles what it needs",
    ),
    ServerWideFile(
        "**/Temporary ASP.NET Files", "Temporary ASP.NET Files", Rung.APPDOMAIN,
        "Temporary ASP.NET Files holds the compiled code of every application on the server; an AppDomain "
        "restart of the one site recompiles what it needs",
    ),
)

UNMATCHED_WHY = "content files (pages, views, scripts, styles) are picked up without a restart"

REASONS: dict[Reason, tuple[Rung, str]] = {
    Reason.HUNG: (Rung.WORKER, "a hung worker only goes away when its process is killed"),
    Reason.LOCKED_FILE: (Rung.APPPOOL, "a file locked by the app is released only by a pool recycle"),
    Reason.GAC: (Rung.APPPOOL, "assemblies updated in the GAC are loaded per process: recycle the pool"),
    Reason.MEMORY: (Rung.APPPOOL, "an overlapped pool recycle frees memory gracefully"),
    Reason.CONFIG: (Rung.APPDOMAIN, "external config files are reread when the app restarts"),
    Reason.NATIVE_MODULE: (Rung.APPPOOL, "native modules and ISAPI filters load per process"),
}


def normalise_path(path: str) -> str:
    path = path.strip().replace("\\", "/")
    while path.startswith(("./", "/")):
        path = path[2:] if path.startswith("./") else path[1:]
    return re.sub(r"/+", "/", path)


@cache
def glob_regex(glob: str) -> re.Pattern[str]:
    """`**` crosses folders, `*` and `?` stay within one; case-insensitive."""
    out: list[str] = []
    index = 0
    while index < len(glob):
        char = glob[index]
        if glob.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
            continue
        if glob.startswith("**", index):
            out.append(".*")
            index += 2
            continue
        out.append({"*": "[^/]*", "?": "[^/]"}.get(char, re.escape(char)))
        index += 1
    return re.compile("".join(out), re.IGNORECASE)


_ABSOLUTE = re.compile(r"^(?:[A-Za-z]:[\\/]|[\\/]{2})")


def is_full_path(path: str) -> bool:
    """A drive path (C:\\...) or a UNC path (\\\\server\\share\\...)."""
    return bool(_ABSOLUTE.match(path.strip()))


def candidates(path: str) -> tuple[str, ...]:
    """What the rules are tried on: the path itself, and for a full path each tail from a folder down."""
    normal = normalise_path(path)
    if not is_full_path(path):
        return (normal,)
    parts = normal.split("/")
    return tuple("/".join(parts[i:]) for i in range(len(parts)))


def match_path(path: str, glob: str) -> bool:
    pattern = glob_regex(normalise_path(glob))
    return any(pattern.fullmatch(candidate) is not None for candidate in candidates(path))


def server_wide_file(path: str) -> ServerWideFile | None:
    """The server-wide file or folder `path` is in, if any."""
    return next((rule for rule in SERVER_WIDE_FILES if match_path(path, rule.glob)), None)


def rung_for_path(path: str, policy_rules: dict[str, Rung], core: bool) -> tuple[Rung, str]:
    """The narrowest rung a change to `path` needs, and why (server-wide files excepted: the
    planner asks `server_wide_file` first)."""
    for glob, rung in policy_rules.items():
        if match_path(path, glob):
            return rung, f"the policy's trigger {glob!r} says {rung.value}"
    for rule in CORE_TABLE if core else CLR_TABLE:
        if match_path(path, rule.glob):
            return rule.rung, rule.why
    return Rung.NONE, UNMATCHED_WHY
