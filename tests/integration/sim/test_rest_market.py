"""Public market endpoints through unmodified pybit."""

from __future__ import annotations

import itertools
import time
from decimal import Decimal

import pytest
from pybit.exceptions import InvalidRequestError

from tests.integration.sim.conftest import Sim

pytestmark = pytest.mark.integration


def test_server_time_is_the_wall_clock(sim: Sim) -> None:
    result = sim.http().get_server_time()["result"]
    assert abs(int(result["timeSecond"]) - time.time()) < 5
    assert int(result["timeNano"]) // 1_000_000_000 == int(result["timeSecond"])


def test_instruments_info_has_the_filters(sim: Sim) -> None:
    result = sim.http().get_instruments_info(category="linear")["result"]
    assert result["category"] == "linear"
    assert result["nextPageCursor"] == ""
    symbols = {row["symbol"]: row for row in result["list"]}
    assert set(symbols) == {"BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT"}
    btc = symbols["BTCUSDT"]
    assert btc["contractType"] == "LinearPerpetual"
    assert btc["status"] == "Trading"
    assert (btc["baseCoin"], btc["quoteCoin"], btc["settleCoin"]) == ("BTC", "USDT", "USDT")
    assert btc["priceFilter"]["tickSize"] == "0.10"
    assert set(btc["priceFilter"]) >= {"minPrice", "maxPrice", "tickSize"}
    lot = btc["lotSizeFilter"]
    assert lot["qtyStep"] == "0.001"
    assert set(lot) >= {"minOrderQty", "maxOrderQty", "qtyStep", "maxMktOrderQty", "minNotionalValue"}
    assert set(btc["leverageFilter"]) == {"minLeverage", "maxLeverage", "leverageStep"}
    assert btc["fundingInterval"] == 480
    paged = sim.http().get_instruments_info(category="linear", limit=3)["result"]
    assert len(paged["list"]) == 3
    assert paged["nextPageCursor"]
    rest = sim.http().get_instruments_info(category="linear", limit=3, cursor=paged["nextPageCursor"])["result"]
    assert [r["symbol"] for r in rest["list"]] == ["DOGEUSDT"]
    assert rest["nextPageCursor"] == ""


def test_tickers(sim: Sim) -> None:
    ticker = sim.http().get_tickers(category="linear", symbol="ETHUSDT")["result"]["list"][0]
    for key in (
        "lastPrice", "markPrice", "indexPrice", "bid1Price", "bid1Size", "ask1Price", "ask1Size", "fundingRate",
        "nextFundingTime", "openInterest", "volume24h", "turnover24h", "price24hPcnt", "highPrice24h", "lowPrice24h",
    ):  # fmt: skip
        assert isinstance(ticker[key], str), key
        assert ticker[key], key
    assert Decimal(ticker["bid1Price"]) < Decimal(ticker["ask1Price"])
    assert Decimal(ticker["lowPrice24h"]) <= Decimal(ticker["lastPrice"]) <= Decimal(ticker["highPrice24h"])
    assert int(ticker["nextFundingTime"]) % (8 * 3600 * 1000) == 0
    everything = sim.http().get_tickers(category="linear")["result"]["list"]
    assert len(everything) == 4


@pytest.mark.parametrize("interval", ["1", "5", "15", "60", "240", "D"])
def test_klines_have_seven_days_of_history(sim: Sim, interval: str) -> None:
    rows = sim.http().get_kline(category="linear", symbol="BTCUSDT", interval=interval, limit=1000)["result"]["list"]
    minutes = {"1": 1, "5": 5, "15": 15, "60": 60, "240": 240, "D": 1440}[interval]
    expected = min(1000, 7 * 1440 // minutes)
    assert len(rows) >= expected
    starts = [int(r[0]) for r in rows]
    assert starts == sorted(starts, reverse=True)  # newest first
    assert all(a - b == minutes * 60_000 for a, b in itertools.pairwise(starts)) or interval == "D"
    for _start, o, h, low, c, volume, turnover in rows[:50]:
        assert Decimal(low) <= min(Decimal(o), Decimal(c)) <= max(Decimal(o), Decimal(c)) <= Decimal(h)
        assert Decimal(volume) >= 0
        assert Decimal(turnover) >= 0


def test_kline_window_and_bad_interval(sim: Sim) -> None:
    session = sim.http()
    now = int(time.time() * 1000)
    rows = session.get_kline(category="linear", symbol="BTCUSDT", interval="1", start=now - 3_600_000, end=now)
    assert 59 <= len(rows["result"]["list"]) <= 61
    with pytest.raises(InvalidRequestError) as err:
        session.get_kline(category="linear", symbol="BTCUSDT", interval="7")
    assert err.value.status_code == 10001


def test_orderbook_is_sorted_and_not_crossed(sim: Sim) -> None:
    result = sim.http().get_orderbook(category="linear", symbol="BTCUSDT", limit=50)["result"]
    bids = [Decimal(p) for p, _q in result["b"]]
    asks = [Decimal(p) for p, _q in result["a"]]
    assert len(bids) == len(asks) == 50
    assert bids == sorted(bids, reverse=True)
    assert asks == sorted(asks)
    assert bids[0] < asks[0]
    assert result["s"] == "BTCUSDT"
    assert {"ts", "u", "seq", "cts"} <= set(result)


def test_recent_trades_and_funding_history(sim: Sim) -> None:
    session = sim.http()
    time.sleep(1.0)  # let the crowd print
    trades = session.get_public_trade_history(category="linear", symbol="SOLUSDT", limit=5)["result"]["list"]
    assert trades
    assert set(trades[0]) >= {"execId", "symbol", "price", "size", "side", "time", "isBlockTrade", "seq"}
    times = [int(t["time"]) for t in trades]
    assert times == sorted(times, reverse=True)
    history = session.get_funding_rate_history(category="linear", symbol="BTCUSDT", limit=5)["result"]["list"]
    assert len(history) == 5
    stamps = [int(h["fundingRateTimestamp"]) for h in history]
    assert stamps == sorted(stamps, reverse=True)
    assert all(a - b == 8 * 3_600_000 for a, b in itertools.pairwise(stamps))
    assert all(abs(Decimal(h["fundingRate"])) < Decimal("0.0075") for h in history)


def test_unknown_symbol_is_a_bad_parameter(sim: Sim) -> None:
    with pytest.raises(InvalidRequestError) as err:
        sim.http().get_tickers(category="linear", symbol="NOPEUSDT")
    assert err.value.status_code == 10001
