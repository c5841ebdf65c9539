"""The venue registry: a name and its settings give an adapter; anything else stops the
process at start with one clear message."""

from __future__ import annotations

import pytest

from titan_common.exchanges.registry import VENUES, VenueError, adapter_for, venue, venue_settings
from titan_common.settings import CommonSettings, SettingsError, load_settings


def test_every_registered_venue_builds_its_adapter_from_its_defaults() -> None:
    for name in VENUES:
        adapter = adapter_for(name, {})
        assert adapter.name == name
        adapter.http.close()  # type: ignore[attr-defined]


def test_an_unknown_venue_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(VenueError, match=r"unknown venue 'kraken'; known venues: bybit"):
        venue("kraken")


def test_an_unknown_venue_in_titan_venues_stops_the_process_with_one_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TITAN_VENUES", "bybit, kraken")
    with pytest.raises(SettingsError) as refused:
        load_settings(CommonSettings, exit_on_error=False)
    assert str(refused.value).splitlines()[1:] == [
        "  TITAN_VENUES='bybit, kraken': unknown venue 'kraken'; known venues: bybit"
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
