"""The known restart reasons, one vocabulary for every front end: the CLI's `--reason`, chat's
`--reason` and the MCP tools' `reason` enum all read it. A reason maps to the narrowest rung that
handles it (policies/planner.py); free text about why goes in a note, never in a reason."""

from __future__ import annotations

import difflib

from commands.model import Reason

# What each reason means, in the words a help text or a tool description shows.
REASON_MEANINGS: dict[Reason, str] = {
    Reason.HUNG: "requests hang or the app stopped answering (kills the worker: needs approval)",
    Reason.LOCKED_FILE: "a file under the app is locked by its worker (recycles the pool)",
    Reason.GAC: "an assembly in the GAC was updated (recycles the pool)",
    Reason.MEMORY: "the worker's memory keeps growing (recycles the pool)",
    Reason.CONFIG: "a config file ASP.NET does not watch changed (restarts the AppDomain)",
    Reason.NATIVE_MODULE: "a native module or ISAPI DLL changed (recycles the pool)",
}
REASON_NAMES: tuple[str, ...] = tuple(reason.value for reason in Reason)


class UnknownReason(ValueError):
    """A reason that is not one of the known ones; `str()` says the closest or lists them."""

    def __init__(self, given: str, closest: str | None) -> None:
        self.given, self.closest = given, closest
        hint = f"did you mean {closest}?" if closest else f"the known reasons are {', '.join(REASON_NAMES)}"
        super().__init__(f"unknown reason {given!r}: {hint} (free text about why goes in --note)")


def closest_reason(text: str) -> str | None:
    close = difflib.get_close_matches(text.strip().lower(), REASON_NAMES, n=1, cutoff=0.6)
    return close[0] if close else None


def parse_reason(text: str) -> Reason:
    """A known reason, in any letter case; else UnknownReason naming the closest one."""
    word = text.strip().lower()
    if word in REASON_NAMES:
        return Reason(word)
    raise UnknownReason(text, closest_reason(word))


def reasons_help() -> str:
    """`hung, locked-file, gac, memory, config, native-module` with what each means, one per line."""
    return "\n".join(f"{reason.value}: {meaning}" for reason, meaning in REASON_MEANINGS.items())
