"""A WS-Management endpoint (`POST /wsman`, SOAP 1.2) implementing the Windows Remote Shell
resource `http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd` as pywinrm speaks it:
transfer Create (ShellId selector), shell Command (CommandId), Send (stdin), Receive
(base64 stdout/stderr, CommandState Done with ExitCode), Signal terminate and transfer Delete.
`RelatesTo` echoes the request's `MessageID`. A Receive that would wait past its
OperationTimeout answers HTTP 500 with the `w:TimedOut` fault, WSManFault Code 2150858793, and
the client asks again. Wire format learnt from pywinrm's tests (winrm/tests/conftest.py) and
MS-WSMV.

Authentication: HTTP Basic per request, or NTLM per connection (pyspnego's acceptor) with
WinRM message encryption, as pywinrm's `ntlm` transport speaks it over http. Faults can be
armed per endpoint at runtime; every HTTP request is counted and every command's exact command
line and stdin bytes are kept so tests can assert what went over the wire.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from bot.sim.operations import Cancelled, ScriptOutcome, script_operation
from bot.sim.threads import DaemonThreads
from bot.sim.wsman_wire import (
    _ENCODED,
    _SHELL,
    _TRANSFER,
    ACTIONS,
    NOT_SUPPORTED_CODE,
    NS,
    QUOTA_CODE,
    SHELL_NOT_FOUND_CODE,
    SHELL_URI,
    TIMED_OUT_CODE,
    UNAUTHORIZED,
    Answer,
    WsmanFaultSpec,
    duration,
    envelope,
    fault,
    selector,
    text_of,
)

__all__ = ["QUOTA_CODE", "WsmanEndpoint", "WsmanFaultSpec"]


FaultKind = Literal["unauthorized", "fault", "drop"]


@dataclass
class ArmedFault:
    kind: FaultKind
    actions: frozenset[str] | None = None  # None: every request
    times: int | None = None  # None: forever
    spec: WsmanFaultSpec | None = None

    def fires(self, action: str) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if self.actions is not None and action not in self.actions:
            return False
        if self.times is not None:
            self.times -= 1
        return True


@dataclass
class ReceivedCommand:
    """Exactly what the endpoint got for one command: tests assert on these bytes."""

    shell_id: str
    command_id: str
    command: str
    arguments: list[str]
    stdin: bytearray = field(default_factory=bytearray)
    stdin_ended: bool = False
    operation: str | None = None  # from the script's marker
    outcome: ScriptOutcome | None = None
    terminated: bool = False

    @property
    def command_line(self) -> str:
        return " ".join([self.command, *self.arguments])

    @property
    def bootstrap(self) -> str:
        """The PowerShell of `-EncodedCommand` on the command line ("" if none)."""
        encoded = _ENCODED.search(self.command_line)
        if not encoded:
            return ""
        try:
            return base64.b64decode(encoded.group(1)).decode("utf-16-le")
        except (binascii.Error, UnicodeDecodeError):
            return ""


@dataclass
class _Command:
    record: ReceivedCommand
    codepage: int
    done: threading.Event = field(default_factory=threading.Event)
    cancel: threading.Event = field(default_factory=threading.Event)
    started: bool = False
    delivered: bool = False


@dataclass
class _Shell:
    shell_id: str
    codepage: int
    noprofile: bool
    commands: dict[str, _Command] = field(default_factory=dict)


_COMMANDS = DaemonThreads("sim-command")  # every host's commands: threads reused across hosts and waves

ScriptRunner = Callable[[str, threading.Event, str], ScriptOutcome]  # (stdin script, cancel, bootstrap)


class WsmanEndpoint:
    """The state of one host's WinRM service: shells, commands, faults, counters."""

    def __init__(
        self,
        machine: str,
        *,
        username: str,
        password: str,
        runner: ScriptRunner,
        stop: threading.Event,
        max_receive_wait_s: float | None = None,
    ) -> None:
        self.machine = machine
        self._username = username
        self._password = password
        self._runner = runner
        self._stop = stop
        self.max_receive_wait_s = max_receive_wait_s
        self.lock = threading.Lock()
        self._shells: dict[str, _Shell] = {}
        self._faults: list[ArmedFault] = []
        self.latency_s = 0.0
        self.hang_commands = False
        self.hang_operations: frozenset[str] | None = None  # None: every command hangs
        self.script_output: ScriptOutcome | None = None
        # NTLM completes only on an empty body: AUTHENTICATE riding on a message is refused (401), as
        # OMI did; Windows takes both (pywinrm sends AUTHENTICATE on an empty POST either way)
        self.authenticate_alone = False
        self.requests = 0
        self.encrypted_requests = 0  # NTLM-sealed SOAP messages received
        self.actions: list[str] = []
        self.received: list[ReceivedCommand] = []

    # ---- what tests look at -------------------------------------------------------------------

    @property
    def open_shells(self) -> int:
        with self.lock:
            return len(self._shells)

    def arm(self, fault: ArmedFault) -> None:
        with self.lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()
            self.latency_s = 0.0
            self.hang_commands = False
            self.hang_operations = None
            self.script_output = None

    def reset_counters(self) -> None:
        with self.lock:
            self.requests = 0
            self.encrypted_requests = 0
            self.actions.clear()
            self.received.clear()

    # ---- one HTTP request ---------------------------------------------------------------------

    def begin_request(self) -> bool:
        """Count one HTTP request and apply the injected latency; False when the farm stops."""
        with self.lock:
            self.requests += 1
            latency = self.latency_s
        return not (latency and self._stop.wait(latency))

    def refuses_handshake(self) -> bool:
        """An injected 401 that covers every request also refuses NTLM handshake legs."""
        with self.lock:
            return any(f.kind == "unauthorized" and f.actions is None and f.fires("") for f in self._faults)

    def check_basic(self, authorization: str) -> bool:
        if not authorization.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(authorization[6:]).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return hmac.compare_digest(user.encode(), self._username.encode()) & hmac.compare_digest(
            password.encode(), self._password.encode()
        )

    def handle(self, body: bytes, authenticated: bool) -> Answer | None:
        """One SOAP request. Returns (status, headers, body), or None to drop the connection."""
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            return 400, [("Content-Type", "text/plain")], b"not XML"
        action_uri = text_of(root, "s:Header/a:Action")
        action = ACTIONS.get(action_uri, action_uri.rsplit("/", 1)[-1] or "?")
        message_id = text_of(root, "s:Header/a:MessageID")
        with self.lock:
            self.actions.append(action)
            fired = next((f for f in self._faults if f.fires(action)), None)
        if fired is not None and fired.kind == "drop":
            return None
        if (fired is not None and fired.kind == "unauthorized") or not authenticated:
            return UNAUTHORIZED
        if fired is not None and fired.spec is not None:
            return fault(self.machine, message_id, fired.spec)
        if text_of(root, "s:Header/w:ResourceURI") != SHELL_URI or action not in ACTIONS.values():
            return fault(
                self.machine,
                message_id,
                WsmanFaultSpec(NOT_SUPPORTED_CODE, "w:ActionNotSupported", f"not supported: {action_uri}"),
            )
        handler = getattr(self, f"_on_{action.lower()}")
        result: Answer = handler(root, message_id)
        return result

    # ---- actions ------------------------------------------------------------------------------

    def _on_create(self, root: ET.Element, message_id: str) -> Answer:
        options = {o.get("Name"): (o.text or "") for o in root.iterfind("s:Header/w:OptionSet/w:Option", NS)}
        shell_id = str(uuid.uuid4()).upper()
        codepage = int(options.get("WINRS_CODEPAGE") or 437)
        with self.lock:
            self._shells[shell_id] = _Shell(shell_id, codepage, options.get("WINRS_NOPROFILE") == "TRUE")
        body = (
            "<x:ResourceCreated><a:Address>http://127.0.0.1/wsman</a:Address><a:ReferenceParameters>"
            f"<w:ResourceURI>{SHELL_URI}</w:ResourceURI><w:SelectorSet>"
            f'<w:Selector Name="ShellId">{shell_id}</w:Selector></w:SelectorSet>'
            "</a:ReferenceParameters></x:ResourceCreated>"
            f"<rsp:Shell><rsp:ShellId>{shell_id}</rsp:ShellId><rsp:InputStreams>stdin</rsp:InputStreams>"
            "<rsp:OutputStreams>stdout stderr</rsp:OutputStreams></rsp:Shell>"
        )
        return envelope(_TRANSFER + "CreateResponse", message_id, body)

    def _on_command(self, root: ET.Element, message_id: str) -> Answer:
        shell = self._shell(root)
        if shell is None:
            return self._no_shell(root, message_id)
        line = root.find("s:Body/rsp:CommandLine", NS)
        command = text_of(line, "rsp:Command") if line is not None else ""
        arguments = [a.text or "" for a in line.iterfind("rsp:Arguments", NS)] if line is not None else []
        command_id = str(uuid.uuid4()).upper()
        record = ReceivedCommand(shell.shell_id, command_id, command, arguments)
        cmd = _Command(record, shell.codepage)
        with self.lock:
            shell.commands[command_id] = cmd
            self.received.append(record)
        encoded = _ENCODED.search(record.command_line)
        if encoded:  # `powershell -EncodedCommand`: a script that carries its marker runs at once
            try:
                inline = base64.b64decode(encoded.group(1)).decode("utf-16-le")
            except (binascii.Error, UnicodeDecodeError):
                inline = ""
            if script_operation(inline):
                self._start(cmd, inline)
        body = f"<rsp:CommandResponse><rsp:CommandId>{command_id}</rsp:CommandId></rsp:CommandResponse>"
        return envelope(_SHELL + "CommandResponse", message_id, body)

    def _on_send(self, root: ET.Element, message_id: str) -> Answer:
        shell = self._shell(root)
        if shell is None:
            return self._no_shell(root, message_id)
        for stream in root.iterfind("s:Body/rsp:Send/rsp:Stream", NS):
            cmd = shell.commands.get(stream.get("CommandId") or "")
            if cmd is None:
                return self._no_shell(root, message_id)
            cmd.record.stdin += base64.b64decode(stream.text or "")
            if (stream.get("End") or "").lower() == "true":
                cmd.record.stdin_ended = True
                encoding = "utf-8" if cmd.codepage == 65001 else f"cp{cmd.codepage}"
                self._start(cmd, bytes(cmd.record.stdin).decode(encoding, errors="replace"))
        return envelope(_SHELL + "SendResponse", message_id, "<rsp:SendResponse/>")

    def _on_receive(self, root: ET.Element, message_id: str) -> Answer:
        shell = self._shell(root)
        desired = root.find("s:Body/rsp:Receive/rsp:DesiredStream", NS)
        command_id = desired.get("CommandId", "") if desired is not None else ""
        cmd = shell.commands.get(command_id) if shell else None
        if shell is None or cmd is None:
            return self._no_shell(root, message_id)
        wait = duration(text_of(root, "s:Header/w:OperationTimeout")) or 60.0
        if self.max_receive_wait_s is not None:
            wait = min(wait, self.max_receive_wait_s)
        deadline = time.monotonic() + wait
        while not cmd.done.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._stop.is_set():
                return fault(
                    self.machine,
                    message_id,
                    WsmanFaultSpec(
                        TIMED_OUT_CODE,
                        "w:TimedOut",
                        "The WS-Management service cannot complete the operation within the time "
                        "specified in OperationTimeout.",
                    ),
                )
            cmd.done.wait(min(remaining, 0.05))
        outcome = cmd.record.outcome or ScriptOutcome(b"", b"", 1)
        streams = []
        if not cmd.delivered:
            cmd.delivered = True
            for name, data in (("stdout", outcome.stdout), ("stderr", outcome.stderr)):
                for i in range(0, len(data), 8192):
                    chunk = base64.b64encode(data[i : i + 8192]).decode("ascii")
                    streams.append(f'<rsp:Stream Name="{name}" CommandId="{command_id}">{chunk}</rsp:Stream>')
        streams += [
            f'<rsp:Stream Name="stdout" CommandId="{command_id}" End="true"></rsp:Stream>',
            f'<rsp:Stream Name="stderr" CommandId="{command_id}" End="true"></rsp:Stream>',
        ]
        body = (
            f"<rsp:ReceiveResponse>{''.join(streams)}"
            f'<rsp:CommandState CommandId="{command_id}" State="{_SHELL}CommandState/Done">'
            f"<rsp:ExitCode>{outcome.exit_code}</rsp:ExitCode></rsp:CommandState></rsp:ReceiveResponse>"
        )
        return envelope(_SHELL + "ReceiveResponse", message_id, body)

    def _on_signal(self, root: ET.Element, message_id: str) -> Answer:
        shell = self._shell(root)
        signal = root.find("s:Body/rsp:Signal", NS)
        cmd = shell.commands.get(signal.get("CommandId", "")) if shell and signal is not None else None
        if cmd is None:
            return self._no_shell(root, message_id)
        cmd.record.terminated = True
        cmd.cancel.set()
        return envelope(_SHELL + "SignalResponse", message_id, "<rsp:SignalResponse/>")

    def _on_delete(self, root: ET.Element, message_id: str) -> Answer:
        with self.lock:
            shell = self._shells.pop(selector(root), None)
        if shell is None:
            return self._no_shell(root, message_id)
        for cmd in shell.commands.values():
            cmd.cancel.set()
        return envelope(_TRANSFER + "DeleteResponse", message_id, "")

    # ---- helpers ------------------------------------------------------------------------------

    def _start(self, cmd: _Command, script: str) -> None:
        if cmd.started:
            return
        cmd.started = True
        cmd.record.operation = script_operation(script)
        operation = cmd.record.operation
        hang = self.hang_commands and (self.hang_operations is None or operation in self.hang_operations)
        canned = self.script_output

        def work() -> None:
            try:
                if hang:  # a command that never finishes: waits until terminated
                    while not (cmd.cancel.wait(0.05) or self._stop.is_set()):
                        pass
                    raise Cancelled
                cmd.record.outcome = canned or self._runner(script, cmd.cancel, cmd.record.bootstrap)
            except Cancelled:
                cmd.record.outcome = ScriptOutcome(b"", b"terminated\r\n", 1)
            finally:
                cmd.done.set()

        _COMMANDS.run(work)

    def _shell(self, root: ET.Element) -> _Shell | None:
        with self.lock:
            return self._shells.get(selector(root))

    def _no_shell(self, root: ET.Element, message_id: str) -> Answer:
        return fault(
            self.machine,
            message_id,
            WsmanFaultSpec(
                SHELL_NOT_FOUND_CODE,
                "w:InvalidSelectors",
                f"The request for the Windows Remote Shell with ShellId {selector(root)} failed because "
                "the shell was not found on the server.",
                "s:Sender",
            ),
        )
