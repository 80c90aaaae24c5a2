"""An unexpected error in the Slack edge is one sentence to the person, with an incident id that
the log has in full (bot/app/incidents.py), never silence and never a traceback. Bolt routes errors
in middleware and ack functions to `@app.error`; errors in lazy listeners are only logged by Bolt,
so each lazy listener is wrapped with `answered`."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from slack_bolt import App, Respond

from bot.app.incidents import incident_view
from bot.slack.replies import render_reply


def tell_incident(error: BaseException, respond: Callable[..., Any] | None, **context: object) -> None:
    view = incident_view(error, edge="slack", **context)
    if respond is not None:
        rendered = render_reply(view)
        try:
            respond(text=rendered.text, blocks=rendered.blocks, response_type="ephemeral", replace_original=False)
        except Exception:  # Slack away too: the log has the incident
            return


def answered(work: Callable[..., None]) -> Callable[..., None]:
    """A lazy listener whose unexpected error is told to the person (when it has `respond`)."""

    @functools.wraps(work)  # Bolt reads the argument names through __wrapped__
    def guarded(*args: Any, **kwargs: Any) -> None:
        try:
            work(*args, **kwargs)
        except Exception as error:
            respond = kwargs.get("respond") or next((a for a in args if isinstance(a, Respond)), None)
            tell_incident(error, respond, listener=work.__name__)

    return guarded


def register(app: App) -> None:
    @app.error
    def on_error(error: Exception, body: dict[str, Any], respond: Callable[..., Any] | None) -> None:
        tell_incident(error, respond, payload_type=str(body.get("type") or body.get("command") or "?"))
