"""The price band: an entry is refused once the venue's price has moved a share of its stop distance."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from pydantic import ValidationError

from titan_common.messages import Correlation, IntentKind, OrderIntent, OrderType, Side, client_order_id_for
from titan_common.reasons import ReasonCode
from titan_execution.core.price_band import price_band_refusal
from titan_execution.settings import ExecutionSettings

SHARE = D("0.25")


def entry(side: Side = Side.BUY, reference: str | None = "100", stop: str = "98", **extra: object) -> OrderIntent:
    """An entry decided at `reference` with its stop: a stop distance of 2, a band of 0.5."""
    return OrderIntent(
        intent_id="i1",
        client_order_id=client_order_id_for("i1"),
        ts_ms=1_000,
        correlation=Correlation(run_id="r"),
        symbol="BTCUSDT",
        side=side,
        qty=D(1),
        reference_price=None if reference is None else D(reference),
        stop_loss=D(stop),
        ttl_ms=60_000,
        **extra,  # type: ignore[arg-type]
    )


def exit_of(side: Side = Side.SELL, reference: str | None = "100") -> OrderIntent:
    return OrderIntent(
        intent_id="x1",
        client_order_id=client_order_id_for("x1"),
        ts_ms=1_000,
        correlation=Correlation(run_id="r"),
        kind=IntentKind.EXIT,
        symbol="BTCUSDT",
        side=side,
        qty=D(1),
        reference_price=None if reference is None else D(reference),
        reduce_only=True,
        ttl_ms=60_000,
    )


@pytest.mark.parametrize("current", ["100", "100.5", "99.5", "100.25"])
def test_within_the_band_goes(current: str) -> None:
    assert price_band_refusal(entry(), D(current), SHARE) is None


@pytest.mark.parametrize("current", ["100.51", "99.49", "103", "150"])
def test_beyond_the_band_is_refused_with_price_moved(current: str) -> None:
    refusal = price_band_refusal(entry(), D(current), SHARE)
    assert refusal is not None
    assert refusal.reason is ReasonCode.PRICE_MOVED
    assert (refusal.reference, refusal.current, refusal.allowed) == (D(100), D(current), D("0.50"))
    assert refusal.figures() == {
        "reference": "100",
        "current": current,
        "allowed_move": "0.50",
        "detail": refusal.detail,
    }


def test_the_band_is_symmetric_for_a_short() -> None:
    short = entry(Side.SELL, "100", "102")
    assert price_band_refusal(short, D("100.5"), SHARE) is None
    assert price_band_refusal(short, D("99.5"), SHARE) is None
    for moved in ("100.6", "99.4"):
        refusal = price_band_refusal(short, D(moved), SHARE)
        assert refusal is not None
        assert refusal.reason is ReasonCode.PRICE_MOVED


def test_the_band_scales_with_the_share() -> None:
    assert price_band_refusal(entry(), D("101"), D("0.5")) is None  # half of 2
    assert price_band_refusal(entry(), D("101.01"), D("0.5")) is not None
    assert price_band_refusal(entry(), D("101.99"), D(1)) is None


@pytest.mark.parametrize(("side", "reference", "stop", "current"), [(Side.BUY, "100", "98", "98"),
                                                                     (Side.SELL, "100", "102", "102")])  # fmt: skip
def test_a_price_at_or_through_the_stop_is_refused_even_with_the_widest_band(
    side: Side, reference: str, stop: str, current: str
) -> None:
    refusal = price_band_refusal(entry(side, reference, stop), D(current), D(1))
    assert refusal is not None
    assert refusal.reason is ReasonCode.PRICE_MOVED
    assert "through the stop" in refusal.detail


@pytest.mark.parametrize("current", [None, D(0)])
def test_an_unknown_price_refuses_the_entry(current: D | None) -> None:
    refusal = price_band_refusal(entry(), current, SHARE)
    assert refusal is not None
    assert refusal.reason is ReasonCode.PRICE_MOVED
    assert refusal.current is None
    assert "unknown" in refusal.detail


def test_an_entry_without_a_reference_price_is_refused() -> None:
    refusal = price_band_refusal(entry(reference=None), D(100), SHARE)
    assert refusal is not None
    assert refusal.reason is ReasonCode.SIGNAL_INVALID


def test_a_limit_entry_without_a_reference_is_banded_on_its_price() -> None:
    limit = entry(reference=None, order_type=OrderType.LIMIT, price=D(100))
    assert price_band_refusal(limit, D("100.5"), SHARE) is None
    assert price_band_refusal(limit, D("100.6"), SHARE) is not None


@pytest.mark.parametrize("current", [D(1), D(1_000_000), None, D(0)])
def test_an_exit_is_never_refused_for_price(current: D | None) -> None:
    assert price_band_refusal(exit_of(), current, SHARE) is None
    assert price_band_refusal(exit_of(Side.BUY, reference=None), current, SHARE) is None
    # reduce-only is an exit whatever its kind says
    assert price_band_refusal(entry(reduce_only=True), current, SHARE) is None


@pytest.mark.parametrize("share", [D(0), D("-0.1"), D("1.01")])
def test_the_share_is_bounded(share: D) -> None:
    with pytest.raises(ValueError, match="band_share"):
        price_band_refusal(entry(), D(100), share)


def test_the_setting_is_bounded_like_the_others() -> None:
    urls = {"database_url": "postgresql://u@h/db", "redis_url": "redis://h:6379/0"}
    assert ExecutionSettings(**urls).price_band_share == D("0.25")  # type: ignore[arg-type]
    assert ExecutionSettings(**urls, price_band_share="0.5").price_band_share == D("0.5")  # type: ignore[arg-type]
    for bad in ("0", "1.5", "-0.2"):
        with pytest.raises(ValidationError):
            ExecutionSettings(**urls, price_band_share=bad)  # type: ignore[arg-type]
