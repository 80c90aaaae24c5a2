"""Breaking a running simulated farm on purpose, one line at a time: what `aspreset sim --control`
reads on stdin, so the demo (or a person at `aspreset demo --interactive`) can make a host stop
answering or a worker hang in a farm that runs in its own process.

    silent HOST        the host's WinRM stops answering (every command runs until the bot gives up)
    hang HOST [POOL]   the pool's workers stop responding (a recycle will not finish; a kill will)
    heal HOST          the host answers again (the faults are cleared; hung workers stay hung)
    slow HOST MS       every app on the host takes MS milliseconds to answer (0: fast again)
    stop HOST [POOL]   an operator stops the pool: HTTP.sys answers 503 itself
    crash HOST [POOL]  the pool's worker crashes (five within its interval: rapid-fail stops the pool)
    leak HOST MB       the host's workers hold MB MiB of private bytes
    hosts              the farm's host names
    shells             each host's open WinRM shells (`web01=0 web02=1`): a bot that closed leaves none

Each line gets one answer line: `ok: ...` or `error: ...`."""

from __future__ import annotations

from bot.sim.farm import Farm
from bot.sim.iis import IisServer

COMMANDS = ("silent", "hang", "heal", "slow", "stop", "crash", "leak", "hosts", "shells")


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
        return (f"error: {line.strip()!r}: use silent HOST, hang HOST [POOL], heal HOST, slow HOST MS, "
                "stop HOST [POOL], crash HOST [POOL], leak HOST MB, hosts or shells")
    host = farm.hosts.get(args[0])
    if host is None:
        return f"error: no host {args[0]!r}; the farm has {', '.join(farm.hosts)}"
    if verb == "silent":
        host.inject_hang()
        return f"ok: {host.name} stops answering"
    if verb == "heal":
        host.clear_faults()
        return f"ok: {host.name} answers again"
    if verb in ("slow", "leak"):
        return _set_amount(host.iis, host.name, verb, args[1:])
    pools = host.iis.pools
    name = args[1] if len(args) > 1 else next(iter(pools), "")
    if name not in pools:
        return f"error: {host.name} has no pool {name!r}; it has {', '.join(pools) or 'none'}"
    if verb == "stop":
        host.iis.stop_pool_after(pools[name], 0.0)
        return f"ok: {host.name} {name} stopped"
    if verb == "crash":
        host.iis.crash(pools[name])
        return f"ok: {host.name} {name} worker crashed ({host.iis.state(pools[name])})"
    pids = host.iis.hang_workers(pools[name])
    return f"ok: {host.name} {name} workers {pids} hang"


def _set_amount(iis: IisServer, host: str, verb: str, args: list[str]) -> str:
    try:
        amount = float(args[0]) if args else -1.0
    except ValueError:
        amount = -1.0
    if amount < 0:
        unit = "MS (milliseconds)" if verb == "slow" else "MB (MiB)"
        return f"error: {verb} {host} needs a number of {unit}, 0 or more"
    with iis.lock:
        if verb == "slow":
            for site in iis.sites.values():
                for app in site.apps.values():
                    app.answer_delay_s = amount / 1000
            return f"ok: {host} answers after {amount:g} ms"
        for pool in iis.pools.values():
            for worker in pool.workers:
                worker.private_bytes = int(amount * 1024 * 1024)
    return f"ok: {host} workers hold {amount:g} MiB"
