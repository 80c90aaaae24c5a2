"""The store's errors live in the core's one tree (bot.app.errors); re-exported for the store's users."""

from bot.app.errors import LockHeld, SelfApproval, StoreUnavailable, UnknownRequest

__all__ = ["LockHeld", "SelfApproval", "StoreUnavailable", "UnknownRequest"]
