"""Execution's Prometheus metrics (served by the shared /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from titan_common.metrics import latency_histogram

ORDER_LATENCY_MS = latency_histogram(
    "titan_execution_order_latency_ms", "From taking an intent to the exchange's acknowledgement"
)
ORDERS = Counter("titan_execution_orders_total", "Intents handled, by outcome", ["result"])
ACTIVE_POSITIONS = Gauge("titan_execution_active_positions", "Open positions in the shadow state")
INTENTS = Gauge("titan_execution_intents", "Intents by state", ["state"])
RECONCILE_RUNS = Counter("titan_execution_reconcile_runs_total", "Reconcile runs by verdict", ["verdict"])
RECONCILE_DIFFS = Gauge("titan_execution_reconcile_drift", "Differences found by the last reconcile")
RATE_LIMIT_HITS = Counter("titan_execution_rate_limit_hits_total", "Requests the exchange refused for rate")
CANCEL_REPLACE = Counter(
    "titan_execution_cancel_replace_total", "Orders cancelled and stops replaced, by symbol", ["symbol"]
)
WS_RECONNECTS = Counter("titan_execution_ws_reconnects_total", "Times the private stream came back after a loss")
VENUE_CONNECTED = Gauge(
    "titan_execution_venue_connected", "1 while the venue is connected (its stream up; spot: its prices fresh)"
)
