"""A simulated IIS farm that speaks real WS-Management: the hosts of the tests, the benchmarks and
`make demo`.

Each simulated host is a WinRM endpoint (`POST /wsman` on 127.0.0.1, SOAP 1.2, the Windows Remote
Shell resource as pywinrm speaks it: Create, Command, Send, Receive, Signal, Delete) and a web
server its sites answer on, in front of an in-memory IIS model (`iis.IisServer`): sites, apps,
pools with their state, startMode, maxProcesses, disallowOverlappingRotation, shutdownTimeLimit
and managedRuntimeVersion, worker processes with PIDs and start times, AppDomains, overlapped
recycle, on-demand start, web gardens, rapid-fail protection, hung workers, app_offline.htm, and
IIS 6 in IIS 5.0 isolation mode (one aspnet_wp.exe, no pools). It models the conservative case of
IIS's documented behaviour (docs/iis-behaviour.md), so that what passes here holds on a real
server: AppDomain ids fixed per application, PIDs reused (`processes`), warm-ups routed by port and
Host header with HTTP.sys's own 400/503/404 answers (`http_sys`), a hung worker killed by WAS at
shutdownTimeLimit, every kill counted by rapid-fail protection, hosts without the WMI provider, with
PowerShell 2.0 or with a stuck WMI repository, content on an unreachable share, ASP.NET Core in and
out of process (a dotnet.exe child), and configurable cold starts (`timing`).

Modules: `iis` (the server's state and what changes it) with `iis_objects` and `processes`;
`http_sys` and `web` (requests); `operations` (the stand-in for the scripts) with `observe` (the
prelude's steps), `rungs` (appdomain, apppool, worker) and `reads` (status, discover); `wsman`,
`wsman_wire`, `wsman_http` and `ntlm` (WinRM); `farm` (hosts from an inventory); `cli` (`aspreset sim`).

Authentication: HTTP Basic, and NTLM with WinRM message encryption through pyspnego's acceptor
(pywinrm transports `basic` and `ntlm` over http). Kerberos, CredSSP and HTTPS are not simulated.

It does not interpret PowerShell. A command's script (on stdin, or in `-EncodedCommand`) is
recognised by its marker line `# aspreset-operation: <op>`; the parameters are read from the
`$AspresetParams = '<base64 JSON>'` line; the operation runs against the model and prints the
same observations the real script prints (`bot.app.results`), one ASCII-escaped JSON line,
exit 0, failures included; `bot.app.verification` judges them as it judges a real host's. A
script without a marker exits 1 with a message on stderr. So the
simulator checks the executor, the wire and the product's logic, not the PowerShell itself (the
scripts' own tests parse them).

Faults per host at runtime (`SimHost.inject_*`): latency, 401, a SOAP fault with a WSManFault
code, commands that never finish (Receive answers the TimedOut fault until Signal/Delete), a
dropped connection, junk script output. Each host counts its HTTP requests and open shells and
keeps the exact command line and stdin bytes of every command.

    with Farm.from_inventory(inventory, timing=SimTiming.fast()) as farm:
        client = farm.client_inventory()      # every host pointed at its loopback endpoint
        farm.host("web01").inject_drop(actions=["Receive"], times=1)
"""

from bot.sim.farm import Farm, SimHost
from bot.sim.timing import SimTiming
from bot.sim.wsman import WsmanFaultSpec

__all__ = ["Farm", "SimHost", "SimTiming", "WsmanFaultSpec"]
