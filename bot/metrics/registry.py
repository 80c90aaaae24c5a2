"""The metrics one `aspreset serve` process exposes at /metrics, in a registry of its own (never
prometheus_client's global one), so two Runtimes in one process (tests, replicas started side by
side) never add into each other's numbers. Names follow Prometheus' conventions: an `aspreset_`
prefix, base units in the name (`_seconds`), `_total` on counters; labels carry inventory names and
fixed words only, never free text. docs/metrics.md lists them with alert rules and panels."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.app.events import EventKind, RequestEvent

PROBE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
RESTART_BUCKETS = (1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0)
APPROVAL_BUCKETS = (10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0, 86400.0)
ENDED = frozenset({EventKind.FINISHED, EventKind.DENIED, EventKind.CANCELLED, EventKind.REFUSED})

IncidentReader = Callable[[], Mapping[tuple[str, str], int]]


class _OpenIncidents(Collector):
    """aspreset_incidents_open, read at each scrape from whoever keeps the incidents."""

    def __init__(self) -> None:
        self.readers: list[IncidentReader] = []

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily("aspreset_incidents_open", "Health-watch incidents open now, per site and kind.",
                                   labels=["site", "kind"])
        counts: dict[tuple[str, str], int] = {}
        for reader in self.readers:
            for key, count in reader().items():
                counts[key] = counts.get(key, 0) + count
        for (site, kind), count in sorted(counts.items()):
            family.add_metric([site, kind], count)
        yield family


class PrometheusMetrics:
    """The bot.app.ports.Metrics port over prometheus_client; `registry` is what /metrics serves."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.probe_seconds = Histogram("aspreset_probe_duration_seconds",
                                       "Latency of one health probe of a site on a host.",
                                       ["site", "host"], buckets=PROBE_BUCKETS, registry=r)
        self.probes = Counter("aspreset_probes_total", "Health probes by site, host and outcome.",
                              ["site", "host", "outcome"], registry=r)
        self.incidents = _OpenIncidents()
        r.register(self.incidents)
        self.restarts = Counter("aspreset_restarts_total", "Restart requests that ended, by site, rung and outcome "
                                "(the request's final state).", ["site", "rung", "outcome"], registry=r)
        self.restart_seconds = Histogram("aspreset_restart_duration_seconds",
                                         "From when a restart could start (created, or its last approval) "
                                         "to its end.", ["rung"], buckets=RESTART_BUCKETS, registry=r)
        self.approval_wait = Histogram("aspreset_approval_wait_seconds",
                                       "From a request to the approval that let it run.",
                                       ["rung"], buckets=APPROVAL_BUCKETS, registry=r)
        self.winrm_errors = Counter("aspreset_winrm_errors_total", "Failed WinRM calls by operation, error code and "
                                    "WSManFault code (empty when the host sent none).",
                                    ["op", "code", "fault"], registry=r)
        self.slack_calls = Counter("aspreset_slack_api_calls_total", "Slack Web API HTTP requests by method, HTTP "
                                   "status and Slack's error code (a retried 429 counts each attempt).",
                                   ["method", "status", "error"], registry=r)

    # ---- the port ----------------------------------------------------------------------------

    def record_probe(self, site: str, host: str, outcome: str, seconds: float) -> None:
        self.probe_seconds.labels(site, host).observe(seconds)
        self.probes.labels(site, host, outcome).inc()

    def count_incidents_with(self, reader: IncidentReader) -> None:
        self.incidents.readers.append(reader)

    def observe(self, event: RequestEvent) -> None:
        view = event.request
        if event.kind == EventKind.APPROVED and view is not None and view.approvals:
            waited = (view.approvals[-1].at - view.created_at).total_seconds()
            self.approval_wait.labels(event.rung).observe(max(0.0, waited))
        elif event.kind in ENDED:
            self.restarts.labels(event.site, event.rung, event.state or "unknown").inc()
            if event.kind == EventKind.FINISHED and view is not None:
                began = view.approvals[-1].at if view.approvals else view.created_at
                self.restart_seconds.labels(event.rung).observe(max(0.0, (view.updated_at - began).total_seconds()))

    def count_winrm_error(self, op: str, code: str, fault: int | None) -> None:
        self.winrm_errors.labels(op, code, "" if fault is None else f"0x{fault:08X}").inc()

    # ---- adapters' own -----------------------------------------------------------------------

    def count_slack_call(self, method: str, status: int | str, error: str = "") -> None:
        self.slack_calls.labels(method, str(status), error).inc()
