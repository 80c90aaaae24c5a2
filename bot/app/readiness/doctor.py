"""`aspreset doctor`: read-only checks that real hosts are ready, each failing one with its fix.
Nothing here changes a host: it runs the `discover` and `status` operations only."""

from __future__ import annotations

from bot.app.errors import (
    AspresetError,
    AuthenticationFailed,
    ExecutionError,
    HostUnreachable,
    NameNotResolved,
    without_doctor_hint,
)
from bot.app.ports import Executor
from bot.app.readiness import run_one
from bot.app.readiness.views import CheckView, DoctorView
from bot.app.results import WMF_URL, DiscoverResult, OperationParams, StatusResult
from policies.inventory import Host, Inventory


def _check(host: str, name: str, ok: bool, detail: str, fix: str | None = None) -> CheckView:
    return CheckView(host=host, name=name, ok=ok, detail=detail, fix=fix)


def run_doctor(inventory: Inventory, target: str | None, executor: Executor) -> DoctorView:
    checks: list[CheckView] = []
    for name in _hosts_for(inventory, target):
        checks.extend(_check_host(inventory, name, inventory.hosts[name], executor))
    return DoctorView(ok=all(check.ok for check in checks), checks=checks)


def _hosts_for(inventory: Inventory, target: str | None) -> list[str]:
    if target is None:
        return sorted(inventory.hosts)
    if target in inventory.sites:
        return list(inventory.sites[target].hosts)
    if target in inventory.hosts:
        return [target]
    raise AspresetError(f"{target!r} is neither a site nor a host of the inventory")


def _check_host(inventory: Inventory, name: str, host: Host, executor: Executor) -> list[CheckView]:
    checks: list[CheckView] = []
    try:
        executor.prepare(name, host)
    except AspresetError as error:
        return [_check(name, "configuration", False, str(error), "fix the inventory entry or the credentials' source")]
    checks.append(_check(name, "transport encryption", *_encryption(host)))
    try:
        found = run_one(executor, name, host, OperationParams(op="discover", timeout_s=60))
    except NameNotResolved as error:  # nothing on the host can help: the name is the problem
        return [*checks, _check(name, "address resolves (DNS)", False, without_doctor_hint(error.detail, name),
                                f"check hosts.{name}.address in the inventory (the server's DNS name, its FQDN for "
                                f"Kerberos) and this machine's DNS servers and search domains: "
                                f"`getent hosts {host.address}`")]
    except HostUnreachable as error:
        return [*checks, _check(name, "WinRM reachable", False, without_doctor_hint(error.detail, name),
                                "on the host: Enable-PSRemoting; open TCP 5985/5986 in the firewall")]
    except AuthenticationFailed as error:
        return [*checks, _check(name, "authentication", False, without_doctor_hint(error.detail, name),
                                "check the user and password source, that the transport is enabled on the "
                                "listener (winrm get winrm/config/service/auth), Kerberos SPN and clock skew")]
    except ExecutionError as error:
        return [*checks, _check(name, "WinRM command", False, without_doctor_hint(error.detail, name),
                                "see docs/setup.md, common failures")]
    assert isinstance(found, DiscoverResult)
    checks.append(_check(name, "WinRM reachable and authenticated", True, f"{host.endpoint} ({host.transport})"))
    if found.error_code == "powershell_too_old":
        return [*checks, _check(name, "PowerShell version", False, found.error or "too old",
                               f"install Windows Management Framework 5.1 ({WMF_URL}) on the host, or use the "
                               "appdomain rung by hand; see docs/supported.md")]
    checks.append(_check(name, "PowerShell version", True, f"Windows PowerShell {found.powershell_version}"))
    if found.error_code == "constrained_language":
        return [*checks, _check(name, "PowerShell language mode", False, found.error or "ConstrainedLanguage",
                                "the host's application control policy (WDAC or AppLocker) locks PowerShell down; "
                                "see docs/supported.md")]
    checks.append(_iis_version(name, host, found))
    if found.ok and found.iis_major_version >= 7:
        checks.extend(_features(name, inventory, found))
    for site_name, site in sorted(inventory.sites.items()):
        if name not in site.hosts or host.iis5_isolation:
            continue
        try:
            status = run_one(executor, name, host, OperationParams(
                op="status", iis_site=site.iis_site, app_path=site.app, pool=site.pool, timeout_s=60))
        except ExecutionError as error:
            checks.append(_check(name, f"read {site_name}", False, error.detail))
            continue
        assert isinstance(status, StatusResult)
        if status.ok:
            detail = f"pool {site.pool} {status.pool_state}, {len(status.workers)} worker(s) readable"
            checks.append(_check(name, f"read {site_name}", True, detail))
        else:
            fix = ("run as a member of the local Administrators group; for a local account set "
                   "LocalAccountTokenFilterPolicy=1" if status.error_code == "access_denied"
                   else "check the inventory's iis_site, app and pool against `aspreset inventory discover`")
            checks.append(_check(name, f"read {site_name}", False, f"{status.error} [{status.error_code}]", fix))
    return checks


def _features(name: str, inventory: Inventory, found: DiscoverResult) -> list[CheckView]:
    """Optional IIS features (docs/supported.md): what is there, what is missing and what that means."""
    features = found.features
    checks = []
    if features.wmi_provider is False:
        checks.append(_check(name, "WMI provider root\\WebAdministration", True,
                            "not installed (optional): the appdomain rung unloads through Microsoft.Web.Administration "
                            "or as the policy's appdomain_fallback says; install it with "
                            "Install-WindowsFeature Web-Scripting-Tools"))
    else:
        checks.append(_check(name, "WMI provider root\\WebAdministration", True, "installed"))
    module = "installed" if features.webadministration_module else "not installed (optional, aspreset does not need it)"
    checks.append(_check(name, "WebAdministration module", True, module))
    clr = any(name in site.hosts and site.runtime == "clr" for site in inventory.sites.values())
    if features.aspnet is False and clr:
        checks.append(_check(name, "ASP.NET 4.x", False, "not installed, but the inventory has ASP.NET sites here",
                            "Install-WindowsFeature Web-Asp-Net45"))
    else:
        checks.append(_check(name, "ASP.NET 4.x", True, "installed" if features.aspnet else "not needed"))
    return checks


def _encryption(host: Host) -> tuple[bool, str, str | None]:
    if host.effective_scheme == "https":
        return True, "TLS (https)", None
    if host.transport in ("ntlm", "kerberos", "credssp"):
        return True, f"{host.transport} message encryption over http", None
    if host.lab:
        return True, "none: lab host (Basic over plain http), never for production", None
    return False, f"{host.transport} over plain http is not encrypted", "use ntlm/kerberos/credssp or an https listener"


def _iis_version(name: str, host: Host, found: DiscoverResult) -> CheckView:
    if not found.ok:
        return _check(name, "IIS administration", False, f"{found.error} [{found.error_code}]",
                     "install the IIS Management Scripts and Tools feature (WebAdministration, WMI provider)")
    version = found.iis_major_version
    if found.iis5_isolation or version < 7:
        return _check(name, "IIS version", False, f"IIS {version}: only planning and refusals, no operations",
                     "IIS 7+ with PowerShell 3+ is needed to run operations")
    return _check(name, "IIS version", True, f"IIS {version}, {len(found.sites)} site(s), {len(found.pools)} pool(s)")
