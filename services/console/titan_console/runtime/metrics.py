"""The console's own Prometheus metrics (served by its /metrics with the shared ones)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

WS_CLIENTS = Gauge("titan_console_ws_clients", "Browsers connected to /ws/console")
WS_MESSAGES = Counter("titan_console_ws_messages_total", "Messages sent on /ws/console")
LOGIN_FAILURES = Counter("titan_console_login_failures_total", "Failed password checks (login, Basic, verify)")
OPERATOR_ACTIONS = Counter(
    "titan_console_operator_actions_total", "Operator actions recorded by the console", ["action", "result"]
)
