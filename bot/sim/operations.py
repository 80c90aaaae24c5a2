"""The simulator's stand-in for the PowerShell operations.

It does not interpret PowerShell. It recognises which operation a script is by the marker line
`# aspreset-operation: <op>` the real scripts carry, reads the parameters from the
`$AspresetParams = '<base64 JSON>'` line in front of it, does the operation's steps against the
in-memory IIS model (bot.sim.rungs, bot.sim.reads) and prints the same result model
(`bot.app.results`) as one ASCII-escaped JSON line, exit code 0, failures included (ok=false with
an error_code). A script without a marker exits 1 with a message on stderr, as a PowerShell error
would.

The bootstrap command line matters too: on a host whose Windows PowerShell is older than 3.0, a
bootstrap that checks `$PSVersionTable` first answers `powershell_too_old`, as the real one does
(bot.winrm.scripts); one that does not fails the way PowerShell 2.0 fails on the scripts. Likewise
on a host whose PowerShell runs in ConstrainedLanguage mode (`IisServer.language_mode`): the
bootstrap's language gate answers `constrained_language`; without it the scripts' first .NET
method call fails as it does under CLM.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, ValidationError

from bot.app.results import (
    RESULT_MODELS,
    DiscoverResult,
    ErrorCode,
    OperationParams,
    ProbeResult,
    RestartResult,
    StatusResult,
)
from bot.sim.observe import Cancelled, OpContext, Stop, loopback_get
from bot.sim.reads import op_discover, op_probe, op_status
from bot.sim.rungs import op_appdomain, op_apppool, op_worker
from bot.winrm.scripts import (
    LANGUAGE_GATE,
    MARKER_PREFIX,
    PARAMS_VARIABLE,
    VERSION_GATE,
    constrained_answer,
    too_old_answer,
)

__all__ = ["Cancelled", "OpContext", "ScriptOutcome", "loopback_get", "run_script"]

_MARKER = re.compile(re.escape(MARKER_PREFIX) + r"([A-Za-z]+)\s*")
_PARAMS = re.compile(re.escape(PARAMS_VARIABLE) + r" = '([A-Za-z0-9+/=]*)'\s*")


@dataclass(frozen=True)
class ScriptOutcome:
    stdout: bytes
    stderr: bytes
    exit_code: int


def script_operation(script: str) -> str | None:
    """The operation named by the script's marker line, if any."""
    return _line_value(script, MARKER_PREFIX, _MARKER)


def script_params(script: str) -> str | None:
    """The base64 text of the parameters line, if any."""
    return _line_value(script, PARAMS_VARIABLE, _PARAMS)


def _line_value(script: str, prefix: str, line: re.Pattern[str]) -> str | None:
    """Group 1 of the first whole line that starts with `prefix` and matches `line`. Found with
    str.find: a `^...$` MULTILINE search tries every position of a 30 KB script, on every command."""
    at = script.find(prefix)
    while at >= 0:
        end = script.find("\n", at)
        match = line.fullmatch(script, at, len(script) if end < 0 else end)
        if match and (at == 0 or script[at - 1] == "\n"):
            return match.group(1)
        at = script.find(prefix, at + 1)
    return None


def run_script(script: str, ctx: OpContext, bootstrap: str = "") -> ScriptOutcome:
    op = script_operation(script)
    if op is None or op not in RESULT_MODELS:
        return ScriptOutcome(
            b"",
            b"aspreset simulator: the script carries no '# aspreset-operation: <op>' marker line "
            b"(the simulator does not interpret PowerShell)\r\n",
            1,
        )
    found = ctx.iis.powershell_version
    if int(found.split(".")[0]) < 3:
        if VERSION_GATE in bootstrap:
            return ScriptOutcome((too_old_answer(op, found) + "\r\n").encode("ascii"), b"", 0)
        return ScriptOutcome(b"", b"Unable to find type [ordered]: make sure that the assembly containing this "
                             b"type is loaded.\r\n", 1)
    mode = ctx.iis.language_mode
    if mode != "FullLanguage":
        if LANGUAGE_GATE in bootstrap:
            return ScriptOutcome((constrained_answer(op, found, mode) + "\r\n").encode("ascii"), b"", 0)
        # The first .NET call of a script ($clock = [Diagnostics.Stopwatch]::StartNew()) stops it.
        return ScriptOutcome(b"", b"Cannot invoke method. Method invocation is supported only on core types in this "
                             b"language mode.\r\n    + CategoryInfo          : InvalidOperation: (:) [], "
                             b"RuntimeException\r\n    + FullyQualifiedErrorId : "
                             b"MethodInvocationNotSupportedInConstrainedLanguage\r\n", 1)
    params, problem = _decode_params(script)
    if params is None or params.op != op:
        problem = problem or f"the parameters are for operation {params.op if params else '?'}, the script is {op}"
        return _emit(_failure(op, "bad_parameters", problem))
    ctx.started = time.monotonic()
    try:
        result = OPERATIONS[op](ctx, params)
    except Cancelled:
        raise
    except Stop as stop:
        result = _failure(op, stop.code, stop.message)
    except Exception as exc:  # a bug in the model must still answer like a script would
        result = _failure(op, "internal", f"simulator error: {type(exc).__name__}: {exc}")
    if isinstance(result, RestartResult):
        result.duration_ms = ctx.ms()
    return _emit(result)


def _decode_params(script: str) -> tuple[OperationParams | None, str]:
    blob = script_params(script)
    if blob is None:
        return None, f"no {PARAMS_VARIABLE} line in front of the script"
    try:
        return OperationParams.model_validate_json(base64.b64decode(blob, validate=True)), ""
    except (binascii.Error, ValueError, ValidationError) as exc:
        return None, f"{PARAMS_VARIABLE} is not base64 JSON of the operation parameters: {type(exc).__name__}"


def _emit(result: BaseModel) -> ScriptOutcome:
    text = json.dumps(result.model_dump(mode="json"), ensure_ascii=True, separators=(",", ":"))
    return ScriptOutcome((text + "\r\n").encode("ascii"), b"", 0)


def _failure(op: str, code: ErrorCode, message: str) -> BaseModel:
    if op == "status":
        return StatusResult(ok=False, error_code=code, error=message)
    if op == "discover":
        return DiscoverResult(ok=False, error_code=code, error=message)
    if op == "probe":
        return ProbeResult(ok=False, error_code=code, error=message)
    return RestartResult.model_validate({"ok": False, "error_code": code, "error": message, "op": op})


OPERATIONS: dict[str, Callable[[OpContext, OperationParams], BaseModel]] = {
    "status": op_status,
    "appdomain": op_appdomain,
    "apppool": op_apppool,
    "worker": op_worker,
    "discover": op_discover,
    "probe": op_probe,
}
