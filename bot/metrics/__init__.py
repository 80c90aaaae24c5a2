"""Metrics for `/metrics` (an adapter): `registry.PrometheusMetrics` implements the core's Metrics
port (bot.app.ports) with a registry per Runtime; `notifier.MeasuredNotifier` lets it hear every
request event the service tells; `slack.SlackCallCounter` counts Slack Web API calls where the
WebClient is built. Imported by module, so a process that only forwards (a runner) does not load
prometheus_client."""
