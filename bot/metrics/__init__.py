"""Metrics for `/metrics` (an adapter): `PrometheusMetrics` implements the core's Metrics port
(bot.app.ports) with a registry per Runtime; `MeasuredNotifier` lets it hear every request event
the service tells; `SlackCallCounter` counts Slack Web API calls where the WebClient is built."""

from bot.metrics.notifier import MeasuredNotifier
from bot.metrics.registry import PrometheusMetrics
from bot.metrics.slack import SlackCallCounter

__all__ = ["MeasuredNotifier", "PrometheusMetrics", "SlackCallCounter"]
