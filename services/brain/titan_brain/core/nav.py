"""Net asset value: equity over time, the day's start, the high watermark, the treasury.

Equity comes from execution (wallet reports). The day starts at 00:00 UTC: the first
report of a new day takes the last equity known before midnight as the day's start (the
best estimate of equity at 00:00), or itself when there is none. Until that report the
NAV is still the previous day's, so its daily figures are not today's (`*_on(day)`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal

from titan_common.clock import DAY_MS

ZERO = Decimal(0)


def utc_day_of(ms: int) -> str:
    return _utc_day(ms // DAY_MS)


@functools.lru_cache(maxsize=8)
def _utc_day(day: int) -> str:
    """The date of the `day`-th UTC day since the epoch (asked per signal: formatted once a day)."""
    return datetime.fromtimestamp(day * 86_400, tz=UTC).strftime("%Y-%m-%d")


@dataclass(frozen=True)
class Nav:
    equity: Decimal | None = None
    wallet_balance: Decimal | None = None
    unrealised_pnl: Decimal | None = None
    available_balance: Decimal | None = None
    updated_ms: int | None = None
    day: str | None = None
    day_start_equity: Decimal | None = None
    high_watermark: Decimal | None = None

    def observe(
        self,
        equity: Decimal,
        ts_ms: int,
        *,
        wallet_balance: Decimal | None = None,
        unrealised_pnl: Decimal | None = None,
        available_balance: Decimal | None = None,
    ) -> Nav:
        """The NAV after a wallet report at `ts_ms`. A report older than the last is ignored."""
        if self.updated_ms is not None and ts_ms < self.updated_ms:
            return self
        day = utc_day_of(ts_ms)
        day_start = self.day_start_equity
        if day != self.day or day_start is None:
            day_start = self.equity if (self.equity is not None and self.day is not None) else equity
        hwm = equity if self.high_watermark is None else max(self.high_watermark, equity)
        return replace(
            self,
            equity=equity,
            wallet_balance=wallet_balance if wallet_balance is not None else self.wallet_balance,
            unrealised_pnl=unrealised_pnl if unrealised_pnl is not None else self.unrealised_pnl,
            available_balance=available_balance if available_balance is not None else self.available_balance,
            updated_ms=ts_ms,
            day=day,
            day_start_equity=day_start,
            high_watermark=hwm,
        )

    def fresh_equity(self, now_ms: int, max_age_ms: int) -> Decimal | None:
        """Equity if a report is recent enough to size with; None otherwise (fail closed)."""
        if self.equity is None or self.updated_ms is None or now_ms - self.updated_ms > max_age_ms:
            return None
        return self.equity

    @property
    def daily_pnl(self) -> Decimal | None:
        if self.equity is None or self.day_start_equity is None:
            return None
        return self.equity - self.day_start_equity

    @property
    def daily_drawdown(self) -> Decimal | None:
        """The day's loss as a fraction of the day's start (0 when the day is up)."""
        pnl = self.daily_pnl
        if pnl is None or not self.day_start_equity:
            return None
        return max(ZERO, -pnl / self.day_start_equity)

    def day_start_on(self, day: str) -> Decimal | None:
        """The day's start if this NAV is of `day`; None before the day's first wallet report."""
        return self.day_start_equity if self.day == day else None

    def daily_drawdown_on(self, day: str) -> Decimal | None:
        """The day's drawdown if this NAV is of `day`. Before the day's first wallet report
        rebases the start, the figure is yesterday's loss: unknown today, not today's."""
        return self.daily_drawdown if self.day == day else None

    @property
    def drawdown(self) -> Decimal | None:
        """Below the high watermark, as a fraction of it."""
        if self.equity is None or not self.high_watermark:
            return None
        return max(ZERO, (self.high_watermark - self.equity) / self.high_watermark)


def restore_nav(
    last_equity: Decimal | None,
    last_ms: int | None,
    day_start_equity: Decimal | None,
    high_watermark: Decimal | None,
    now_ms: int,
) -> Nav:
    """The NAV at start-up from the last snapshot. Its equity is history, not a report:
    it seeds the day's start and the watermark but is not fresh enough to size with."""
    if last_equity is None or last_ms is None:
        return Nav(high_watermark=high_watermark)
    today = utc_day_of(now_ms)
    snapshot_day = utc_day_of(last_ms)
    # a snapshot from an earlier day: its equity is the best estimate of today's start
    start = day_start_equity if snapshot_day == today else last_equity
    return Nav(
        equity=last_equity,
        updated_ms=last_ms,
        day=today,
        day_start_equity=start,
        high_watermark=high_watermark if high_watermark is not None else last_equity,
    )


@dataclass(frozen=True)
class Treasury:
    """Where the capital is. Titan trades the futures wallet; profit swept to the spot
    wallet is locked (out of reach of the risk engine)."""

    futures_wallet: Decimal
    spot_wallet: Decimal
    total_swept: Decimal
    high_watermark: Decimal
    locked_profit: Decimal
    risk_capital: Decimal

    def as_dict(self) -> dict[str, str]:
        return {
            "futuresWallet": str(self.futures_wallet),
            "spotWallet": str(self.spot_wallet),
            "totalSwept": str(self.total_swept),
            "highWatermark": str(self.high_watermark),
            "lockedProfit": str(self.locked_profit),
            "riskCapital": str(self.risk_capital),
        }


def treasury(nav: Nav, *, spot_wallet: Decimal, total_swept: Decimal) -> Treasury:
    futures = nav.equity if nav.equity is not None else ZERO
    return Treasury(
        futures_wallet=futures,
        spot_wallet=spot_wallet,
        total_swept=total_swept,
        high_watermark=nav.high_watermark if nav.high_watermark is not None else futures,
        locked_profit=total_swept,
        risk_capital=futures,
    )
