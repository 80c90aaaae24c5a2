"""What a run's record of its hosts costs (bot/app/hosts_record.py): each write replaces the running
request's `result` with the whole picture so far (every finished host's outcome, the hosts of every
wave begun), so a write grows with the hosts finished. This times `Store.record_hosts` for a request
of `--hosts` hosts on SQLite (a file, as `serve` keeps it) and, with `--pg URL`, on PostgreSQL:

- one write with 1, half and all of the hosts finished (median of `--repeat`);
- the worst case of a whole run: one write per host, none coalesced (the writer thread writes once
  for however many ends came meanwhile, so a real run writes fewer), and the wave writes the
  rollout waits for (one per wave).

    .venv/bin/python bench/hosts_record.py [--hosts 200] [--wave 50] [--repeat 20] [--pg URL]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from bot.app.records import NewRequest
from bot.store import SqlStore
from commands.rungs import Rung


def outcome(index: int) -> dict[str, Any]:
    """A finished host as a run records it (the size of a real recycle's outcome)."""
    return {"host": f"sim{index:03d}", "rung": "apppool", "method": "recycle", "outcome": "succeeded",
            "pids_before": [4000 + index], "pids_after": [9000 + index], "appdomain_before": None,
            "appdomain_after": None, "warmup_status": 200, "warmup_ms": 812, "duration_ms": 2931,
            "error": None, "error_code": None, "evidence": ["pid_changed", "warmup_ok"], "notes": [],
            "workers_before": [{"pid": 4000 + index, "started_at": "2026-12-07T11:58:01.123456+00:00"}],
            "workers_after": [{"pid": 9000 + index, "started_at": "2026-12-07T12:00:03.654321+00:00"}],
            "warmup_url": "http://127.0.0.1/", "warmup_server": "Microsoft-IIS/10.0", "app_offline": False}


def measure(url: str, hosts: int, wave: int, repeat: int) -> dict[str, Any]:
    names = [f"sim{i:03d}" for i in range(hosts)]
    finished = [outcome(i) for i in range(hosts)]
    now = datetime.now(UTC)
    with SqlStore(url) as store:
        def running() -> str:
            request = store.create_request(NewRequest(site="farm", rung=Rung.APPPOOL, hosts=tuple(names),
                                                      pool="FarmPool", requester="U01ALICE", origin="bench"), (), now)
            assert store.claim_for_run(request.id, now, owner="bench")
            return request.id

        def write_ms(request_id: str, done: int) -> float:
            started = time.perf_counter()
            assert store.record_hosts(request_id, {"hosts": finished[:done], "dispatched": names})
            return (time.perf_counter() - started) * 1000

        request_id = running()
        one = {f"{done} finished": round(statistics.median(write_ms(request_id, done) for _ in range(repeat)), 2)
               for done in sorted({1, hosts // 2, hosts})}
        request_id = running()
        started = time.perf_counter()
        for index in range(0, hosts, wave):  # the waves the rollout waits for
            write_ms(request_id, index)
        waves_s = time.perf_counter() - started
        for done in range(1, hosts + 1):
            write_ms(request_id, done)
        return {"one write (ms)": one, "wave writes, total (ms)": round(waves_s * 1000, 1),
                "a write per host, total (s)": round(time.perf_counter() - started - waves_s, 2),
                "bytes of the full picture": len(json.dumps({"hosts": finished, "dispatched": names}))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--wave", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--pg", help="a PostgreSQL URL (a database the bench may write requests to)")
    args = parser.parse_args(argv)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))  # no audit lines
    results: dict[str, Any] = {"hosts": args.hosts, "wave": args.wave}
    with tempfile.TemporaryDirectory(prefix="aspreset-bench-") as tmp:
        results["sqlite"] = measure(f"sqlite:///{Path(tmp) / 'bench.db'}", args.hosts, args.wave, args.repeat)
    if args.pg:
        results["postgresql"] = measure(args.pg, args.hosts, args.wave, args.repeat)
    json.dump(results, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
