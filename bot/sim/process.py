"""A simulated farm in its own process (`aspreset sim --control`), as a team would run it beside the
bot: the bot reaches it only over WinRM on 127.0.0.1, and the caller can break it on purpose
through the control lines of bot.sim.control (the demo does). Also what benchmarks use, so that
the bot's own cost is what they measure."""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import time
from pathlib import Path

from policies.files import load_inventory
from policies.inventory import Inventory

READY = "inventory for this farm"
START_DEADLINE_S = 60.0
ANSWER_DEADLINE_S = 10.0


class SimProcess:
    def __init__(self, inventory: Path, workdir: Path, *timing_flags: str) -> None:
        self.inventory_out = workdir / "farm.toml"
        self.endpoints: list[str] = []
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "sim", "--inventory", str(inventory), "--inventory-out",
             str(self.inventory_out), "--control", *timing_flags],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env={**os.environ, "ASPRESET_CONFIG": ""},
        )
        self._pending = b""  # read from the pipe, not yet taken as lines
        self._selector = selectors.DefaultSelector()
        assert self._proc.stdout is not None
        self._selector.register(self._proc.stdout, selectors.EVENT_READ)

    @property
    def pid(self) -> int:
        return self._proc.pid

    def wait_ready(self) -> Inventory:
        """Block until every host serves; returns the client inventory the farm wrote."""
        while True:
            line = self._line(START_DEADLINE_S, "start")
            if line.startswith(READY):
                return load_inventory(self.inventory_out)
            self.endpoints.append(line.strip())

    def control(self, line: str) -> str:
        """Send one control line (`silent web01`); returns the farm's answer (`ok: ...`, `error: ...`)."""
        assert self._proc.stdin is not None
        self._proc.stdin.write(line.strip().encode() + b"\n")
        self._proc.stdin.flush()
        return self._line(ANSWER_DEADLINE_S, f"answer {line.strip()!r}").removeprefix("sim: ").strip()

    def _line(self, deadline_s: float, what: str) -> str:
        """The next line of the farm's output, waiting on the pipe (select) with a deadline; the raw
        descriptor is read so that no buffered line hides from select."""
        assert self._proc.stdout is not None
        deadline = time.monotonic() + deadline_s
        while b"\n" not in self._pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"the simulated farm did not {what} within {deadline_s:g} s")
            if self._selector.select(timeout=left):
                chunk = os.read(self._proc.stdout.fileno(), 65536)
                if not chunk:
                    raise RuntimeError(f"the simulated farm exited (code {self._proc.poll()}) before it could {what}")
                self._pending += chunk
        line, self._pending = self._pending.split(b"\n", 1)
        return line.decode(errors="replace")

    def stop(self) -> None:
        """End of its control input stops the farm; a farm that does not stop is terminated."""
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=15)
        self._selector.close()
        if self._proc.stdout is not None:
            self._proc.stdout.close()

    def __enter__(self) -> SimProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
