"""Turns an operation and its parameters into what travels over WinRM: a fixed `-EncodedCommand`
bootstrap (the same bytes every time; it checks PowerShell's version and language mode, then reads the real script
from stdin, so nothing from chat or config is ever part of the command line), and on stdin the
parameters as one base64 JSON literal, the shared prelude (`prelude.ps1`, `warmup.ps1`, `checks.ps1`) and the
operation's own .ps1 with its `# aspreset-operation: <op>` marker. The layout and why:
docs/architecture.md, "What travels to a host"."""

from __future__ import annotations

import base64
from functools import cache
from importlib import resources

from bot.app.results import POWERSHELL_NEEDED, WMF_URL, Operation, OperationParams

MARKER_PREFIX = "# aspreset-operation: "
PARAMS_VARIABLE = "$AspresetParams"
PRELUDE = "prelude"
PRELUDE_FILES = (PRELUDE, "warmup", "checks")  # sent in this order, as one prelude

# The first thing that runs on a host checks the PowerShell version, before the scripts (which need
# 3.0: [ordered], ConvertTo-Json, Get-CimInstance) are even parsed, and answers in JSON without
# ConvertTo-Json, which 2.0 lacks (docs/supported.md: Server 2008 R2 ships 2.0).
VERSION_GATE = "$PSVersionTable.PSVersion.Major -lt 3"
TOO_OLD_JSON = (
    '{"ok":false,"error_code":"powershell_too_old","error":"Windows PowerShell %V% found; aspreset needs '
    + POWERSHELL_NEEDED
    + ' or later: install Windows Management Framework 5.1 ('
    + WMF_URL
    + '; it needs .NET Framework 4.5 or later; see docs/supported.md)","op":"%O%","powershell_version":"%V%"}'
)

# Then the language mode: an application control policy (WDAC, AppLocker) runs PowerShell in
# ConstrainedLanguage, where the scripts' .NET calls, New-Object and Add-Type fail; the gate answers
# with what to do instead, using only what ConstrainedLanguage allows (docs/iis-behaviour.md).
LANGUAGE_GATE = "$ExecutionContext.SessionState.LanguageMode -ne 'FullLanguage'"
CONSTRAINED_JSON = (
    '{"ok":false,"error_code":"constrained_language","error":"PowerShell on this host runs in %L% mode, which '
    "an application control policy (WDAC or AppLocker) enforces: the aspreset scripts need FullLanguage "
    "(Microsoft.Web.Administration and .NET calls), so nothing was run. An AppLocker policy can allow it for "
    "the WinRM account; a WDAC policy holds for every account: restart the application on this host by hand "
    '(see docs/supported.md)","op":"%O%","powershell_version":"%V%"}'
)

# Checks the version and the language mode, then reads the whole of stdin and runs it as one script block.
_BOOTSTRAP = (
    "$s = $input | Out-String; $v = '1.0'; if ($PSVersionTable) { $v = $PSVersionTable.PSVersion.ToString() }; "
    "$op = ''; if ($s -match '# aspreset-operation: (\\w+)') { $op = $Matches[1] }; "
    f"if (-not $PSVersionTable -or {VERSION_GATE}) {{ "
    f"[Console]::Out.WriteLine('{TOO_OLD_JSON}'.Replace('%V%', $v).Replace('%O%', $op)); exit 0 }}; "
    f"if ({LANGUAGE_GATE}) {{ "
    f"Write-Output ('{CONSTRAINED_JSON}'.Replace('%L%', [string]$ExecutionContext.SessionState.LanguageMode)"
    ".Replace('%V%', $v).Replace('%O%', $op)); exit 0 }; "
    "& ([scriptblock]::Create($s))"
)


def too_old_answer(op: str, found: str) -> str:
    """The line the bootstrap prints on a host with PowerShell `found` (below 3.0)."""
    return TOO_OLD_JSON.replace("%V%", found).replace("%O%", op)


def constrained_answer(op: str, found: str, mode: str = "ConstrainedLanguage") -> str:
    """The line the bootstrap prints on a host whose PowerShell `found` runs in `mode`, not FullLanguage."""
    return CONSTRAINED_JSON.replace("%L%", mode).replace("%V%", found).replace("%O%", op)


def bootstrap_source() -> str:
    """The PowerShell the fixed command line runs (before -EncodedCommand's base64)."""
    return _BOOTSTRAP


def bootstrap_command() -> tuple[str, list[str]]:
    """The executable and arguments of the WinRM command (identical for every operation)."""
    encoded = base64.b64encode(_BOOTSTRAP.encode("utf-16-le")).decode("ascii")
    return "powershell.exe", [
        "-NoProfile",
        "-NonInteractive",
        "-ExecutionPolicy",
        "Bypass",
        "-EncodedCommand",
        encoded,
    ]


def _packaged(name: str) -> str:
    return resources.files("bot.winrm").joinpath(f"{name}.ps1").read_text(encoding="utf-8")


@cache
def script_source(op: Operation) -> str:
    """The .ps1 text of one operation, as shipped in the package."""
    return _packaged(op)


@cache
def prelude_source() -> str:
    """The .ps1 text of the prelude every operation's script is sent with, as shipped in the package:
    its files one after the other."""
    return "".join(_packaged(name) for name in PRELUDE_FILES)


def params_line(params: OperationParams) -> str:
    """The first line on stdin: the parameters as a base64 JSON literal, with its line break."""
    return f"{PARAMS_VARIABLE} = '{encode_params(params)}'\n"


def encode_params(params: OperationParams) -> str:
    return base64.b64encode(params.model_dump_json().encode("utf-8")).decode("ascii")


def stdin_payload(params: OperationParams) -> str:
    """The script fed on stdin: the parameters line, then the prelude, then the operation's own source."""
    return params_line(params) + prelude_source() + script_source(params.op)
