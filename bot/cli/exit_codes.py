"""The CLI's exit-code table, the one place that turns the core's error codes into numbers.

| exit | meaning                                                         |
|------|-----------------------------------------------------------------|
| 0    | done (also: nothing more to do)                                 |
| 1    | execution failed on at least one host, or an internal error     |
| 2    | bad input or configuration (the message names file/field/value) |
| 3    | refused by policy (also: locked, not allowed, expired)          |
| 4    | waiting for approval                                            |
"""

from __future__ import annotations

from typing import assert_never

from bot.app.errors import AspresetError
from bot.app.records import RequestState
from bot.app.views import (
    AuditView,
    ErrorView,
    HelpView,
    IncidentListView,
    PlanView,
    RefusalView,
    RequestListView,
    RequestView,
    SiteListView,
    StatusView,
    View,
)

EXIT_DONE, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_REFUSED, EXIT_WAITING = 0, 1, 2, 3, 4

_BY_CODE = {
    "bad_input": EXIT_BAD_INPUT,
    "not_found": EXIT_BAD_INPUT,
    "refused": EXIT_REFUSED,
    "locked": EXIT_REFUSED,
    "not_allowed": EXIT_REFUSED,
}


_BY_STATE: dict[str, int] = {
    RequestState.AWAITING_APPROVAL: EXIT_WAITING,
    RequestState.SUCCEEDED: EXIT_DONE,
    RequestState.FAILED: EXIT_FAILED,
    RequestState.PARTIALLY_FAILED: EXIT_FAILED,
    RequestState.INTERRUPTED: EXIT_FAILED,
    RequestState.REFUSED: EXIT_REFUSED,
    RequestState.EXPIRED: EXIT_REFUSED,
}


def exit_code_for_error(error: AspresetError) -> int:
    return exit_code_for_code(error.code)


def exit_code_for_code(code: str) -> int:
    return _BY_CODE.get(code, EXIT_FAILED)


def exit_code_for_view(view: View) -> int:
    match view:
        case ErrorView():
            return exit_code_for_code(view.code)
        case RefusalView():
            return EXIT_REFUSED
        case PlanView():
            return EXIT_REFUSED if view.decision.outcome == "refuse" else EXIT_DONE
        case StatusView():
            return EXIT_DONE if view.all_ok else EXIT_FAILED
        case RequestView():
            # approved-but-not-started, denied, cancelled, running elsewhere: nothing failed here
            return _BY_STATE.get(view.state, EXIT_DONE)
        case SiteListView() | HelpView() | RequestListView() | AuditView() | IncidentListView():
            return EXIT_DONE
        case _:
            assert_never(view)
