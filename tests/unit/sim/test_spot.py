"""Pure tests of the MEXC face's spot account: no I/O, time and quotes passed in."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from titan_sim.api.mexc.spot_requests import enter_order
from titan_sim.core.instruments import KNOWN
from titan_sim.core.model import ExchangeError
from titan_sim.core.spot import (
    BAD_SYMBOL,
    DUPLICATE_CLIENT_ID,
    INSUFFICIENT_BALANCE,
    INSUFFICIENT_POSITION,
    MAX_OPEN_ORDERS,
    MAX_ORDERS,
    NO_ORDER_REF,
    PRICE_OUT_OF_RANGE,
    TAKER_FEE_RATE,
    UNKNOWN_ORDER,
    Quotes,
    SpotAccount,
    SpotOrderRef,
    SpotStatus,
    SpotSymbol,
)

D = Decimal
T0 = 1_700_000_000_000
# the crowd: bids 99.9, 99.8, ...; asks 100.1, 100.2, ... with 1 unit each, mid 100
QUOTES = Quotes(
    bids=[(D("99.9") - D("0.1") * i, D(1)) for i in range(10)],
    asks=[(D("100.1") + D("0.1") * i, D(1)) for i in range(10)],
    mid=D(100),
)


def account(usdt: str = "10000") -> SpotAccount:
    spec = SpotSymbol("XUSDT", "X", "USDT", D("0.1"), D("0.01"))
    return SpotAccount({"XUSDT": spec, "BTCUSDT": SpotSymbol.of(KNOWN["BTCUSDT"])}, D(usdt), seed=1)


def place(spot: SpotAccount, quotes: Quotes = QUOTES, now: int = T0, **params: Any) -> Any:
    # the MEXC face's parsing, then the typed request
    return enter_order(spot, {"symbol": "XUSDT", "side": "BUY", "type": "LIMIT", **params}, quotes, now)


def balances(spot: SpotAccount, asset: str) -> tuple[Decimal, Decimal]:
    held = spot.balance(asset)
    return held.free, held.locked


def test_resting_limit_buy_locks_quote_and_cancel_releases_it() -> None:
    spot = account()
    order = place(spot, quantity="2", price="99.5", newClientOrderId="c1")
    assert order.status is SpotStatus.NEW
    assert balances(spot, "USDT") == (D("9801.0"), D("199.0"))
    assert spot.find(SpotOrderRef("XUSDT", client_order_id="c1")) is order
    spot.cancel(SpotOrderRef("XUSDT", order.order_id), T0 + 1)
    assert order.status is SpotStatus.CANCELED
    assert order.update_ms == T0 + 1
    assert balances(spot, "USDT") == (D(10000), D(0))
    with pytest.raises(ExchangeError) as refused:
        spot.cancel(SpotOrderRef("XUSDT", order.order_id), T0 + 2)
    assert refused.value.code == UNKNOWN_ORDER


def test_marketable_limit_takes_then_rests_and_a_better_price_frees_the_lock() -> None:
    spot = account()
    order = place(spot, quantity="3", price="100.2")  # takes 1 @100.1 and 1 @100.2, rests 1
    assert order.status is SpotStatus.PARTIALLY_FILLED
    assert order.executed_qty == D(2)
    assert order.cummulative_quote_qty == D("200.3")
    usdt_free, usdt_locked = balances(spot, "USDT")
    assert usdt_locked == D("100.2")  # what the resting unit still holds
    assert usdt_free == D(10000) - D("200.3") - D("100.2")
    fee = D(2) * TAKER_FEE_RATE
    assert balances(spot, "X") == (D(2) - fee, D(0))
    assert [t.is_maker for t in spot.trades] == [False, False]


def test_resting_order_fills_as_maker_when_the_market_crosses_it() -> None:
    spot = account()
    order = place(spot, quantity="1", price="99.5")
    assert spot.on_quotes("XUSDT", D("99.4"), D("99.6"), T0 + 5) == []
    assert spot.on_quotes("XUSDT", D("99.3"), D("99.5"), T0 + 6) == [order]
    assert order.status is SpotStatus.FILLED
    trade = spot.trades[-1]
    assert (trade.price, trade.is_maker, trade.commission, trade.time_ms) == (D("99.5"), True, D(0), T0 + 6)
    assert balances(spot, "USDT") == (D("9900.5"), D(0))
    assert balances(spot, "X") == (D(1), D(0))


def test_market_buy_by_quantity_walks_the_book_and_pays_the_taker_fee_in_base() -> None:
    spot = account()
    order = place(spot, type="MARKET", quantity="1.5")
    assert order.status is SpotStatus.FILLED
    assert order.cummulative_quote_qty == D("100.1") + D("0.5") * D("100.2")
    assert balances(spot, "X")[0] == D("1.5") * (1 - TAKER_FEE_RATE)
    assert balances(spot, "USDT") == (D(10000) - order.cummulative_quote_qty, D(0))


def test_market_buy_by_quote_spends_at_most_the_amount() -> None:
    spot = account()
    order = place(spot, type="MARKET", quoteOrderQty="150")
    assert order.status is SpotStatus.FILLED
    assert order.cummulative_quote_qty <= D(150)
    assert D(150) - order.cummulative_quote_qty < D("100.2") * D("0.01")
    assert balances(spot, "USDT") == (D(10000) - order.cummulative_quote_qty, D(0))


def test_market_sell_pays_the_fee_in_quote_and_needs_the_base() -> None:
    spot = account()
    with pytest.raises(ExchangeError) as refused:
        place(spot, side="SELL", type="MARKET", quantity="1")
    assert refused.value.code == INSUFFICIENT_POSITION
    spot.set_balance("x", D(2))
    order = place(spot, side="SELL", type="MARKET", quantity="1")
    assert order.status is SpotStatus.FILLED
    assert balances(spot, "X") == (D(1), D(0))
    assert balances(spot, "USDT")[0] == D(10000) + D("99.9") * (1 - TAKER_FEE_RATE)
    assert spot.trades[-1].commission_asset == "USDT"


def test_market_order_beyond_the_band_is_partially_cancelled() -> None:
    spot = account()
    thin = Quotes(bids=QUOTES.bids, asks=[(D("100.1"), D(1)), (D(110), D(5))], mid=D(100))
    order = place(spot, thin, type="MARKET", quantity="3")
    assert order.status is SpotStatus.PARTIALLY_CANCELED
    assert order.executed_qty == D(1)
    assert balances(spot, "USDT") == (D(10000) - D("100.1"), D(0))


def test_immediate_or_cancel_fill_or_kill_and_limit_maker() -> None:
    spot = account()
    ioc = place(spot, type="IMMEDIATE_OR_CANCEL", quantity="3", price="100.1")
    assert (ioc.status, ioc.executed_qty) == (SpotStatus.PARTIALLY_CANCELED, D(1))
    fok = place(spot, type="FILL_OR_KILL", quantity="3", price="100.2")
    assert (fok.status, fok.executed_qty) == (SpotStatus.CANCELED, D(0))
    fok_ok = place(spot, type="FILL_OR_KILL", quantity="2", price="100.2")
    assert fok_ok.status is SpotStatus.FILLED
    maker_crossing = place(spot, type="LIMIT_MAKER", quantity="1", price="100.5")
    assert (maker_crossing.status, maker_crossing.executed_qty) == (SpotStatus.CANCELED, D(0))
    maker = place(spot, type="LIMIT_MAKER", quantity="1", price="99")
    assert maker.status is SpotStatus.NEW
    assert spot.list_open("XUSDT") == [maker]
    assert balances(spot, "USDT")[1] == D(99)


def test_refusals_carry_mexc_codes_and_every_request_is_recorded() -> None:
    spot = account(usdt="50")
    place(spot, quantity="0.1", price="99", newClientOrderId="dup")
    cases: list[tuple[dict[str, Any], int]] = [
        ({"newClientOrderId": "dup", "quantity": "0.1", "price": "99"}, DUPLICATE_CLIENT_ID),
        ({"quantity": "1", "price": "99"}, INSUFFICIENT_BALANCE),
        ({"quantity": "0.1", "price": "1000"}, PRICE_OUT_OF_RANGE),
        ({"symbol": "NOPEUSDT", "quantity": "0.1", "price": "99"}, BAD_SYMBOL),
    ]
    for params, code in cases:
        with pytest.raises(ExchangeError) as refused:
            place(spot, **params)
        assert refused.value.code == code
    assert [r.code for r in spot.received] == [0] + [code for _, code in cases]
    with pytest.raises(ExchangeError) as no_ref:
        spot.find(SpotOrderRef("XUSDT"))
    assert no_ref.value.code == NO_ORDER_REF


def test_at_most_500_open_orders() -> None:
    spot = account(usdt="1000000")
    for _ in range(MAX_OPEN_ORDERS):
        place(spot, quantity="0.1", price="90")
    with pytest.raises(ExchangeError) as refused:
        place(spot, quantity="0.1", price="90")
    assert refused.value.code == MAX_ORDERS
    assert len(spot.cancel_all("XUSDT", T0)) == MAX_OPEN_ORDERS
    assert balances(spot, "USDT") == (D(1000000), D(0))


def test_same_inputs_give_the_same_ids_and_fills() -> None:
    def run() -> list[tuple[str, Decimal, Decimal]]:
        spot = account()
        place(spot, type="MARKET", quantity="2.5")
        place(spot, quantity="1", price="99.5")
        spot.on_quotes("XUSDT", D(99), D("99.4"), T0 + 1)
        return [(t.trade_id, t.price, t.qty) for t in spot.trades]

    assert run() == run()
