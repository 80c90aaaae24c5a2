"""Turns an operation and its parameters into what travels over WinRM.

The command line is a fixed bootstrap (`-EncodedCommand`, the same bytes every time) that reads the
real script from stdin, as Ansible's PowerShell bootstrap does: no command-line length limit, and
nothing from chat or config ever becomes part of the command line. The script sent on stdin is the
operation's .ps1 file with one line in front that assigns the parameters as a base64 JSON literal
(base64's alphabet cannot break out of a single-quoted PowerShell string).
"""

from __future__ import annotations

import base64
from functools import cache
from importlib import resources

from bot.winrm.results import Operation, OperationParams

MARKER_PREFIX = "# aspreset-operation: "
PARAMS_VARIABLE = "$AspresetParams"

# Reads the whole of stdin and runs it as one script block.
_BOOTSTRAP = "$s = $input | Out-String; & ([scriptblock]::Create($s))"


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


@cache
def script_source(op: Operation) -> str:
    """The .ps1 text of one operation, as shipped in the package."""
    return resources.files("bot.winrm").joinpath(f"{op}.ps1").read_text(encoding="utf-8")


def encode_params(params: OperationParams) -> str:
    return base64.b64encode(params.model_dump_json().encode("utf-8")).decode("ascii")


def stdin_payload(params: OperationParams) -> str:
    """The script fed on stdin: the parameters line, then the operation's own source."""
    return f"{PARAMS_VARIABLE} = '{encode_params(params)}'\n{script_source(params.op)}"
