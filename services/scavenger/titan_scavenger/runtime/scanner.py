"""The breadth scanner (CM-09): one log-only cycle per 15-minute slot.

A cycle claims its slot first: it inserts its `execution_logs` row (cycle_id unique) with
status RUNNING. A second run in the same slot finds the row, logs `IDEMPOTENCY: ALREADY
RAN` and does nothing. A cycle that crashes half-way leaves its row RUNNING or FAILED; the
runbook's answer is to delete the row if a re-run is needed.

The cycle checks the exchange clock and the API's latency before it scans
(TIMESTAMP_MISMATCH, API_LAG abort it, written to the row and as `ABORT` in the blackbox
log), then reads every trading symbol's 15-minute bars one symbol after another, stores the
bar that closed at the slot (ohlcv_snapshots, DATA-ORIGIN-02) and records breadth
statistics. It emits no signals.
"""

from __future__ import annotations

import asyncio
import logging
import os
import resource
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from titan_common.clock import now_ms
from titan_common.db.models import ExecutionLog, OhlcvSnapshot
from titan_common.exchanges import ExchangeAdapter, ExchangeError, Kline
from titan_common.logging import KeyEvent, key_event
from titan_common.reasons import ReasonCode
from titan_common.service import ServiceRuntime
from titan_scavenger.core import breadth as B
from titan_scavenger.core.market import BAR_MS
from titan_scavenger.runtime import metrics
from titan_scavenger.runtime.market import KLINE_INTERVAL, bar_of

log = logging.getLogger("titan.scavenger.scanner")

ALREADY_RAN = "IDEMPOTENCY: ALREADY RAN"


@dataclass(frozen=True)
class ScannerConfig:
    exchange: str
    slot_ms: int
    lookback: int
    max_symbols: int
    timestamp_tolerance_ms: int
    api_lag_ms: int
    has_credentials: bool


class CycleAborted(Exception):
    def __init__(self, reason: ReasonCode, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


def _memory() -> dict[str, Any]:
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    rss_mb = None
    try:
        with open("/proc/self/statm") as statm:
            rss_mb = round(int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20, 2)
    except (OSError, ValueError, IndexError):
        pass
    return {"rss_mb": rss_mb, "max_rss_mb": round(peak_kb / 1024, 2)}


class BreadthScanner:
    def __init__(self, runtime: ServiceRuntime, adapter: ExchangeAdapter, cfg: ScannerConfig) -> None:
        self.runtime = runtime
        self.adapter = adapter
        self.cfg = cfg
        self.last: dict[str, Any] | None = None
        self._lock = asyncio.Lock()

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        assert self.runtime.sessions is not None
        return self.runtime.sessions

    async def run_cycle(self, *, now: int | None = None, trigger: str = "SCHEDULE") -> dict[str, Any]:
        """Run the cycle of the slot `now` falls in (default: the current one)."""
        async with self._lock:
            started = now_ms()
            slot = B.slot_start(now if now is not None else started, self.cfg.slot_ms)
            cycle_id = B.cycle_id_for(self.cfg.exchange, slot)
            try:
                claimed = await self._claim(cycle_id, started)
            except Exception as exc:  # the database: nothing can be recorded, so nothing runs
                key_event(
                    log,
                    KeyEvent.ABORT,
                    f"reason={ReasonCode.DB_UNAVAILABLE.value} cycle={cycle_id} detail={type(exc).__name__}",
                    level=logging.ERROR,
                )
                metrics.SCANNER_CYCLES.labels("FAILED").inc()
                return {"cycle_id": cycle_id, "status": "FAILED", "reason": ReasonCode.DB_UNAVAILABLE.value}
            if not claimed:
                log.warning("%s cycle=%s trigger=%s", ALREADY_RAN, cycle_id, trigger)
                metrics.SCANNER_CYCLES.labels("ALREADY_RAN").inc()
                return {"cycle_id": cycle_id, "status": "ALREADY_RAN", "message": ALREADY_RAN}
            key_event(log, KeyEvent.CYCLE_START, f"cycle={cycle_id} kind={B.KIND} trigger={trigger}")
            result = await self._run(cycle_id, slot, started)
            self.last = result
            metrics.SCANNER_CYCLES.labels(result["status"]).inc()
            metrics.SCANNER_DURATION_MS.set(result["duration_ms"])
            return result

    async def recorded(self, now: int) -> bool:
        """Whether the slot of `now` already has its row (whoever ran it)."""
        cycle_id = B.cycle_id_for(self.cfg.exchange, B.slot_start(now, self.cfg.slot_ms))
        async with self.sessions() as session:
            return (await session.scalar(select(ExecutionLog.id).where(ExecutionLog.cycle_id == cycle_id))) is not None

    async def _claim(self, cycle_id: str, started: int) -> bool:
        placeholder = B.payload(
            integrity={},
            timing={"started_ms": started},
            health={},
            verdict={"status": "RUNNING", "decision": "LOG_ONLY"},
            financials={},
        )
        statement = (
            insert(ExecutionLog)
            .values(cycle_id=cycle_id, kind=B.KIND, ts_ms=started, status="RUNNING", ai_audit_payload=placeholder)
            .on_conflict_do_nothing(index_elements=["cycle_id"])
            .returning(ExecutionLog.id)
        )
        async with self.sessions() as session, session.begin():
            return (await session.scalar(statement)) is not None

    async def _run(self, cycle_id: str, slot: int, started: int) -> dict[str, Any]:
        clock = time.perf_counter()
        latencies: list[float] = []
        timing: dict[str, Any] = {"started_ms": started, "slot_ms": slot}
        integrity: dict[str, Any] = {}
        scans: list[B.SymbolScan] = []
        closed: dict[str, Kline] = {}  # the bar each symbol closed at the slot, as the venue sent it
        errors: dict[str, str] = {}
        status, reason, detail = "OK", None, ""
        try:
            offset, rtt = await self._clock_check()
            timing["server_time_rtt_ms"] = round(rtt, 3)
            integrity["exchange_clock_offset_ms"] = offset
            integrity["timestamp_tolerance_ms"] = self.cfg.timestamp_tolerance_ms
            integrity["timestamps_aligned"] = offset is not None and abs(offset) <= self.cfg.timestamp_tolerance_ms
            aborted = B.abort_reason(
                offset, rtt, timestamp_tolerance_ms=self.cfg.timestamp_tolerance_ms, api_lag_ms=self.cfg.api_lag_ms
            )
            if aborted is not None:
                raise CycleAborted(aborted, f"clock offset {offset} ms, round trip {rtt:.0f} ms")
            symbols = await self._symbols(latencies)
            for symbol in symbols:  # sequential by design (CM-09): one venue call at a time
                t0 = time.perf_counter()
                try:
                    klines = await self.adapter.klines(symbol, KLINE_INTERVAL, limit=self.cfg.lookback + 2)
                except ExchangeError as exc:
                    errors[symbol] = str(exc)[:200]
                    continue
                finally:
                    latencies.append((time.perf_counter() - t0) * 1000)
                if latencies[-1] > self.cfg.api_lag_ms:
                    raise CycleAborted(ReasonCode.API_LAG, f"klines {symbol} took {latencies[-1]:.0f} ms")
                scans.append(B.scan_symbol(symbol, [bar_of(k) for k in klines], slot, BAR_MS, self.cfg.lookback))
                finished_bars = [k for k in klines if k.start_ms + BAR_MS <= slot]
                if finished_bars:
                    closed[symbol] = finished_bars[-1]
            if symbols and len(errors) == len(symbols):
                raise CycleAborted(ReasonCode.API_LAG, "no symbol could be read")
        except CycleAborted as exc:
            status, reason, detail = "ABORT", exc.reason, exc.detail
        except ExchangeError as exc:
            status, reason, detail = "ABORT", ReasonCode.API_LAG, f"exchange: {str(exc)[:200]}"
        except Exception as exc:
            log.exception("breadth cycle %s failed", cycle_id)
            key_event(
                log, KeyEvent.CRASH, f"cycle={cycle_id} {type(exc).__name__}: {str(exc)[:200]}", level=logging.ERROR
            )
            status, detail = "FAILED", f"{type(exc).__name__}: {str(exc)[:200]}"
        report = B.breadth(scans, lookback=self.cfg.lookback)
        integrity.update(report.integrity)
        integrity.update({"symbols_scanned": len(scans), "symbols_failed": errors})
        financials = await self._financials() if status == "OK" else {"equity": None, "source": "skipped"}
        finished = now_ms()
        timing.update(
            {"finished_ms": finished, "duration_ms": round((time.perf_counter() - clock) * 1000, 3)}
            | {"api_" + k: v for k, v in B.latency_summary(latencies).items()}
        )
        verdict = {
            "status": status,
            "decision": "LOG_ONLY",
            "reason": reason.value if reason else None,
            "detail": detail or None,
            "breadth": B.report_dict(report),
            "signals_emitted": 0,
        }
        health = {
            **_memory(),
            "mode": self.runtime.state.mode.value,
            "reasons": [r.value for r in self.runtime.state.reasons],
        }
        payload = B.payload(integrity=integrity, timing=timing, health=health, verdict=verdict, financials=financials)
        await self._record(cycle_id, status, payload, closed if status == "OK" else {})
        if status == "ABORT":
            assert reason is not None
            key_event(
                log, KeyEvent.ABORT, f"reason={reason.value} cycle={cycle_id} detail={detail}", level=logging.WARNING
            )
        else:
            log.info(
                "BREADTH cycle=%s status=%s symbols=%d regime=%s advancers=%d decliners=%d above_sma=%s%%",
                cycle_id,
                status,
                len(scans),
                report.regime,
                report.advancers,
                report.decliners,
                report.pct_above_sma,
            )
        return {
            "cycle_id": cycle_id,
            "status": status,
            "reason": verdict["reason"],
            "duration_ms": timing["duration_ms"],
            "symbols": len(scans),
            "ai_audit_payload": payload,
        }

    async def _clock_check(self) -> tuple[int | None, float]:
        sent = now_ms()
        t0 = time.perf_counter()
        try:
            server = await self.adapter.server_time_ms()
        except ExchangeError as exc:
            raise CycleAborted(ReasonCode.API_LAG, f"server time unavailable: {str(exc)[:200]}") from exc
        rtt = (time.perf_counter() - t0) * 1000
        return B.clock_offset_ms(sent, server, now_ms()), rtt

    async def _symbols(self, latencies: list[float]) -> list[str]:
        t0 = time.perf_counter()
        instruments = await self.adapter.instruments()
        latencies.append((time.perf_counter() - t0) * 1000)
        if latencies[-1] > self.cfg.api_lag_ms:
            raise CycleAborted(ReasonCode.API_LAG, f"instruments took {latencies[-1]:.0f} ms")
        return sorted(i.symbol for i in instruments if i.trading)[: self.cfg.max_symbols]

    async def _financials(self) -> dict[str, Any]:
        """Mark-to-market equity of the account (when the scavenger holds read credentials)."""
        if not self.cfg.has_credentials:
            return {"equity": None, "source": "unavailable", "detail": "no exchange credentials"}
        try:
            wallet = await self.adapter.wallet()
        except ExchangeError as exc:
            return {"equity": None, "source": "unavailable", "detail": str(exc)[:200]}
        return {
            "source": "exchange",
            "currency": "USDT",
            "equity": str(wallet.equity),
            "wallet_balance": str(wallet.wallet_balance),
            "unrealised_pnl": str(wallet.unrealised_pnl),
            "available_balance": str(wallet.available_balance),
        }

    async def _record(self, cycle_id: str, status: str, payload: dict[str, Any], closed: dict[str, Kline]) -> None:
        rows = [
            {
                "cycle_id": cycle_id,
                "exchange": self.cfg.exchange,
                "symbol": symbol,
                "interval": KLINE_INTERVAL,
                "start_ms": k.start_ms,
                "open": k.open,
                "high": k.high,
                "low": k.low,
                "close": k.close,
                "volume": k.volume,
                "turnover": k.turnover,
            }
            for symbol, k in sorted(closed.items())
        ]
        async with self.sessions() as session, session.begin():
            if rows:
                await session.execute(insert(OhlcvSnapshot).values(rows).on_conflict_do_nothing())
            await session.execute(
                update(ExecutionLog)
                .where(ExecutionLog.cycle_id == cycle_id)
                .values(status=status, ai_audit_payload=payload, ts_ms=payload["timing"]["started_ms"])
            )

    async def recent(self, limit: int = 20) -> list[dict[str, Any]]:
        async with self.sessions() as session:
            rows = (
                await session.scalars(
                    select(ExecutionLog)
                    .where(
                        ExecutionLog.kind == B.KIND, ExecutionLog.cycle_id.startswith(B.cycle_prefix(self.cfg.exchange))
                    )
                    .order_by(ExecutionLog.ts_ms.desc())
                    .limit(limit)
                )
            ).all()
        return [
            {
                "cycle_id": r.cycle_id,
                "kind": r.kind,
                "ts_ms": r.ts_ms,
                "status": r.status,
                "ai_audit_payload": r.ai_audit_payload,
            }
            for r in rows
        ]
