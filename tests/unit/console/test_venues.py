"""One operator action across every venue's execution, made into one answer. No I/O."""

from __future__ import annotations

from titan_console.core.venues import (
    VenueFailure,
    every_venue_failed,
    merge_actions,
    merge_orders,
    merge_positions,
    merge_traps,
)

BYBIT = {
    "success": True,
    "positions_closed": 2,
    "orders_cancelled": 1,
    "results": [{"symbol": "BTCUSDT", "success": True}, {"symbol": "ETHUSDT", "success": True}],
    "message": "flattened",
}
MEXC = {
    "success": True,
    "positions_closed": 1,
    "orders_cancelled": 0,
    "results": [{"symbol": "BTCUSDT", "success": True}],
}


def test_a_flatten_over_both_venues_adds_up_and_reports_each() -> None:
    merged = merge_actions({"bybit": BYBIT, "mexc": MEXC})
    assert merged["success"] is True
    assert (merged["positions_closed"], merged["orders_cancelled"]) == (3, 1)
    # the manual's per-symbol results, as they are; each venue's under its own name too
    assert [r["symbol"] for r in merged["results"]] == ["BTCUSDT", "ETHUSDT", "BTCUSDT"]
    assert merged["results"][0] == {"symbol": "BTCUSDT", "success": True}
    assert merged["venues"] == {
        "bybit": {"success": True, "positions_closed": 2, "orders_cancelled": 1, "results": BYBIT["results"]},
        "mexc": {"success": True, "positions_closed": 1, "orders_cancelled": 0, "results": MEXC["results"]},
    }
    assert merged["message"] == "flattened"


def test_one_venue_alone_keeps_the_runbook_answer() -> None:
    merged = merge_actions({"bybit": BYBIT})
    assert {k: merged[k] for k in ("success", "positions_closed", "orders_cancelled", "message")} == {
        "success": True, "positions_closed": 2, "orders_cancelled": 1, "message": "flattened",
    }  # fmt: skip


def test_a_venue_that_did_not_answer_never_hides_what_the_other_did() -> None:
    down = VenueFailure("EXECUTION-MEXC_UNAVAILABLE", "execution-mexc did not answer")
    merged = merge_actions({"bybit": BYBIT, "mexc": down})
    assert merged["success"] is False
    assert merged["positions_closed"] == 2
    assert merged["venues"]["mexc"] == {
        "success": False, "error": "EXECUTION-MEXC_UNAVAILABLE", "message": "execution-mexc did not answer",
    }  # fmt: skip
    assert every_venue_failed({"bybit": BYBIT, "mexc": down}) is None
    assert every_venue_failed({"mexc": down}) == down


def test_a_venue_that_refused_makes_the_whole_action_unsuccessful() -> None:
    merged = merge_actions({"bybit": {**BYBIT, "success": False}, "mexc": MEXC})
    assert merged["success"] is False
    assert merged["venues"]["bybit"]["success"] is False


def test_positions_of_every_venue_in_one_list() -> None:
    bybit = {"count": 1, "positions": [{"exchange": "bybit", "symbol": "BTCUSDT"}]}
    mexc = {"count": 1, "positions": [{"exchange": "mexc", "symbol": "BTCUSDT"}]}
    assert merge_positions({"bybit": bybit, "mexc": mexc}) == {
        "count": 2,
        "positions": [
            {"exchange": "bybit", "symbol": "BTCUSDT", "venue": "bybit"},
            {"exchange": "mexc", "symbol": "BTCUSDT", "venue": "mexc"},
        ],
    }
    partial = merge_positions({"bybit": bybit, "mexc": VenueFailure("X", "execution-mexc did not answer")})
    assert partial["count"] == 1
    assert partial["unavailable"] == {"mexc": "execution-mexc did not answer"}  # not shown as flat


def test_the_trap_map_shows_every_venues_traps_best_first_and_a_silent_scavenger() -> None:
    bybit = {"cycle_id": "trapmap:1", "built_ms": 1, "age_ms": 5, "count": 1, "emitting": False,
             "traps": [{"trap_id": "a", "symbol": "BTCUSDT", "quality": "0.5"}]}  # fmt: skip
    mexc = {"cycle_id": "trapmap:2", "built_ms": 2, "age_ms": 7, "count": 1, "emitting": True,
            "traps": [{"trap_id": "b", "symbol": "ETHUSDT", "quality": "0.9"}]}  # fmt: skip
    merged = merge_traps({"bybit": bybit, "mexc": mexc})
    assert [(t["trap_id"], t["venue"]) for t in merged["traps"]] == [("b", "mexc"), ("a", "bybit")]
    assert merged["count"] == 2
    assert merged["cycle_id"] == "trapmap:1"  # the first venue's words, as one scavenger's answer
    assert merged["emitting"] is True
    assert merged["venues"]["mexc"] == {
        "available": True,
        "cycle_id": "trapmap:2",
        "age_ms": 7,
        "count": 1,
        "emitting": True,
    }
    down = merge_traps({"bybit": bybit, "mexc": VenueFailure("SCAVENGER-MEXC_UNAVAILABLE", "down")})
    assert down["count"] == 1
    assert down["venues"]["mexc"]["available"] is False


def test_open_orders_of_every_venue_newest_first_within_the_limit() -> None:
    bybit = {"count": 2, "orders": [{"orderId": "b1", "updatedAt": 10}, {"orderId": "b2", "updatedAt": 30}]}
    mexc = {"count": 1, "orders": [{"orderId": "m1", "updatedAt": 20}]}
    merged = merge_orders({"bybit": bybit, "mexc": mexc}, limit=2)
    assert [(o["orderId"], o["venue"]) for o in merged["orders"]] == [("b2", "bybit"), ("m1", "mexc")]
    assert merged["count"] == 2
    partial = merge_orders({"bybit": bybit, "mexc": VenueFailure("X", "execution-mexc did not answer")}, limit=10)
    assert partial["unavailable"] == {"mexc": "execution-mexc did not answer"}
