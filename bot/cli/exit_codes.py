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

from bot.app.errors import AspresetError
from bot.app.views import AuditView, ErrorView, PlanView, RefusalView, RequestListView, RequestView, StatusView, View

EXIT_DONE, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_REFUSED, EXIT_WAITING = 0, 1, 2, 3, 4

_BY_CODE = {
    "bad_input": EXIT_BAD_INPUT,
    "not_found": EXIT_BAD_INPUT,
    "refused": EXIT_REFUSED,
    "locked": EXIT_REFUSED,
    "not_allowed": EXIT_REFUSED,
    "expired": EXIT_REFUSED,
}


_BY_STATE = {
    "awaiting_approval": EXIT_WAITING,
    "succeeded": EXIT_DONE,
    "failed": EXIT_FAILED,
    "partially_failed": EXIT_FAILED,
    "interrupted": EXIT_FAILED,
    "refused": EXIT_REFUSED,
    "expired": EXIT_REFUSED,
}


def exit_code_for_error(error: AspresetError) -> int:
    return exit_code_for_code(error.code)


def exit_code_for_code(code: str) -> int:
    return _BY_CODE.get(code, EXIT_FAILED)


def exit_code_for_view(view: View | RequestListView | AuditView) -> int:
    if isinstance(view, ErrorView):
        return exit_code_for_code(view.code)
    if isinstance(view, RefusalView):
        return EXIT_REFUSED
    if isinstance(view, PlanView):
        return EXIT_REFUSED if view.decision.outcome == "refuse" else EXIT_DONE
    if isinstance(view, StatusView):
        return EXIT_DONE if view.all_ok else EXIT_FAILED
    if isinstance(view, RequestView):
        # approved-but-not-started, denied, cancelled, running elsewhere: nothing failed here
        return _BY_STATE.get(view.state, EXIT_DONE)
    return EXIT_DONE
