"""The scope ladder: how much of a server a restart touches, narrowest first."""

from __future__ import annotations

from enum import StrEnum


class Rung(StrEnum):
    NONE = "none"
    APPDOMAIN = "appdomain"
    APPPOOL = "apppool"
    WORKER = "worker"
    SERVER = "server"

    @property
    def order(self) -> int:
        return _ORDER[self]

    def wider_than(self, other: Rung) -> bool:
        return self.order > other.order

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Rung):
            return NotImplemented
        return self.order < other.order

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Rung):
            return NotImplemented
        return self.order <= other.order

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Rung):
            return NotImplemented
        return self.order > other.order

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Rung):
            return NotImplemented
        return self.order >= other.order


_ORDER = {rung: index for index, rung in enumerate(Rung)}

EXECUTABLE_RUNGS = (Rung.NONE, Rung.APPDOMAIN, Rung.APPPOOL, Rung.WORKER)
