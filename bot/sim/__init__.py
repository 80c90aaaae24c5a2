"""A simulated IIS farm that speaks real WS-Management: the hosts of the tests, the benchmarks and
`make demo`. Each host is a WinRM endpoint on 127.0.0.1 (Basic, or NTLM with message encryption)
and a web server its sites answer on, in front of an in-memory IIS model that plays the conservative
case of IIS's documented behaviour. It does not interpret PowerShell: a script is recognised by its
`# aspreset-operation: <op>` marker and answered with the observations the real script prints.
What it models, its faults and its modules: docs/testing.md, "The simulated farm".

    with Farm.from_inventory(inventory, timing=SimTiming.fast()) as farm:
        client = farm.client_inventory()      # every host pointed at its loopback endpoint
        farm.host("web01").inject_drop(actions=["Receive"], times=1)
"""

from bot.sim.farm import Farm, SimHost
from bot.sim.timing import SimTiming
from bot.sim.wsman import WsmanFaultSpec

__all__ = ["Farm", "SimHost", "SimTiming", "WsmanFaultSpec"]
