"""Breaking a running simulated farm on purpose, one line at a time: what `aspreset sim --control`
reads on stdin, so the demo (or a person at `aspreset demo --interactive`) can make a host stop
answering or a worker hang in a farm that runs in its own process.

    silent HOST        the host's WinRM stops answering (every command runs until the bot gives up)
    hang HOST [POOL]   the pool's workers stop responding (a recycle will not finish; a kill will)
    heal HOST          the host answers again (the faults are cleared; hung workers stay hung)
    hosts              the farm's host names
    shells             each host's open WinRM shells (`web01=0 web02=1`): a bot that closed leaves none

Each line gets one answer line: `ok: ...` or `error: ...`."""

from __future__ import annotations

from bot.sim.farm import Farm

COMMANDS = ("silent", "hang", "heal", "hosts", "shells")


def apply(farm: Farm, line: str) -> str:
    words = line.split()
    if not words:
        return "error: empty line; commands: " + ", ".join(COMMANDS)
    verb, args = words[0].lower(), words[1:]
    if verb == "hosts":
        return "ok: " + " ".join(farm.hosts)
    if verb == "shells":
        return "ok: " + " ".join(f"{name}={host.open_shells}" for name, host in farm.hosts.items())
    if verb not in COMMANDS or not args:
        return f"error: {line.strip()!r}: use silent HOST, hang HOST [POOL], heal HOST, hosts or shells"
    host = farm.hosts.get(args[0])
    if host is None:
        return f"error: no host {args[0]!r}; the farm has {', '.join(farm.hosts)}"
    if verb == "silent":
        host.inject_hang()
        return f"ok: {host.name} stops answering"
    if verb == "heal":
        host.clear_faults()
        return f"ok: {host.name} answers again"
    pools = host.iis.pools
    name = args[1] if len(args) > 1 else next(iter(pools), "")
    if name not in pools:
        return f"error: {host.name} has no pool {name!r}; it has {', '.join(pools) or 'none'}"
    pids = host.iis.hang_workers(pools[name])
    return f"ok: {host.name} {name} workers {pids} hang"
