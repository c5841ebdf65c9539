"""The venue registry: a name and its settings give an adapter; anything else stops the
process at start with one clear message."""

from __future__ import annotations

import asyncio

import pytest

from titan_common.exchanges.registry import VENUES, VenueError, adapter_for, venue, venue_settings
from titan_common.settings import CommonSettings, SettingsError, load_settings


def test_every_registered_venue_builds_its_adapter_from_its_defaults() -> None:
    for name in VENUES:
        adapter = adapter_for(name, {})
        assert adapter.name == name
        asyncio.run(adapter.close())


def test_venue_traits_say_what_a_venue_is_without_importing_its_folder() -> None:
    assert (venue("bybit").spot, venue("bybit").private_stream) == (False, True)
    assert (venue("mexc").spot, venue("mexc").private_stream) == (True, False)
    assert venue(" MEXC ").name == "mexc"


def test_an_unknown_venue_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(VenueError, match=r"unknown venue 'kraken'; known venues: bybit, mexc"):
        venue("kraken")


def test_an_unknown_venue_in_titan_venues_stops_the_process_with_one_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TITAN_VENUES", "bybit, kraken")
    with pytest.raises(SettingsError) as refused:
        load_settings(CommonSettings, exit_on_error=False)
    assert str(refused.value).splitlines()[1:] == [
        "  TITAN_VENUES='bybit, kraken': unknown venue 'kraken'; known venues: bybit, mexc"
    ]


def test_titan_venues_is_a_comma_list_defaulting_to_bybit(monkeypatch: pytest.MonkeyPatch) -> None:
    assert CommonSettings().venues == ["bybit"]
    monkeypatch.setenv("TITAN_VENUES", " Bybit ,")
    assert CommonSettings().venues == ["bybit"]
    monkeypatch.setenv("TITAN_VENUES", " , ")
    with pytest.raises(SettingsError, match="name at least one venue"):
        load_settings(CommonSettings, exit_on_error=False)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"recv_window": 5}, "TITAN_BYBIT_RECV_WINDOW: Input should be greater than or equal to 1000"),
        ({"endpoint": "ftp://x"}, "TITAN_BYBIT_ENDPOINT: must be http(s)://host[:port] or one of mainnet, testnet"),
        ({"api_key": "k"}, "api_key and api_secret go together"),
        ({"timeout_s": 0}, "TITAN_BYBIT_TIMEOUT_S"),
    ],
)
def test_bybit_settings_are_validated(options: dict[str, object], message: str) -> None:
    with pytest.raises(VenueError, match="venue bybit: ") as refused:
        venue_settings("bybit", options)
    assert message in str(refused.value)


def test_bybit_named_endpoints_resolve() -> None:
    assert venue_settings("bybit", {"endpoint": "testnet"}).endpoint == "https://api-testnet.bybit.com"  # type: ignore[attr-defined]
    assert venue_settings("bybit", {"endpoint": "http://127.0.0.1:9100/"}).endpoint == "http://127.0.0.1:9100"  # type: ignore[attr-defined]


def test_a_bad_venue_option_in_the_environment_stops_the_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TITAN_BYBIT_API_SECRET", "only-a-secret")
    with pytest.raises(SettingsError) as refused:
        load_settings(CommonSettings, exit_on_error=False)
    assert "venue bybit: api_key and api_secret go together" in str(refused.value)
    assert "only-a-secret" not in str(refused.value)  # a secret is never echoed


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"recv_window": 999}, "TITAN_MEXC_RECV_WINDOW: Input should be greater than or equal to 1000"),
        ({"recv_window": 60001}, "TITAN_MEXC_RECV_WINDOW: Input should be less than or equal to 60000"),
        ({"endpoint": "ws://x"}, "TITAN_MEXC_ENDPOINT: must be http(s)://host[:port] or one of mainnet"),
        ({"api_secret": "s"}, "api_key and api_secret go together"),
        ({"market": "futures"}, "TITAN_MEXC_MARKET: Input should be 'spot' or 'swap'"),
        ({"timeout_s": 0}, "TITAN_MEXC_TIMEOUT_S"),
    ],
)
def test_mexc_settings_are_validated(options: dict[str, object], message: str) -> None:
    with pytest.raises(VenueError, match="venue mexc: ") as refused:
        venue_settings("mexc", options)
    assert message in str(refused.value)


def test_mexc_settings_defaults_and_words() -> None:
    defaults = venue_settings("mexc", {})
    assert defaults.endpoint == "http://127.0.0.1:9101"  # type: ignore[attr-defined]
    assert defaults.market == "spot"  # type: ignore[attr-defined]
    assert defaults.recv_window == 5000  # type: ignore[attr-defined]
    chosen = venue_settings("mexc", {"endpoint": " Mainnet ", "market": "SWAP", "symbols": "btcusdt, ETHUSDT,,btcusdt"})
    assert chosen.endpoint == "https://api.mexc.com"  # type: ignore[attr-defined]
    assert chosen.market == "swap"  # type: ignore[attr-defined]
    assert chosen.symbols == ("BTCUSDT", "ETHUSDT")  # type: ignore[attr-defined]


def test_mexc_adapter_speaks_to_its_endpoint_only() -> None:
    adapter = adapter_for("mexc", {"endpoint": "http://127.0.0.1:1", "api_key": "k", "api_secret": "s"})
    client = adapter.http.client  # type: ignore[attr-defined]
    try:
        signed = client.sign("order", ["spot", "private"], "POST", {"symbol": "BTCUSDT", "quantity": "1"})
        assert signed["url"].startswith("http://127.0.0.1:1/api/v3/order?symbol=BTCUSDT&quantity=1&timestamp=")
        assert signed["headers"]["X-MEXC-APIKEY"] == "k"
        assert (
            client.sign("detail", ["contract", "public"], "GET", {})["url"]
            == "http://127.0.0.1:1/api/v1/contract/detail"
        )
        assert client.enableRateLimit is False
        assert client.has["fetchCurrencies"] is False
    finally:
        asyncio.run(adapter.close())
