"""A script's stdout, stderr and exit code -> the operation's result model, or the error saying
why not. A script's `ok=false` answer is a result, not an exception (it carries the state before
and after); `failure_of()` turns it into `ScriptFailed` for callers that want one."""

from __future__ import annotations

from pydantic import ValidationError

from bot.app.errors import ProtocolError, ScriptFailed
from bot.app.results import (
    RESULT_MODELS,
    DiscoverResult,
    OperationParams,
    OperationResult,
    ProbeResult,
    RestartResult,
    StatusResult,
)
from bot.winrm.faults import Failure


def failure_of(host_name: str, result: OperationResult) -> ScriptFailed | None:
    """The ScriptFailed an `ok=false` result stands for (None when it succeeded)."""
    if result.ok:
        return None
    return ScriptFailed(host_name, result.error_code or "internal", result.error or "the operation failed")


def parse_output(
    host_name: str, params: OperationParams, stdout: bytes, stderr: bytes, exit_code: int
) -> OperationResult:
    """Raises Failure (never transient: the script ran)."""
    op = params.op
    if exit_code != 0:
        raise Failure(
            ScriptFailed(
                host_name,
                f"exit_{exit_code}",
                f"the {op} script exited with code {exit_code}: {_summary(stderr) or 'no message on stderr'}",
            ),
            transient=False,
        )
    text = stdout.decode("utf-8", errors="replace").lstrip("\ufeff")
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) != 1:
        raise Failure(
            ProtocolError(
                host_name,
                f"the {op} script printed {len(lines)} lines on stdout, expected exactly one JSON object "
                "(a profile script or a stray Write-Output on the host?)",
            ),
            transient=False,
        )
    model = RESULT_MODELS[op]
    try:
        result = model.model_validate_json(lines[0])
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top)"
        raise Failure(
            ProtocolError(
                host_name,
                f"the {op} script's output is not a {model.__name__}: {exc.error_count()} problem(s), "
                f"first at {where}: {first['type']}",
            ),
            transient=False,
        ) from None
    assert isinstance(result, StatusResult | RestartResult | DiscoverResult | ProbeResult)
    if isinstance(result, RestartResult) and result.op != op:
        raise Failure(ProtocolError(host_name, f"asked for {op}, the script answered for {result.op}"), False)
    return result


def _summary(stderr: bytes, limit: int = 300) -> str:
    text = stderr.decode("utf-8", errors="replace")
    if text.startswith("#< CLIXML"):
        text = text.replace("_x000D__x000A_", " ")
    text = " ".join(text.split())
    return text[:limit] + ("..." if len(text) > limit else "")
