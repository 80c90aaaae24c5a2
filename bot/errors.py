"""The project's own exceptions. Adapters map their library's exceptions to these; front ends map
these to their medium (Slack ephemeral, MCP tool error, CLI exit code). Messages say what to check
and never carry a secret."""

from __future__ import annotations


class AspresetError(Exception):
    """Base of every error a front end knows how to show."""

    exit_code = 1


class ConfigError(AspresetError):
    """Bad input or configuration: names the file, field or value and what would be right."""

    exit_code = 2


class ExecutionError(AspresetError):
    """An operation on one host did not happen as asked."""

    exit_code = 1

    def __init__(self, host: str, message: str) -> None:
        super().__init__(f"{host}: {message}")
        self.host = host
        self.detail = message


class HostUnreachable(ExecutionError):
    pass


class AuthenticationFailed(ExecutionError):
    pass


class InsecureTransport(ExecutionError):
    pass


class TimedOut(ExecutionError):
    pass


class ProtocolError(ExecutionError):
    pass


class ScriptFailed(ExecutionError):
    def __init__(self, host: str, code: str, message: str) -> None:
        super().__init__(host, f"{message} [{code}]")
        self.code = code
