"""The brain's Prometheus metrics (titan_brain_*)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from titan_common.metrics import latency_histogram

SIGNAL_LATENCY_MS = latency_histogram(
    "titan_brain_signal_processing_latency_ms",
    "From reading a signal off titan:signals to its decision committed and its intent published",
)
DECISIONS = Counter("titan_brain_decisions_total", "Decisions by verdict and deciding reason", ["verdict", "reason"])
REDELIVERIES = Counter("titan_brain_redeliveries_total", "Signals that already had a decision when they arrived")
INTENTS_PUBLISHED = Counter("titan_brain_intents_published_total", "Order intents sent to titan:intents", ["kind"])
EQUITY = Gauge("titan_brain_equity_usd", "Account equity as last reported by execution")
DAILY_DRAWDOWN = Gauge("titan_brain_daily_drawdown_ratio", "The day's loss as a fraction of day-start equity")
DRAWDOWN = Gauge("titan_brain_drawdown_ratio", "Distance below the high watermark, as a fraction of it")
DAILY_PNL = Gauge("titan_brain_daily_pnl_usd", "Equity minus day-start equity")
GLOBAL_LEVERAGE = Gauge("titan_brain_global_leverage_ratio", "Open notional over equity")
OPEN_POSITIONS = Gauge("titan_brain_open_positions", "Positions the brain counts (reported plus approved pending)")
PHASE = Gauge("titan_brain_phase", "The current phase (1-3)")
PERFORMANCE_MODIFIER = Gauge("titan_brain_performance_modifier", "Risk multiplier from the 7-day per-trade Sharpe")
BREAKER_ACTIVE = Gauge("titan_brain_breaker_active", "1 while the circuit breaker blocks new entries")
BREAKER_LEVEL = Gauge("titan_brain_breaker_level", "0 none, 1 soft, 2 hard")
BREAKER_TRIPS = Counter("titan_brain_breaker_trips_total", "Circuit breaker trips", ["level", "trigger"])
AIGATE_CALLS = Counter("titan_brain_aigate_calls_total", "AI gate calls by outcome", ["provider", "outcome"])
AIGATE_LATENCY_MS = latency_histogram("titan_brain_aigate_latency_ms", "AI gate round trip", ("provider",))
