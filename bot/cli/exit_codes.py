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

EXIT_DONE, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_REFUSED, EXIT_WAITING = 0, 1, 2, 3, 4

_BY_CODE = {
    "bad_input": EXIT_BAD_INPUT,
    "not_found": EXIT_BAD_INPUT,
    "refused": EXIT_REFUSED,
    "locked": EXIT_REFUSED,
    "not_allowed": EXIT_REFUSED,
    "expired": EXIT_REFUSED,
}


def exit_code_for_error(error: AspresetError) -> int:
    return _BY_CODE.get(error.code, EXIT_FAILED)
