"""`aspreset serve` as its own process, as operators run it (each restart in a runner process of its
own), for the tests that start one or two of them against the fake Slack."""

from __future__ import annotations

import fcntl
import os
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from child_output import read_until
from slack_http import SIGNING_SECRET, WEBHOOK_SECRET

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@contextmanager
def serve(fake_slack, inventory: Path, db_url: str, workdir: Path, replica: str | None = None,
          env_more: dict[str, str] | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    env = dict(os.environ, SLACK_BOT_TOKEN=fake_slack.token, SLACK_SIGNING_SECRET=SIGNING_SECRET,
               SLACK_API_BASE_URL=fake_slack.base_url, ASPRESET_WEBHOOK_SECRET=WEBHOOK_SECRET, **(env_more or {}))
    env.pop("ASPRESET_CONFIG", None)
    workdir.mkdir(exist_ok=True)
    config = workdir / "aspreset.toml"
    config.write_text(f'replica = "{replica}"\n' if replica else "", encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--port", "0", "--config", str(config),
         "--policy", str(EXAMPLES / "policy.toml"), "--inventory", str(inventory), "--db", db_url],
        cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert process.stderr is not None
        port = int(read_until(process.stderr, rb"listening on 127\.0\.0\.1:(\d+) ").group(1))
        yield f"http://127.0.0.1:{port}", process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
        if process.stderr:
            process.stderr.close()


def running_message(fake_slack, *after: str) -> str:  # type: ignore[no-untyped-def]
    """The ts of the apppool restart's message once it says running (another than those `after`)."""
    running = fake_slack.wait_for(
        lambda calls: next((c for c in calls if c.method in ("chat.postMessage", "chat.update")
                            and "apppool restart" in c.body.get("text", "") and "is running" in c.body.get("text", "")
                            and (c.body.get("ts") or c.answer["ts"]) not in after), None), what="the run")
    return str(running.body.get("ts") or running.answer["ts"])


def slack_work_pid(serve_pid: int, other_than: int | None = None, deadline_s: float = 60.0) -> int:
    """The process id of `aspreset serve`'s Slack work process (its child started with
    `--slack-work`), once it runs (another than `other_than`, after a restart)."""
    deadline = time.monotonic() + deadline_s
    while True:
        for child in Path(f"/proc/{serve_pid}/task/{serve_pid}/children").read_text().split():
            try:
                argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
            except FileNotFoundError:  # it ended meanwhile
                continue
            if b"--slack-work" in argv and int(child) != other_than:
                return int(child)
        assert time.monotonic() < deadline, f"no Slack work process under serve ({serve_pid}) within {deadline_s} s"
        threading.Event().wait(0.02)  # a child appears without telling anyone: look again shortly


def queued_for(pid: int) -> int:
    """Bytes written to the process's stdin (a pipe) that it has not read yet (Linux: FIONREAD on
    the pipe opened again through /proc)."""
    fd = os.open(f"/proc/{pid}/fd/0", os.O_RDONLY | os.O_NONBLOCK)
    try:
        return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]
    finally:
        os.close(fd)
