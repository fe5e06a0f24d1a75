"""Prometheus metrics (prometheus-client).

Counters and histograms live in the process that does the work: the accept path in web processes,
the link in the worker. `/metrics` on a web process also reports the link's state and the queue
from the database (presence.ops), so one scrape of any web process answers "is the link up, is work
piling up".
The worker can expose its own process metrics with `runpbxlink --metrics-port`.

Under gunicorn every worker process counts its own requests. With PROMETHEUS_MULTIPROC_DIR set
(heartbeat-api.service does) prometheus_client keeps each process's values in files there and
`exposition()` sums them, so one scrape of `/metrics` reports the API's triggers from every worker.
The gauges come from the database at each scrape: the most recent value is the true one.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess

TRIGGERS = Counter("heartbeat_triggers_total", "Trigger requests by event and outcome", ["event", "outcome"])
ACCEPT_SECONDS = Histogram(
    "heartbeat_trigger_accept_seconds",
    "Time to accept a trigger (request in → 202 out)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
APPLY_SECONDS = Histogram(
    "heartbeat_trigger_to_setpresence_seconds",
    "Time from trigger received to the PBX's SetPresenceResult",
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
RATE_LIMITED = Counter(
    "heartbeat_rate_limited_total",
    "Requests refused with 429 (no trigger row is written for them), by limit",
    ["limit"],
)
OUTCOMES = Counter("heartbeat_trigger_outcomes_total", "Decided triggers by event and status", ["event", "status"])
LINK_UP = Gauge(
    "heartbeat_pbx_link_up", "1 when the PBX link is connected and logged in", multiprocess_mode="mostrecent"
)
LINK_RECONNECTS = Gauge(
    "heartbeat_pbx_link_reconnects",
    "Reconnects of the PBX link since the worker started",
    multiprocess_mode="mostrecent",
)
LINK_SUBSCRIPTIONS = Gauge(
    "heartbeat_pbx_subscriptions", "Presence subscriptions held on the PBX", multiprocess_mode="mostrecent"
)
LINK_IN_FLIGHT = Gauge(
    "heartbeat_pbx_in_flight", "SetPresence requests awaiting the PBX's answer", multiprocess_mode="mostrecent"
)
QUEUE_DEPTH = Gauge("heartbeat_queue_depth", "Triggers accepted but not yet decided", multiprocess_mode="mostrecent")
LICENCE_DAYS_LEFT = Gauge(
    "heartbeat_licence_days_left", "Days until the licence expires (negative: expired)", multiprocess_mode="mostrecent"
)


def exposition() -> bytes:
    """The Prometheus text: this process's metrics, or every process's in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest()
