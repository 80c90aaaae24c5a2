"""The WS-Management wire format the simulated WinRM service speaks: namespaces, actions, the SOAP
envelope, faults (MS-WSMV; learnt from pywinrm's tests, winrm/tests/conftest.py)."""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Literal
from xml.sax.saxutils import escape

from bot.sim.ntlm import CONTENT_TYPE as NTLM_CONTENT_TYPE

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
}
SHELL_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"
_TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer/"
_SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/"
ACTIONS = {
    _TRANSFER + "Create": "Create",
    _TRANSFER + "Delete": "Delete",
    _SHELL + "Command": "Command",
    _SHELL + "Send": "Send",
    _SHELL + "Receive": "Receive",
    _SHELL + "Signal": "Signal",
}
Action = Literal["Create", "Delete", "Command", "Send", "Receive", "Signal"]

TIMED_OUT_CODE = 2150858793  # 0x80338029 ERROR_WSMAN_OPERATION_TIMEDOUT
SHELL_NOT_FOUND_CODE = 2150858843  # 0x8033805B: the shell was not found on the server
QUOTA_CODE = 2150859174  # 0x803381A6: MaxConcurrentOperationsPerUser exceeded
NOT_SUPPORTED_CODE = 2150858752  # 0x80338000

_ENVELOPE = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<s:Envelope xml:lang="en-US" xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
    'xmlns:x="http://schemas.xmlsoap.org/ws/2004/09/transfer" '
    'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" '
    'xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell" '
    'xmlns:p="http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd">'
    "<s:Header><a:Action>{action}</a:Action><a:MessageID>uuid:{message_id}</a:MessageID>"
    "<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>"
    "<a:RelatesTo>{relates_to}</a:RelatesTo></s:Header><s:Body>{body}</s:Body></s:Envelope>"
)
SOAP_CONTENT_TYPE = "application/soap+xml;charset=UTF-8"
ENCRYPTED_TYPE = NTLM_CONTENT_TYPE
Answer = tuple[int, list[tuple[str, str]], bytes]
UNAUTHORIZED: Answer = (401, [("WWW-Authenticate", "Negotiate"), ("WWW-Authenticate", 'Basic realm="WSMAN"')], b"")
_ENCODED = re.compile(r"-enc(?:odedcommand)?\s+([A-Za-z0-9+/=]+)", re.IGNORECASE)


@dataclass(frozen=True)
class WsmanFaultSpec:
    """A SOAP fault to answer with (HTTP 500). Defaults: the per-user operations quota."""

    code: int = QUOTA_CODE
    subcode: str = "w:QuotaLimit"
    reason: str = "The WS-Management service cannot process the request: the maximum number of concurrent operations for this user has been exceeded."  # noqa: E501
    value: str = "s:Receiver"



def envelope(action: str, relates_to: str, body: str) -> Answer:
    text = _ENVELOPE.format(action=action, message_id=uuid.uuid4(), relates_to=escape(relates_to), body=body)
    return 200, [("Content-Type", SOAP_CONTENT_TYPE)], text.encode("utf-8")


def fault(machine: str, relates_to: str, spec: WsmanFaultSpec) -> Answer:
    body = (
        f"<s:Fault><s:Code><s:Value>{escape(spec.value)}</s:Value><s:Subcode><s:Value>"
        f"{escape(spec.subcode)}</s:Value></s:Subcode></s:Code><s:Reason>"
        f'<s:Text xml:lang="en-US">{escape(spec.reason)}</s:Text></s:Reason><s:Detail>'
        f'<f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" '
        f'Code="{spec.code}" Machine="{escape(machine)}"><f:Message>{escape(spec.reason)}'
        "</f:Message></f:WSManFault></s:Detail></s:Fault>"
    )
    text = _ENVELOPE.format(
        action="http://schemas.dmtf.org/wbem/wsman/1/wsman/fault",
        message_id=uuid.uuid4(),
        relates_to=escape(relates_to),
        body=body,
    )
    return 500, [("Content-Type", SOAP_CONTENT_TYPE)], text.encode("utf-8")


def text_of(node: ET.Element | None, path: str) -> str:
    if node is None:
        return ""
    found = node.find(path, NS)
    return (found.text or "").strip() if found is not None else ""


def selector(root: ET.Element) -> str:
    for selector in root.iterfind("s:Header/w:SelectorSet/w:Selector", NS):
        if selector.get("Name") == "ShellId":
            return (selector.text or "").strip()
    return ""


_DURATION = re.compile(r"^PT(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?$")


def duration(text: str) -> float | None:
    """An xs:duration such as PT20S or PT1M30.5S, in seconds."""
    match = _DURATION.match(text)
    if not match:
        return None
    minutes, seconds = match.groups()
    return float(minutes or 0) * 60 + float(seconds or 0)

