"""Bybit v5 public market payloads -> the shared types (klines, tickers, funding, open interest)."""

from __future__ import annotations

from decimal import Decimal as D

from titan_common.exchanges.bybit import parsing as P


def test_rest_klines_come_back_oldest_first() -> None:
    rows = [
        ["1700000060000", "101", "102", "100.5", "101.5", "12.5", "1268.75"],
        ["1700000000000", "100", "101.2", "99.8", "101", "10", "1005"],
    ]
    bars = P.klines(rows)
    assert [b.start_ms for b in bars] == [1_700_000_000_000, 1_700_000_060_000]
    first = bars[0]
    assert (first.open, first.high, first.low, first.close) == (D("100"), D("101.2"), D("99.8"), D("101"))
    assert (first.volume, first.turnover) == (D("10"), D("1005"))


def test_ws_kline_item() -> None:
    item = {
        "start": 1_700_000_000_000,
        "end": 1_700_000_059_999,
        "interval": "1",
        "open": "100",
        "close": "100.5",
        "high": "100.9",
        "low": "99.9",
        "volume": "3.2",
        "turnover": "321.6",
        "confirm": False,
        "timestamp": 1_700_000_030_000,
    }
    bar = P.ws_kline(item)
    assert bar.start_ms == 1_700_000_000_000
    assert bar.close == D("100.5")
    assert bar.turnover == D("321.6")


def test_ticker_with_turnover_funding_and_open_interest() -> None:
    item = {
        "symbol": "BTCUSDT",
        "lastPrice": "65000.5",
        "markPrice": "65001",
        "indexPrice": "64990.2",
        "turnover24h": "123456789.1234",
        "volume24h": "1900.5",
        "highPrice24h": "66000",
        "lowPrice24h": "64000",
        "fundingRate": "-0.00012",
        "nextFundingTime": "1700006400000",
        "openInterest": "5123.456",
        "basis": "",
    }
    ticker = P.ticker(item)
    assert ticker.symbol == "BTCUSDT"
    assert ticker.last_price == D("65000.5")
    assert ticker.index_price == D("64990.2")
    assert ticker.turnover_24h == D("123456789.1234")
    assert ticker.funding_rate == D("-0.00012")
    assert ticker.next_funding_ms == 1_700_006_400_000
    assert ticker.open_interest == D("5123.456")


def test_ticker_without_index_funding_or_open_interest() -> None:
    ticker = P.ticker({"symbol": "ETHUSDT", "lastPrice": "3000", "indexPrice": "", "fundingRate": ""})
    assert ticker.index_price is None
    assert ticker.funding_rate is None
    assert ticker.open_interest is None
    assert ticker.next_funding_ms is None
    assert ticker.turnover_24h == D(0)


def test_funding_and_open_interest_items() -> None:
    funding = P.funding_rate({"symbol": "BTCUSDT", "fundingRate": "0.0001", "fundingRateTimestamp": "1700000000000"})
    assert (funding.rate, funding.ts_ms) == (D("0.0001"), 1_700_000_000_000)
    oi = P.open_interest("BTCUSDT", {"openInterest": "4000.125", "timestamp": "1700000300000"})
    assert (oi.symbol, oi.open_interest, oi.ts_ms) == ("BTCUSDT", D("4000.125"), 1_700_000_300_000)
