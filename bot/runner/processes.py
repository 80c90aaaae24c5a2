"""The RunsApart port with processes: each run goes to a runner process (bot/runner/worker.py) started
in a session of its own, so that nothing sent to the front end's process group (an MCP client's
shutdown, Ctrl-C in a terminal) reaches it; the front end follows its lines and hands each event to
its own Notifier, on the thread that asked for the run.

At most `max_runners` run at once per front end (one bounded pool per process: past it a run waits
its turn), and one more is kept warm: started ahead, its modules imported, waiting for its job on
stdin, so a run does not pay the interpreter's start (about a second). A warm runner whose front
end stops sees its stdin close and exits having done nothing."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable, Sequence

import structlog

from bot.app.events import RequestEvent
from bot.app.ports import Metrics, NoMetrics
from bot.app.views import RequestView
from bot.runner.worker import job_line

log = structlog.get_logger("aspreset.runner")

MAX_RUNNERS = 8


class ProcessRuns:
    def __init__(self, argv: Sequence[str], *, max_runners: int = MAX_RUNNERS, keep_warm: bool = True,
                 metrics: Metrics | None = None) -> None:
        """`argv` starts a runner with the front end's own files (e.g. `aspreset serve --run-one
        --config FILE`); the environment is inherited. `metrics` counts the runners' WinRM failures."""
        self._argv = list(argv)
        self._metrics = metrics or NoMetrics()
        self._slots = threading.BoundedSemaphore(max_runners)
        self._lock = threading.Lock()
        self._keep_warm = keep_warm
        self._closed = False
        self._warm = self._start() if keep_warm else None

    def run(self, request_id: str, hear: Callable[[RequestEvent], None]) -> RequestView | None:
        with self._slots:
            process = self._hand_job(request_id)
            return self._follow(process, request_id, hear) if process is not None else None

    @property
    def warm_pid(self) -> int | None:
        """The process id of the runner waiting for the next job, if one waits."""
        with self._lock:
            return self._warm.pid if self._warm is not None else None

    def close(self) -> None:
        """Let the warm runner go (its stdin closes: it exits). Runs in flight are not touched: each
        one's caller waits for its end."""
        with self._lock:
            self._closed = True
            warm, self._warm = self._warm, None
        if warm is not None:
            _close_stdin(warm)
            try:
                warm.wait(timeout=30)
            except subprocess.TimeoutExpired:
                log.warning("warm_runner_not_ended", pid=warm.pid)

    def _start(self) -> subprocess.Popen[str]:
        return subprocess.Popen(self._argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                start_new_session=True)

    def _take(self) -> subprocess.Popen[str]:
        """The warm runner if it is still waiting, else a new one."""
        with self._lock:
            process, self._warm = self._warm, None
        if process is None or process.poll() is not None:
            process = self._start()
        return process

    def _keep_one_waiting(self) -> None:
        """Start the next warm runner, once the job is handed over (its imports then compete with
        nothing the run needs first)."""
        with self._lock:
            if self._keep_warm and not self._closed and self._warm is None:
                self._warm = self._start()

    def _hand_job(self, request_id: str) -> subprocess.Popen[str] | None:
        for attempt in (1, 2):
            process = self._take()
            try:
                assert process.stdin is not None
                process.stdin.write(job_line(request_id))
                process.stdin.close()
                self._keep_one_waiting()
                return process
            except OSError:  # it died while it waited (e.g. killed): the next one takes the job
                log.warning("runner_gone_before_its_job", pid=process.pid, attempt=attempt)
                process.wait()
        log.error("no_runner_took_the_job", request_id=request_id)
        return None

    def _follow(self, process: subprocess.Popen[str], request_id: str,
                hear: Callable[[RequestEvent], None]) -> RequestView | None:
        """Every line until the runner ends (so its pipe never fills); the view it answered, if any."""
        assert process.stdout is not None
        answer: RequestView | None = None
        for raw in process.stdout:
            try:
                line = json.loads(raw)
                if "event" in line:
                    hear(RequestEvent.model_validate(line["event"]))
                elif "winrm_error" in line:
                    self._count_winrm_error(line["winrm_error"])
                elif "result" in line:
                    answer = RequestView.model_validate(line["result"])
                else:
                    log.error("runner_failed", request_id=request_id, pid=process.pid, error=line.get("error"))
            except ValueError:  # pydantic's ValidationError is one too
                log.warning("runner_line_unreadable", request_id=request_id, line=raw[:200])
        process.stdout.close()
        code = process.wait()
        if answer is None:
            log.error("runner_ended_without_answer", request_id=request_id, pid=process.pid, exit_code=code)
        return answer

    def _count_winrm_error(self, failed: object) -> None:
        if isinstance(failed, dict):
            fault = failed.get("fault")
            self._metrics.count_winrm_error(str(failed.get("op")), str(failed.get("code")),
                                            fault if isinstance(fault, int) else None)


def _close_stdin(process: subprocess.Popen[str]) -> None:
    try:
        if process.stdin is not None:
            process.stdin.close()
    except OSError:
        pass
