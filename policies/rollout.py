"""Rolling restarts: a site's hosts split into waves that run one after another.

`max_parallel` is a count (`2`) or a percentage of the site's hosts (`"25%"`, rounded up, at least
one). Unset, prod-like environments (`prod`, `production`) restart one host at a time at every rung
and other environments all at once. Pure: no I/O, nothing from `bot/`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from policies.policy import Policy

MaxParallel = int | str
PROD_ENVIRONMENTS = frozenset({"prod", "production"})
_PERCENT = re.compile(r"^(\d{1,3})%$")


def check_max_parallel(value: MaxParallel) -> MaxParallel:
    """The value itself when it is a count >= 1 or a percentage 1%..100%; else ValueError saying so."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"max_parallel must be a count like 2 or a percentage like \"25%\", got {value!r}")
    if isinstance(value, int):
        if value < 1:
            raise ValueError(f"max_parallel must be at least 1 host, got {value}")
        return value
    match = _PERCENT.fullmatch(value.strip())
    if match is None or not 1 <= int(match.group(1)) <= 100:
        raise ValueError(f"max_parallel {value!r} must be a count like 2 or a percentage from \"1%\" to \"100%\"")
    return value.strip()


def wave_size(max_parallel: MaxParallel, hosts: int) -> int:
    """How many hosts restart at once: the count (at most `hosts`), or the percentage rounded up."""
    if hosts < 1:
        return 1
    check_max_parallel(max_parallel)
    if isinstance(max_parallel, int):
        return min(max_parallel, hosts)
    percent = int(max_parallel.rstrip("%"))
    return max(1, min(hosts, math.ceil(hosts * percent / 100)))


def waves(hosts: Sequence[str], max_parallel: MaxParallel) -> tuple[tuple[str, ...], ...]:
    """The hosts in their inventory order, cut into waves of `wave_size`."""
    size = wave_size(max_parallel, len(hosts))
    return tuple(tuple(hosts[i : i + size]) for i in range(0, len(hosts), size))


@dataclass(frozen=True)
class Rollout:
    max_parallel: MaxParallel
    keep_going: bool  # a failed host does not stop the later waves


def default_max_parallel(environment: str) -> MaxParallel:
    return 1 if environment.lower() in PROD_ENVIRONMENTS else "100%"


def rollout_for(policy: Policy, environment: str) -> Rollout:
    """The rollout the policy sets for `environment`, with the built-in default where it is silent."""
    env = policy.environments.get(environment)
    max_parallel = env.max_parallel if env is not None and env.max_parallel is not None else None
    return Rollout(
        max_parallel=max_parallel if max_parallel is not None else default_max_parallel(environment),
        keep_going=bool(env is not None and env.keep_going),
    )
