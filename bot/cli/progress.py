"""The CLI's progress bar: a Notifier that draws one bar per running request, a step per host, from
the same host_started / host_finished events every front end hears. Off when stdout is not a
terminal (pipes, CI, `--json`), so scripted output stays exactly the result."""

from __future__ import annotations

import sys
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from bot.app.events import EventKind, RequestEvent


class ProgressBar:
    def __init__(self, file: TextIO | None = None, *, enabled: bool | None = None) -> None:
        self.console = Console(file=file or sys.stdout)
        self.enabled = self.console.is_terminal if enabled is None else enabled
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}

    def notify(self, event: RequestEvent) -> None:
        if not self.enabled:
            return
        if event.kind == EventKind.HOST_STARTED:
            task = self._task(event)
            wave = event.detail.get("wave")
            where = f"wave {wave}/{event.detail.get('waves')}: " if wave and event.detail.get("waves", 1) > 1 else ""
            self._bar().update(task, description=f"{event.site} {event.rung}: {where}{event.host}")
        elif event.kind == EventKind.HOST_FINISHED:
            task = self._task(event)
            bar = self._bar()
            bar.advance(task)
            if event.detail.get("outcome") != "succeeded":
                bar.console.print(f"[red]{event.host} failed[/red]: {event.detail.get('error')}", markup=True,
                                  highlight=False)
        elif event.kind == EventKind.FINISHED and event.request_id in self._tasks:
            self._tasks.pop(event.request_id)
            if not self._tasks and self._progress is not None:
                self._progress.stop()
                self._progress = None

    def _bar(self) -> Progress:
        if self._progress is None:
            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=self.console, transient=True,
            )
            self._progress.start()
        return self._progress

    def _task(self, event: RequestEvent) -> TaskID:
        if event.request_id not in self._tasks:
            self._tasks[event.request_id] = self._bar().add_task(event.site, total=event.detail.get("total"))
        return self._tasks[event.request_id]

    def close(self) -> None:
        """Ends the bar, which shows the terminal's cursor again (a run abandoned mid-way)."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        self._tasks.clear()
