"""The one thread that fires every deadline: a disarmed or re-armed deadline never cuts early, and
an armed one cuts its sockets when due (waited for on a condition, with a bound)."""

from __future__ import annotations

import socket
import threading
import time

from bot.winrm.deadline import Deadline, SocketWatch


class CountingWatch(SocketWatch):
    def __init__(self) -> None:
        super().__init__()
        self.cuts = threading.Event()

    def cut(self) -> None:
        super().cut()
        self.cuts.set()


def test_an_armed_deadline_cuts_its_sockets_when_due() -> None:
    watch = CountingWatch()
    left, right = socket.socketpair()
    watch.add(left)
    deadline = Deadline(0.05, watch)
    deadline.arm()
    assert watch.cuts.wait(timeout=5), "the deadline never fired"
    assert deadline.expired
    assert left.recv(1) == b""  # shut down: a blocked read returns at once
    right.close()
    left.close()


def test_a_disarmed_deadline_never_fires_while_a_later_one_does() -> None:
    quiet, loud = CountingWatch(), CountingWatch()
    disarmed = Deadline(0.02, quiet)
    disarmed.arm()
    disarmed.disarm()
    fired = Deadline(0.1, loud)
    fired.arm()
    assert loud.cuts.wait(timeout=5)
    assert not quiet.cuts.is_set() and not disarmed.expired


def test_re_arming_moves_the_deadline_instead_of_adding_one() -> None:
    watch = CountingWatch()
    deadline = Deadline(0.02, watch)
    deadline.arm()
    deadline.arm(time.monotonic() + 0.3)  # the first arm's moment passes first: it must not fire
    probe = CountingWatch()
    Deadline(0.1, probe).arm()
    assert probe.cuts.wait(timeout=5)  # by now the first arm's moment is long gone
    assert not deadline.expired
    assert watch.cuts.wait(timeout=5) and deadline.expired
