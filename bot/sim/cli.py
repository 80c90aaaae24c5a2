"""`aspreset sim`: serve a simulated farm in the foreground until SIGINT/SIGTERM."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import tomli_w

from bot.sim.farm import Farm
from bot.sim.timing import SimTiming
from policies.files import FileError, load_inventory
from policies.inventory import Inventory


def inventory_toml(inventory: Inventory) -> str:
    """The inventory as TOML, in the shape `policies.files.load_inventory` reads."""
    data: dict[str, Any] = inventory.model_dump(mode="json", exclude_none=True, exclude_defaults=False)
    header = (
        "# Written by `aspreset sim`: every host points at its simulated WinRM endpoint on 127.0.0.1\n"
        "# (Basic over HTTP, lab credentials valid only while this farm runs).\n"
    )
    return header + tomli_w.dumps(data)


def run(
    inventory_path: str | Path | None,
    inventory_out_path: str | Path,
    hosts: int | None = None,
    *,
    timing: SimTiming | None = None,
    latency_s: float = 0.0,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    ready: threading.Event | None = None,
    stop: threading.Event | None = None,
    control: TextIO | None = None,
) -> int:
    """Serve the farm for `inventory_path` (plus generated hosts up to `hosts` in all; with no
    inventory, `hosts` generated ones), write the client inventory to `inventory_out_path`, print
    one line per host, and block until SIGINT/SIGTERM (or `stop` is set). Returns the exit code."""
    try:
        inventory = load_inventory(inventory_path) if inventory_path else Inventory(hosts={}, sites={})
    except FileError as error:
        print(f"aspreset sim: {error}", file=err)
        return 2
    if hosts is not None and hosts < 1:
        print("aspreset sim: --hosts must be at least 1", file=err)
        return 2
    if not inventory.hosts and not hosts:
        print("aspreset sim: give --inventory FILE, --hosts N, or both", file=err)
        return 2
    extra = max(0, (hosts or 0) - len(inventory.hosts))
    stop = stop or threading.Event()
    previous = _on_signals(stop)
    try:
        # Cold starts of seconds unless told otherwise: a real app is not a 50 ms lab figure.
        with Farm.from_inventory(inventory, extra_hosts=extra, timing=timing or SimTiming.interactive()) as farm:
            for sim in farm.hosts.values():
                sim.inject_latency(latency_s)  # every WS-Management answer, as a network away would
            out_path = Path(inventory_out_path)
            try:
                out_path.write_text(inventory_toml(farm.client_inventory()), encoding="utf-8")
            except OSError as error:
                print(f"aspreset sim: cannot write {out_path} ({error.strerror})", file=err)
                return 2
            for name, sim in farm.hosts.items():
                iis = f"IIS {sim.iis.iis_major_version}" + (" (IIS 5 isolation)" if sim.iis.iis5_isolation else "")
                print(f"{name}: winrm {sim.endpoint}  http {sim.warmup_base_url}  {iis}", file=out)
            print(f"inventory for this farm: {out_path} (Ctrl-C stops the farm)", file=out, flush=True)
            if ready is not None:
                ready.set()
            if control is not None:
                threading.Thread(target=_read_control, args=(farm, control, out, stop), daemon=True).start()
            while not stop.wait(0.2):
                pass
    finally:
        _restore(previous)
    return 0


def _read_control(farm: Farm, lines: TextIO, out: TextIO, stop: threading.Event) -> None:
    """One answer line per control line (bot.sim.control); end of input stops the farm."""
    from bot.sim.control import apply

    for line in lines:
        print(f"sim: {apply(farm, line)}", file=out, flush=True)
    stop.set()


def _on_signals(stop: threading.Event) -> dict[int, Any]:
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous: dict[int, Any] = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.signal(signum, handler)
    return previous


def _restore(previous: dict[int, Any]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)
