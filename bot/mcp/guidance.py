"""What an assistant reads about what happens next. The core's views say it for people (`/recycle
approve r-...`, `aspreset status shop-web`); an assistant with a shell could run those commands, so
its answers name no command and no way to approve: only that a person must approve, and where, and
which tool follows the request."""

from __future__ import annotations

from collections.abc import Callable

from bot.app.errors import AspresetError
from bot.app.service import Service
from bot.app.views import ErrorView, RequestView

WhereApproved = Callable[[Service, str], str]
"""(service, site) -> where a person approves a waiting request of that site, in words."""


def at_the_terminal(service: Service, site: str) -> str:
    """Where a person approves when no chat front end posts the request (stdio)."""
    return "a person must approve it at the bot's terminal"


def in_slack(service: Service, site: str) -> str:
    """Where a person approves when the Slack front end posts approval requests to the site's channel:
    by the channel's name when the service can tell it (Slack's ChannelNames), else by its site. A raw
    channel id means nothing to a model or its user."""
    entry = service.inventory.sites.get(site)
    channel = getattr(entry, "channel", None) if entry is not None else None
    if not channel:
        return at_the_terminal(service, site)
    name = service.channel_names.channel_name(channel) if service.channel_names is not None else None
    where = f"the Slack channel #{name}" if name else f"{site}'s Slack channel"
    return f"the approval request was posted in {where}; a person must approve it there"


def next_step(view: RequestView, where_approved: str) -> str | None:
    """The next step for an assistant, in words and tool names only."""
    state = view.state
    if state == "awaiting_approval":
        return where_approved
    if state == "approved":
        return "it is approved and starts when the bot picks it up; follow it with get_request"
    if state == "running":
        return "it is running; follow it with get_request until it ends"
    if state in ("failed", "partially_failed"):
        untouched = f" ({', '.join(view.untouched)} were not restarted)" if view.untouched else ""
        return (f"see each host's error{untouched}; site_status shows where the hosts stand now. A person "
                "decides whether to resume the rollout")
    if state == "interrupted":
        return interrupted(view)
    return None


def interrupted(view: RequestView) -> str:
    """Which hosts are done, which nobody knows about, and that a person finishes the rest."""
    done = [h.host for h in view.hosts if h.outcome == "succeeded"]
    failed = [h.host for h in view.hosts if h.outcome == "failed"]
    said = [f"finished: {', '.join(done) or 'none'}"]
    if failed:
        said.append(f"failed: {', '.join(failed)}")
    if view.in_flight:
        said.append(f"restarting when it was cut off, state unknown: {', '.join(view.in_flight)} (site_status "
                    "shows where they stand)")
    if view.untouched:
        said.append(f"never started: {', '.join(view.untouched)}")
    left = [h.host for h in view.hosts if h.outcome != "succeeded"]
    todo = (f"a person decides whether to finish it on {', '.join(left)} only (never the hosts already done)"
            if left else "nothing is left to restart")
    return f"the bot stopped while this ran; {'; '.join(said)}. It is never re-run by itself: {todo}"


def for_assistant(view: RequestView, where_approved: str) -> RequestView:
    """The view with the people's commands (next step, resume and retry commands) replaced."""
    return view.model_copy(update={"next_step": next_step(view, where_approved), "resume": None, "retry": None})


REFUSAL_SUGGESTION = (
    "Ask for the narrow restart instead: plan_restart with the files that changed restarts one app (appdomain); "
    "reason gac, memory or locked-file recycles its pool (apppool); reason hung kills only its pool's worker "
    "(worker, after a person approves)."
)

# The people's words in the core's messages, and the same thing in an assistant's words.
_CLI_WORDS = (
    ("`aspreset requests` lists them", "list_requests lists them"),
    ("`requests` lists them", "list_requests lists them"),
    ("Try `/recycle help`.", ""),
    ("--changed", "changed_files"),
    ("--reason", "reason"),
    ("--note", "note"),
)


def in_assistant_words(message: str) -> str:
    """A core message without CLI commands or options: the tool's own argument and tool names."""
    for cli, tool in _CLI_WORDS:
        message = message.replace(cli, tool)
    return message.strip()


def locked(service: Service, principal_id: str, error: ErrorView) -> str:
    """A `locked` refusal in words an assistant can act on: which request holds the site, whose it
    is, until when, and what to do about it (from the error's `holder`, never its sentence)."""
    if error.holder is None:
        return error.message
    try:
        holder = service.queries.get_request(error.holder.request_id)
    except AspresetError:
        return error.message
    whose = "your own request" if holder.requester == principal_id else f"a request by {holder.requester_display}"
    what = f"{holder.rung} restart of {holder.site}"
    if holder.state == "awaiting_approval":
        until = f" until {error.holder.until:%H:%M} UTC" if error.holder.until else ""
        state = f"waiting for approval{until}, when it expires and frees the hosts"
    elif holder.state == "approved":
        state = "approved and about to run"
    else:
        state = f"{holder.state} until it ends"
    todo = ("cancel_request withdraws it, then ask again" if holder.requester == principal_id and holder.waiting
            else "wait until it ends (get_request follows it), then ask again")
    return f"locked: {holder.id} ({what}) is {whose}, {state}; {todo}"
