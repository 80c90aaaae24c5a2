"""The simulator's reused daemon threads: a task never waits behind another, an idle thread is
reused instead of starting a new one, and a task that raises does not cost the thread."""

from __future__ import annotations

import threading

from bot.sim.threads import DaemonThreads

DEADLINE_S = 5.0


def test_a_task_runs_at_once_even_while_another_is_blocked():
    threads = DaemonThreads("test")
    release, second_ran = threading.Event(), threading.Event()
    threads.run(lambda: release.wait(DEADLINE_S) and None)  # holds its thread until released
    threads.run(second_ran.set)
    assert second_ran.wait(DEADLINE_S), "the second task waited behind the first"
    assert threads.started == 2
    release.set()


def test_an_idle_thread_is_reused_even_after_a_task_that_raised():
    threads = DaemonThreads("test")
    ran: list[int] = []

    def fails() -> None:
        ran.append(threading.get_ident())
        raise RuntimeError("a task reports its own failures")

    for task in (fails, lambda: ran.append(threading.get_ident()), fails):
        threads.run(task)
        assert threads.wait_idle(1, DEADLINE_S)
    assert len(ran) == 3 and len(set(ran)) == 1 and threads.started == 1
