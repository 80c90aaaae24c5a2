"""Where the work on this thread came from in Slack: the channel, the person, the message a click
was on, the thread a follow-up belongs in. A listener sets it around one call into the core; the
Notifier (called on the same thread, per the port's contract) reads it to know which message a
request's events belong to, and records which events it heard (a click that caused none changed
nothing: it was already handled)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from bot.app.views import RequestView


@dataclass(frozen=True)
class PostOutcome:
    """How posting a request's channel message went."""

    channel: str  # where it went (or was refused)
    ts: str | None  # None: Slack refused it, or could not be reached
    error: str | None = None  # Slack's error code: not_in_channel, channel_not_found, is_archived, ...
    permalink: str | None = None
    refused_by: tuple[str, str] | None = None  # (the site's channel, its error) when it went elsewhere instead


@dataclass
class SlackOrigin:
    channel: str | None = None
    user: str | None = None
    message_ts: str | None = None  # the message a click was on (the request's own message)
    thread_ts: str | None = None  # where a new request's message goes (a deploy notice's thread)
    heard: list[str] = field(default_factory=list)  # event kinds heard during the call
    # told (on the Notifier's reply thread) once the message of a request made here was posted or refused
    on_posted: Callable[[RequestView, PostOutcome], None] | None = None
    posting: list[str] = field(default_factory=list)  # requests whose new message is on its way


_current: ContextVar[SlackOrigin | None] = ContextVar("aspreset_slack_origin", default=None)


@contextmanager
def working_for(origin: SlackOrigin) -> Iterator[SlackOrigin]:
    token = _current.set(origin)
    try:
        yield origin
    finally:
        _current.reset(token)


def current() -> SlackOrigin | None:
    return _current.get()
