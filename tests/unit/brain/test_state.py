"""The brain's in-memory state, fed by events (no I/O): only its own account counts,
approved entries count as positions until reported, equity goes stale, losses count
from the breaker's last change."""

from __future__ import annotations

from decimal import Decimal as D

from tests.unit.brain.builders import NOW
from titan_brain.core.breaker import BreakerState
from titan_brain.core.types import OpenPosition
from titan_brain.runtime.feeds import apply_event, wallet_from
from titan_brain.runtime.state import BrainState, Pending
from titan_brain.settings import BrainSettings
from titan_common.config import ActiveConfig, TradingConfig
from titan_common.events import PositionUpdate, TradeClosed, WalletUpdate, payload_of
from titan_common.messages import Event, Side
from titan_common.system_state import Mode


def state() -> BrainState:
    settings = BrainSettings(database_url="postgresql://u@h/db", redis_url="redis://h:6379/0", exchange="acct")
    return BrainState(settings=settings, config=ActiveConfig("t", TradingConfig(), 0, "t"))


def event(kind: str, payload: object, ts: int = NOW) -> Event:
    return Event(ts_ms=ts, service="execution", event_type=kind, payload=payload_of(payload))  # type: ignore[arg-type]


def wallet(exchange: str, equity: str) -> WalletUpdate:
    value = D(equity)
    return WalletUpdate(
        exchange=exchange, equity=value, wallet_balance=value, available_balance=value, unrealised_pnl=D(0),
        initial_margin=D(0),
    )  # fmt: skip


def test_only_the_brains_own_account_counts() -> None:
    s = state()
    assert apply_event(s, event("WALLET_UPDATE", wallet("other", "5"))).equity is False
    assert s.nav.equity is None
    assert apply_event(s, event("WALLET_UPDATE", wallet("acct", "10000"))).equity is True
    assert s.nav.equity == D(10000)
    assert s.phase == 2


def test_equity_goes_stale_and_then_is_unknown() -> None:
    s = state()
    apply_event(s, event("WALLET_UPDATE", wallet("acct", "10000"), ts=NOW))
    assert s.portfolio(NOW + 59_000, mode=Mode.NORMAL, armed=True).equity == D(10000)
    assert s.portfolio(NOW + 61_000, mode=Mode.NORMAL, armed=True).equity is None


def test_an_approved_entry_counts_until_execution_reports_the_position() -> None:
    s = state()
    waiting = OpenPosition("BTCUSDT", Side.BUY, D(1), D(100), pending=True)
    s.add_pending("BTCUSDT", Pending(waiting, "i-1", expires_at_ms=NOW + 10_000))
    assert [p.symbol for p in s.open_positions(NOW)] == ["BTCUSDT"]
    # past its intent's expiry plus the grace, it no longer counts
    assert s.open_positions(NOW + 10_000 + s.settings.pending_grace_ms + 1) == ()
    update = PositionUpdate(
        exchange="acct", symbol="BTCUSDT", side=Side.BUY, size=D(1), avg_entry=D(101), mark_price=D(102),
        realised_pnl=D(0), fees=D(0),
    )  # fmt: skip
    apply_event(s, event("POSITION_UPDATE", update))
    assert s.pending == {}
    [reported] = s.open_positions(NOW)
    assert (reported.pending, reported.mark_price) == (False, D(102))
    flat = update.model_copy(update={"side": None, "size": D(0)})
    apply_event(s, event("POSITION_UPDATE", flat))
    assert s.open_positions(NOW) == ()


def test_losses_count_from_the_breakers_last_change() -> None:
    s = state()
    for i, pnl in enumerate(("-1", "-2", "5", "-3", "-4")):
        closed = TradeClosed(
            exchange="acct", symbol="ETHUSDT", side=Side.BUY, qty=D(1), entry_price=D(100), exit_price=D(99),
            pnl=D(pnl), fees=D(0), r_multiple=None, opened_ms=NOW + i - 10, closed_ms=NOW + i,
        )  # fmt: skip
        apply_event(s, event("TRADE_CLOSED", closed))
    assert s.losses_in_a_row() == 2
    s.breaker = BreakerState(changed_ms=NOW + 3)
    assert s.losses_in_a_row() == 1


def test_wallet_endpoint_body_is_the_wallet_update_fields() -> None:
    body = payload_of(wallet("acct", "123.45"))
    parsed = wallet_from(body)
    assert parsed is not None
    assert parsed.equity == D("123.45")
    assert wallet_from({"equity": "1"}) is None
