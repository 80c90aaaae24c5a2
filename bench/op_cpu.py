"""CPU per host operation on each side of the wire: one appdomain restart after another on one
simulated host over NTLM with message encryption, the session and shell kept (3 requests per
operation), with no injected latency and no compile time, so every millisecond counted is CPU:
the bot's (this process) and the simulator's (`aspreset sim` in its own process, read from
/proc). A rolling restart's wave of N hosts needs about N x (both numbers) of CPU, which is what
keeps waves of 50 over the ideal schedule on a 2-core machine (docs/benchmarks.md).

    .venv/bin/python bench/op_cpu.py [--ops 300]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import structlog
from rollout import ntlm, policy_text  # bench/ is on the path of a script run from it
from run import farm_toml

from bot.app.results import OperationParams
from bot.bootstrap import executor_for
from bot.config import Settings, WinRMSettings
from bot.sim.process import SimProcess
from policies.files import parse_policy


def own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def process_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ops", type=int, default=300)
    args = parser.parse_args(argv)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    with tempfile.TemporaryDirectory(prefix="aspreset-bench-") as tmp:
        farm = Path(tmp) / "farm1.toml"
        farm.write_text(farm_toml(1), encoding="utf-8")
        with SimProcess(farm, Path(tmp), "--latency-ms", "0", "--recycle-s", "0", "--cold-start-s", "0") as sim:
            inventory = ntlm(sim.wait_ready())
            settings = Settings.of(parse_policy(policy_text(1), "bench-policy.toml"), inventory, workdir=Path(tmp),
                                   winrm=WinRMSettings(command_timeout_s=60))
            executor = executor_for(settings)
            name, host = next(iter(inventory.hosts.items()))
            params = OperationParams(op="appdomain", request_id="bench", iis_site="Farm", pool="FarmPool",
                                     method="wmi-unload", fallback="mwa-unload")
            assert executor.run(name, host, params).ok  # the handshake and the shell, outside the count
            bot_before, sim_before, start = own_cpu_s(), process_cpu_s(sim.pid), time.perf_counter()
            for _ in range(args.ops):
                assert executor.run(name, host, params).ok
            wall = time.perf_counter() - start
            bot, simulator = own_cpu_s() - bot_before, process_cpu_s(sim.pid) - sim_before
    json.dump({"ops": args.ops, "wall_ms_per_op": wall * 1000 / args.ops, "bot_cpu_ms_per_op": bot * 1000 / args.ops,
               "sim_cpu_ms_per_op": simulator * 1000 / args.ops}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
