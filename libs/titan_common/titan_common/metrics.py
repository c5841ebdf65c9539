"""Prometheus helpers. Every process serves the default registry: process metrics
(CPU, memory, fds) from prometheus-client's collectors, the common service gauges below,
and whatever `titan_<service>_*` metrics the service defines itself.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest

SERVICE_UP = Gauge("titan_service_up", "1 while the service runs", ["service"])
SERVICE_MODE = Gauge(
    "titan_service_mode", "Service mode as a number: 0 NORMAL, 1 DEGRADE, 2 PAUSE, 3 EXIT", ["service"]
)
DEPENDENCY_UP = Gauge("titan_dependency_up", "1 when a dependency answers its health check", ["service", "dependency"])
DEPENDENCY_LATENCY_MS = Gauge(
    "titan_dependency_latency_ms", "Latest health-check round trip to a dependency", ["service", "dependency"]
)
AUDIT_QUEUE_PCT = Gauge("titan_audit_queue_pct", "Audit writer queue fill, percent", ["service"])
AUDIT_LAG_MS = Gauge("titan_audit_lag_ms", "Age of the oldest audit event not yet in Postgres", ["service"])
AUDIT_WRITTEN = Gauge("titan_audit_written_total", "Audit events committed to Postgres", ["service"])
LOOP_ERRORS = Counter("titan_loop_errors_total", "Exceptions raised by background loops", ["service", "loop"])


def render_latest() -> tuple[bytes, str]:
    """The exposition text of the process registry and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def latency_histogram(name: str, documentation: str, labels: tuple[str, ...] = ()) -> Histogram:
    """A millisecond histogram with buckets suited to a trading hot path (0.5 ms .. 5 s)."""
    return Histogram(
        name,
        documentation,
        list(labels),
        buckets=(0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000),
    )
