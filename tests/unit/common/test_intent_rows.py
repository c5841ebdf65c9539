"""The intent row's one-round-trip insert names every column the row's values carry."""

from __future__ import annotations

from tests.unit.common.test_messages import intent
from titan_common.db import intents
from titan_common.db.models import OrderIntentRow


def test_the_insert_or_state_statement_writes_every_value_of_the_row() -> None:
    values = intents.intent_values(intent(), "decision-1", exchange="bybit")
    assert set(intents._COLUMNS) == set(values)
    assert set(values) <= set(OrderIntentRow.__table__.columns.keys())
    assert values["state"] == intents.CREATED
    # a statement of its own applies no model default: every required column is given
    required = {c.name for c in OrderIntentRow.__table__.columns if not c.nullable and c.server_default is None}
    assert required <= set(values)
