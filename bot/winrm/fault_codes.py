"""WSManFault codes (HRESULTs as unsigned ints, from wsmerror.h) and what to do about each, in a
Windows admin's words: matched by code, never by the server's English reason."""

from __future__ import annotations

ACCESS_DENIED = 0x80070005
TIMED_OUT = 0x80338029
DESTINATION_UNREACHABLE = 0x80338012
SHELL_NOT_FOUND = 0x8033805B
SECURITY_UNMAPPED = 0x8033809D
MAX_SHELLS = 0x803381A5  # ERROR_WSMAN_QUOTA_MAX_SHELLS
MAX_OPERATIONS = 0x803381A6  # ERROR_WSMAN_QUOTA_MAX_OPERATIONS
QUOTA_USER = 0x803381A7
QUOTA_SYSTEM = 0x803381A8
MAX_SHELL_USERS = 0x803381AB
MAX_SHELLS_PPQ = 0x803381E4  # the same quotas, set per plugin (WSMan:\localhost\Plugin\...\Quotas)
MAX_USERS_PPQ = 0x803381E5
MAX_OPERATIONS_USER_PPQ = 0x803381E8
MAX_COMMANDS_PER_SHELL_PPQ = 0x803381E9

_WINRS = "winrm set winrm/config/winrs"
_SERVICE = "winrm set winrm/config/service"
_PLUGIN = r"Set-Item WSMan:\localhost\Plugin\<plugin>\Quotas"
FAULT_HINTS: dict[int, str] = {
    ACCESS_DENIED: "access denied: the account needs to be in the host's Administrators group (or Remote "
    "Management Users plus rights on root\\WebAdministration); for a local account set "
    "LocalAccountTokenFilterPolicy=1 (UAC remote token filtering)",
    MAX_SHELLS: "the account has as many shells open as MaxShellsPerUser allows: wait for other sessions to "
    "end (an idle shell closes after IdleTimeout), or raise it on the host: "
    f"`{_WINRS} @{{MaxShellsPerUser=\"50\"}}`",
    MAX_OPERATIONS: "the account has as many operations running as MaxConcurrentOperationsPerUser allows: wait "
    "for other sessions to end, or raise it on the host: "
    f"`{_SERVICE} @{{MaxConcurrentOperationsPerUser=\"1500\"}}`",
    QUOTA_USER: "a per-user WinRM quota is used up (`winrm get winrm/config/winrs` shows them): wait for other "
    "sessions to end or raise the quota",
    QUOTA_SYSTEM: "a system-wide WinRM quota is used up: too many users are connected; wait, or raise "
    "MaxConcurrentUsers (`winrm get winrm/config/winrs`)",
    MAX_SHELL_USERS: "as many users as MaxConcurrentUsers allows have shells open: wait, or raise it: "
    f"`{_WINRS} @{{MaxConcurrentUsers=\"25\"}}`",
    MAX_SHELLS_PPQ: f"the plugin's MaxShellsPerUser quota is reached: `{_PLUGIN}\\MaxShellsPerUser 50`",
    MAX_USERS_PPQ: f"the plugin's MaxConcurrentUsers quota is reached: `{_PLUGIN}\\MaxConcurrentUsers 25`",
    MAX_OPERATIONS_USER_PPQ: "the plugin's MaxConcurrentCommandsPerUser quota is reached: "
    f"`{_PLUGIN}\\MaxConcurrentCommandsPerUser 1500`",
    MAX_COMMANDS_PER_SHELL_PPQ: "the plugin's MaxConcurrentCommandsPerShell quota is reached: "
    f"`{_PLUGIN}\\MaxConcurrentCommandsPerShell 1500`",
    SHELL_NOT_FOUND: "the remote shell disappeared (the WinRM service restarted or the shell's idle timeout "
    "passed): check the host, then run the status operation before repeating",
    TIMED_OUT: "WinRM timed out answering (OperationTimeout)",
    DESTINATION_UNREACHABLE: "WinRM cannot reach the destination named in the request",
    SECURITY_UNMAPPED: "the client certificate maps to no account: map it on the host "
    "(`winrm create winrm/config/service/certmapping?...`)",
}
TRANSIENT_FAULTS = frozenset({MAX_SHELLS, MAX_OPERATIONS, TIMED_OUT})
