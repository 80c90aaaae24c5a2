r"""Chat text -> Command. Shared by Slack, the CLI's `say` and MCP, so all three agree on words.

Quoting works as a shell user expects (shlex), Slack's smart quotes included, except that a
backslash is a plain character: Windows paths (`App_Data\settings.xml`, `\\web01\c$\...`) arrive
as typed. The limits are commands.limits', checked by the command types. Server-wide requests
(IISRESET and friends) parse to a `ServerWideRequest` so the bot can refuse them with the reason
and the narrow alternative; nothing downstream can execute one.
"""

from __future__ import annotations

import difflib
import re
import shlex
from collections.abc import Callable

from commands.limits import MAX_TEXT, LimitExceeded
from commands.model import (
    Approve,
    Command,
    Deny,
    Help,
    ListRequests,
    ListSites,
    Reason,
    RestartRequest,
    ServerWideRequest,
    Status,
)
from commands.reasons import UnknownReason, parse_reason
from commands.rungs import Rung

SLASH_COMMANDS = ("/recycle", "/aspreset")
VERBS = ("recycle", "plan", "status", "approve", "deny", "sites", "requests", "help")
RESTART_OPTIONS = ("--scope", "--reason", "--note", "--changed", "--host", "--from", "--dry-run")
MANY_VALUES = {"--changed": "path, e.g. --changed bin/Shop.Web.dll",  # each takes one or more values
               "--host": "host of the site, e.g. --host web01 web03"}
DENY_OPTIONS = ("--reason",)


class ParseError(ValueError):
    """The text is not a command. The message says what was wrong and what would be right."""

    def __init__(self, message: str, suggestions: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.suggestions = suggestions


# (pattern, what it is). Matched against the command words only, never against a --reason text.
_SERVER_WIDE: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), what)
    for pattern, what in (
        (r"\biisreset(\.exe)?\b", "IISRESET"),
        (r"\bnet(\.exe)?\s+(stop|start)\s+(w3svc|was|iisadmin)\b", "stopping an IIS service"),
        (r"\b(stop|restart)-service\b.*\b(w3svc|was|iisadmin)\b", "stopping an IIS service"),
        (r"\btaskkill(\.exe)?\b.*\b(w3wp|aspnet_wp)(\.exe)?\b", "killing every worker process"),
        (r"\bstop-process\b.*-(process)?name\s+['\"]?(w3wp|aspnet_wp)\b", "killing every worker process"),
        (r"\bmachine\.config\b", "editing machine.config"),
        (r"(^|\s)(reboot|restart-computer|shutdown(\.exe)?)(\s|$)", "rebooting the server"),
    )
)

_SMART_DOUBLE = str.maketrans({"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"'})
_SMART_SINGLE_PAIR = re.compile("\u2018([^\u2018\u2019]*)\u2019")


def normalise_quotes(text: str) -> str:
    """Slack turns quotes into typographic ones. Double ones always quote; a single ‘...’ pair
    quotes; a lone ’ is an apostrophe (it's) and stays a plain character."""
    return _SMART_SINGLE_PAIR.sub(r"'\1'", text.translate(_SMART_DOUBLE))


def parse(text: str) -> Command:
    if len(text) > MAX_TEXT:
        raise ParseError(f"the command is {len(text)} characters long; at most {MAX_TEXT} are read")
    normalised = normalise_quotes(text.replace("\u00a0", " ")).strip()
    try:
        words = split_words(normalised)
    except ValueError as error:
        server_wide = _server_wide(normalised.split())
        if server_wide:
            return server_wide
        raise ParseError(f"could not read the quoting ({error}); close every quote you open") from None
    server_wide = _server_wide(_without_values(words))
    if server_wide:
        return server_wide
    try:
        return _parse_words(words)
    except LimitExceeded as error:
        raise ParseError(error.message) from None


def split_words(text: str) -> list[str]:
    """Shell-like words where quotes group and a backslash is just a character (a Windows path)."""
    lexer = shlex.shlex(text, posix=True)
    lexer.whitespace_split = True
    lexer.escape = ""  # no escape character at all: C:\Windows\... stays as typed
    lexer.commenters = ""
    return list(lexer)


def _without_values(words: list[str]) -> list[str]:
    """The words a command is made of, without the free text of --reason/--note and the paths of
    --changed (a changed machine.config is the planner's to refuse, the same in every front end)."""
    kept: list[str] = []
    skip_one = in_changed = False
    for word in words:
        if skip_one:
            skip_one = False
            continue
        if in_changed and not word.startswith("--"):
            continue
        in_changed = False
        if word in ("--reason", "--note", "--changed"):
            skip_one, in_changed = word != "--changed", word == "--changed"
            continue
        if word.startswith(("--reason=", "--note=", "--changed=")):
            in_changed = word.startswith("--changed=")
            continue
        kept.append(word)
    return kept


def server_wide_action(text: str) -> ServerWideRequest | None:
    """The server-wide action anywhere in `text` (a free-text note, say), if it names one."""
    return _server_wide(normalise_quotes(text).split())


def _server_wide(words: list[str]) -> ServerWideRequest | None:
    joined = " ".join(words)
    for pattern, what in _SERVER_WIDE:
        if pattern.search(joined):
            return ServerWideRequest(text=joined, what=what)
    return None


def _parse_words(words: list[str]) -> Command:
    if words and words[0].lower() == "/help":  # the chat console's own `/help`
        return _parse_help("help", words[1:])
    from_slash = bool(words) and words[0].lower() in SLASH_COMMANDS
    if from_slash:
        words = words[1:]
    if not words:
        return Help()
    verb = words[0].lower()
    if verb in VERBS:
        args = words[1:]
    elif from_slash:
        # `/recycle SITE ...` is the short form of `/recycle recycle SITE ...`.
        if len(words) > 1 and not words[1].startswith("-") and _close(verb, VERBS):
            raise _unknown("command", words[0], VERBS)
        verb, args = "recycle", words
    else:
        raise _unknown("command", words[0], VERBS)
    return _VERB_PARSERS[verb](verb, args)


def _parse_restart(verb: str, args: list[str]) -> RestartRequest:
    positional: list[str] = []
    scope: Rung | None = None
    reason: Reason | None = None
    note: str | None = None
    changed: list[str] = []
    hosts: list[str] = []
    from_host: str | None = None
    dry_run = False
    seen: set[str] = set()
    index = 0
    while index < len(args):
        word = args[index]
        index += 1
        if not word.startswith("--"):
            positional.append(word)
            continue
        name, _, inline = word.partition("=")
        if name not in RESTART_OPTIONS:
            raise _unknown("option", name, RESTART_OPTIONS)
        if name in seen and name not in MANY_VALUES:
            raise ParseError(f"{name} is given twice; give it once")
        seen.add(name)
        if name == "--dry-run":
            if inline:
                raise ParseError("--dry-run takes no value")
            dry_run = True
            continue
        if name in MANY_VALUES:
            values = [inline] if inline else []
            while index < len(args) and not args[index].startswith("--"):
                values.append(args[index])
                index += 1
            if not values:
                raise ParseError(f"{name} needs at least one {MANY_VALUES[name]}")
            (changed if name == "--changed" else hosts).extend(values)
            continue
        value = inline
        if not value:
            if index >= len(args) or args[index].startswith("--"):
                raise ParseError(f"{name} needs a value")
            value = args[index]
            index += 1
        if name == "--scope":
            scope = _rung(value)
        elif name == "--reason":
            reason, note = _reason_or_note(value, note)
        elif name == "--note":
            note = value if note is None else f"{note}; {value}"
        elif name == "--from":
            from_host = value
    if not positional:
        raise ParseError(f"{verb} needs a site, e.g. `{verb} shop-web`; `sites` lists them")
    if len(positional) > 1:
        raise ParseError(
            f"unexpected word {positional[1]!r} after the site {positional[0]!r}; "
            'quote a reason of several words: --reason "pool leaks memory"'
        )
    return RestartRequest(
        site=positional[0],
        scope=scope,
        reason=reason,
        note=note,
        changed=tuple(changed),
        hosts=tuple(dict.fromkeys(hosts)),
        from_host=from_host,
        dry_run=dry_run,
        plan_only=verb == "plan",
    )


def _reason_or_note(value: str, note: str | None) -> tuple[Reason | None, str | None]:
    """A known reason; a one-word near miss (`hnug`) is a typo to correct; other text, as chat has
    always taken it, is a note (`--note` says it explicitly)."""
    try:
        return parse_reason(value), note
    except UnknownReason as unknown:
        if unknown.closest and " " not in value.strip():
            raise ParseError(str(unknown), suggestions=(unknown.closest,)) from None
    return None, value if note is None else f"{value}; {note}"


def _rung(value: str) -> Rung:
    names = [rung.value for rung in Rung]
    if value.lower() not in names:
        raise _unknown("scope", value, tuple(names))
    return Rung(value.lower())


def _parse_status(verb: str, args: list[str]) -> Status:
    site = _single(verb, args, "a site, e.g. `status shop-web`")
    return Status(site=site)


def _parse_approve(verb: str, args: list[str]) -> Approve:
    return Approve(request_id=_single(verb, args, "a request id, e.g. `approve r-7k2m9q`"))


def _parse_deny(verb: str, args: list[str]) -> Deny:
    if "--reason" in args:
        at = args.index("--reason")
        rest, reason = args[:at], " ".join(args[at + 1 :]).strip()
        if not reason:
            raise ParseError("--reason needs a text, e.g. deny r-7k2m9q --reason not during the sale")
    else:
        rest, reason = args, ""
    for word in rest:
        if word.startswith("--"):
            raise _unknown("option", word.partition("=")[0], DENY_OPTIONS)
    return Deny(request_id=_single(verb, rest, "a request id, e.g. `deny r-7k2m9q`"), reason=reason or None)


def _parse_sites(verb: str, args: list[str]) -> ListSites:
    if args:
        raise ParseError(f"`sites` takes no arguments, got {args[0]!r}")
    return ListSites()


def _parse_requests(verb: str, args: list[str]) -> ListRequests:
    """`requests [SITE] [--state STATE]`: the latest requests, newest first."""
    site: str | None = None
    state: str | None = None
    words = iter(args)
    for word in words:
        name, _, inline = word.partition("=")
        if name == "--state":
            state = inline or next(words, "")
            if not state:
                raise ParseError("--state needs a state, e.g. `requests --state awaiting_approval`")
        elif word.startswith("--"):
            raise _unknown("option", name, ("--state",))
        elif site is None:
            site = word
        else:
            raise ParseError(f"`requests` takes at most one site, got {word!r} after {site!r}")
    return ListRequests(state=state, site=site, limit=20)


def _parse_help(verb: str, args: list[str]) -> Help:
    if len(args) > 1:
        raise ParseError("`help` takes at most one topic, e.g. `help recycle`")
    return Help(topic=args[0].lower() if args else None)


def _single(verb: str, args: list[str], what: str) -> str:
    for word in args:
        if word.startswith("--"):
            raise ParseError(f"`{verb}` takes no option {word.partition('=')[0]!r}")
    if len(args) != 1:
        raise ParseError(f"`{verb}` needs exactly {what}")
    return args[0]


def _close(word: str, choices: tuple[str, ...]) -> list[str]:
    return difflib.get_close_matches(word.lower(), choices, n=3, cutoff=0.6)


def _unknown(kind: str, word: str, choices: tuple[str, ...]) -> ParseError:
    close = tuple(_close(word, choices))
    hint = f"did you mean {' or '.join(close)}?" if close else f"known: {', '.join(choices)}"
    return ParseError(f"unknown {kind} {word!r}: {hint}", suggestions=close)


_VERB_PARSERS: dict[str, Callable[[str, list[str]], Command]] = {
    "recycle": _parse_restart,
    "plan": _parse_restart,
    "status": _parse_status,
    "approve": _parse_approve,
    "deny": _parse_deny,
    "sites": _parse_sites,
    "requests": _parse_requests,
    "help": _parse_help,
}
