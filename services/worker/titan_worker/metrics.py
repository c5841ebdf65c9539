"""The worker's Prometheus metrics, served on TITAN_WORKER_METRICS_PORT (default 3006).

Task outcomes are counted as they happen; backup and report freshness are read from
their files at scrape time, so they are right even just after a restart.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from celery.signals import task_failure, task_retry, task_success
from prometheus_client import REGISTRY, Counter, Gauge, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from titan_common.clock import now_ms
from titan_worker import backups
from titan_worker.core.report import day_start_ms

log = logging.getLogger("titan.worker.metrics")

TASKS = Counter("titan_worker_tasks_total", "Worker tasks finished, by task and result", ["task", "result"])
# rolling trading results for the manual's win-rate alert (refreshed by a beat task)
TRADES_7D = Gauge("titan_worker_trades_7d", "Round trips closed in the last 7 days")
WIN_RATE_7D = Gauge(
    "titan_worker_win_rate_7d", "Winning share of the round trips of the last 7 days (0..1; NaN without trades)"
)
NET_PNL_7D = Gauge("titan_worker_net_pnl_7d_usd", "Net P&L of the round trips of the last 7 days")
REPORT_FILE = re.compile(r"^daily-(\d{4}-\d{2}-\d{2})\.json$")


class FilesCollector(Collector):
    def __init__(self, backup_dir: Path, report_dir: Path) -> None:
        self.backup_dir = backup_dir
        self.report_dir = report_dir

    def collect(self) -> Iterator[GaugeMetricFamily]:
        found = backups.list_backups(self.backup_dir)
        newest = found[0] if found else None
        verified = [b for b in found if (b.verification or {}).get("ok") is True]
        yield GaugeMetricFamily("titan_worker_backups", "Backups on disk", value=len(found))
        yield GaugeMetricFamily(
            "titan_worker_backup_last_timestamp_seconds",
            "When the newest backup was taken (0: none)",
            value=newest.created_ms / 1000 if newest else 0,
        )
        yield GaugeMetricFamily(
            "titan_worker_backup_last_verified_timestamp_seconds",
            "When the newest backup that passed a restore check was taken (0: none)",
            value=verified[0].created_ms / 1000 if verified else 0,
        )
        last_ok = (newest.verification or {}).get("ok") if newest else None
        yield GaugeMetricFamily(
            "titan_worker_backup_last_verify_ok",
            "1 when the newest backup passed its restore check, 0 when it failed, -1 when not checked yet",
            value=-1 if last_ok is None else int(bool(last_ok)),
        )
        days = sorted(m.group(1) for p in self._reports() if (m := REPORT_FILE.match(p.name)))
        yield GaugeMetricFamily(
            "titan_worker_report_last_day_timestamp_seconds",
            "00:00 UTC of the newest daily report's day (0: none)",
            value=day_start_ms(days[-1]) / 1000 if days else 0,
        )
        yield GaugeMetricFamily("titan_worker_scrape_timestamp_seconds", "Scrape time", value=now_ms() / 1000)

    def _reports(self) -> list[Path]:
        return list(self.report_dir.iterdir()) if self.report_dir.exists() else []


def _count(result: str) -> Any:
    def handler(sender: Any = None, **_: Any) -> None:
        TASKS.labels(getattr(sender, "name", "unknown"), result).inc()

    return handler


_on_success = _count("success")
_on_failure = _count("failure")
_on_retry = _count("retry")


def serve_metrics(host: str, port: int, backup_dir: Path, report_dir: Path) -> bool:
    """Start the /metrics HTTP server in a thread; False (logged) when the port is taken."""
    task_success.connect(_on_success, weak=False)
    task_failure.connect(_on_failure, weak=False)
    task_retry.connect(_on_retry, weak=False)
    REGISTRY.register(FilesCollector(backup_dir, report_dir))
    try:
        start_http_server(port, addr=host)
    except OSError as exc:
        log.warning("worker metrics not served on %s:%d: %s", host, port, exc)
        return False
    log.info("worker metrics on http://%s:%d/metrics", host, port)
    return True
