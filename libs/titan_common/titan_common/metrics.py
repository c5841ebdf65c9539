"""Prometheus helpers. Every process serves the default registry: process metrics
(CPU, memory, fds) from prometheus-client's collectors, the common service gauges below,
and whatever `titan_<service>_*` metrics the service defines itself.

A process that serves one venue (execution and the scavenger run one per venue) calls
`label_every_sample(venue=...)` once: every `titan_*` sample it serves then carries that
label, without a call site knowing about it.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.samples import Sample

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


class _Labelled(Collector):
    """The default registry's metrics, each `titan_*` sample with the process's own labels added."""

    def __init__(self, labels: dict[str, str]) -> None:
        self.labels = labels

    def collect(self) -> Iterator[Metric]:
        for family in REGISTRY.collect():
            if family.name.startswith("titan_"):
                family.samples = [
                    Sample(s.name, {**self.labels, **s.labels}, s.value, s.timestamp, s.exemplar)
                    for s in family.samples
                ]
            yield family


_exposed: CollectorRegistry = REGISTRY


def label_every_sample(**labels: str) -> None:
    """Add these labels (e.g. venue="mexc") to every `titan_*` sample this process serves."""
    global _exposed
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Labelled(dict(labels)))
    _exposed = registry


def render_latest() -> tuple[bytes, str]:
    """The exposition text of the process registry and its content type."""
    return generate_latest(_exposed), CONTENT_TYPE_LATEST


def latency_histogram(name: str, documentation: str, labels: tuple[str, ...] = ()) -> Histogram:
    """A millisecond histogram with buckets suited to a trading hot path (0.5 ms .. 5 s)."""
    return Histogram(
        name,
        documentation,
        list(labels),
        buckets=(0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000),
    )
