"""The scavenger's Prometheus metrics (served by the shared /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from titan_common.metrics import latency_histogram

TRADES = Counter("titan_scavenger_trades_total", "Public trades taken in through the hot path")
MESSAGES = Counter("titan_scavenger_stream_messages_total", "Public stream messages, by kind", ["kind"])
TRAPS_SPRUNG = Counter(
    "titan_scavenger_traps_sprung_total", "Traps sprung (signal published), by trap type", ["trap_type"]
)
SIGNALS = Counter("titan_scavenger_signals_total", "Signals published on titan:signals, by trap type", ["trap_type"])
SPRUNG_DROPPED = Counter(
    "titan_scavenger_sprung_dropped_total", "Sprung traps that gave no signal, by reason", ["reason"]
)
SIGNAL_LATENCY_MS = latency_histogram(
    "titan_scavenger_signal_latency_ms", "From receiving the trade that sprang a trap to the signal published"
)
TRAPS = Gauge("titan_scavenger_traps", "Traps on the live map, by trap type", ["trap_type"])
TRAP_MAP_BUILD_MS = Gauge("titan_scavenger_trap_map_build_ms", "How long the last trap map build took")
TRAP_MAP_BUILT = Gauge("titan_scavenger_trap_map_built_ms", "When the live trap map was built (UTC ms)")
SYMBOLS = Gauge("titan_scavenger_symbols", "Symbols subscribed")
DATA_AGE_MS = Gauge("titan_scavenger_data_age_ms", "Age of the newest trade or ticker")
STREAM_UP = Gauge("titan_scavenger_stream_up", "1 while market data is fresh (LIVE)")
STREAM_RECONNECTS = Counter("titan_scavenger_stream_reconnects_total", "Public stream reconnects and restarts")
EMITTING = Gauge("titan_scavenger_emitting", "1 while signals may leave (mode NORMAL)")
SCANNER_CYCLES = Counter("titan_scavenger_scanner_cycles_total", "Breadth scanner cycles, by status", ["status"])
SCANNER_DURATION_MS = Gauge("titan_scavenger_scanner_duration_ms", "Duration of the last breadth cycle")
