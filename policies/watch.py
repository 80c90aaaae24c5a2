"""A site's health watch in the inventory (`[sites.X.watch]`): what `aspreset serve` probes, how
often, and what counts as a bad probe. docs/watch.md explains each threshold."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DEFAULT_INTERVAL_S = 60.0
DEFAULT_BAD_PROBES = 3


class Watch(BaseModel):
    """Probe the site on each of its hosts every `interval_s` with the warm-up's own request (to
    `path`, default the site's warm-up path or URL); an incident opens after `bad_probes` bad
    probes in a row on a host."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str | None = Field(default=None, description="probe path; default the site's warmup_path/warmup_url")
    interval_s: float = Field(default=DEFAULT_INTERVAL_S, ge=0.2, le=3600)  # below 1 s: tests, benchmarks
    timeout_s: float = Field(default=10.0, gt=0, le=300, description="no answer within this is a hung probe")
    slow_ms: int | None = Field(default=2000, ge=1, description="an answer slower than this is slow; none: off")
    memory_mb: int | None = Field(
        default=None, ge=1, description="a worker's private bytes over this many MiB is memory; none: off"
    )
    bad_probes: int = Field(default=DEFAULT_BAD_PROBES, ge=1, le=100)

    @field_validator("path")
    @classmethod
    def _path_is_a_path(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("/"):
            raise ValueError(f"path must start with '/', like /health, got {value!r}")
        return value

    @model_validator(mode="after")
    def _timeout_fits_the_interval(self) -> Watch:
        if self.timeout_s >= self.interval_s:
            raise ValueError(
                f"timeout_s ({self.timeout_s:g}) must be shorter than interval_s ({self.interval_s:g}): "
                "a probe has to end before the next one is due"
            )
        if self.slow_ms is not None and self.slow_ms >= self.timeout_s * 1000:
            raise ValueError(
                f"slow_ms ({self.slow_ms}) must be below timeout_s ({self.timeout_s:g} s = "
                f"{self.timeout_s * 1000:g} ms): an answer that slow is already a timeout"
            )
        return self

    @property
    def memory_bytes(self) -> int | None:
        return None if self.memory_mb is None else self.memory_mb * 1024 * 1024
