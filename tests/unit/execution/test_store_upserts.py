"""The upserts built once name every column they may change: a column added to orders or
positions must be placed on one side or the other here."""

from __future__ import annotations

from titan_common.db.models import OrderRow, PositionRow
from titan_execution.runtime import store


def test_an_order_report_changes_all_but_the_key_its_first_sight_and_its_intent() -> None:
    kept = {"id", "exchange", "exchange_order_id", "created_ms", "intent_id"}
    assert set(store.ORDER_REPORT_COLUMNS) == set(OrderRow.__table__.columns.keys()) - kept


def test_a_saved_position_is_written_whole_but_its_key() -> None:
    assert set(store.POSITION_COLUMNS) == set(PositionRow.__table__.columns.keys()) - {"exchange", "symbol"}
