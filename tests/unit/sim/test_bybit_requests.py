"""The Bybit face's parsing: a malformed field is Bybit's params error (10001), never a crash
(which the REST face would answer with a 500)."""

from __future__ import annotations

import pytest

from titan_sim.api.bybit_requests import place_order
from titan_sim.core.model import ExchangeError
from titan_sim.core.ret_codes import BAD_PARAM

ORDER = {"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Market", "qty": "0.01"}


@pytest.mark.parametrize(
    "field", [{"positionIdx": "one"}, {"positionIdx": [1]}, {"triggerPrice": "100", "triggerDirection": "up"}]
)
def test_a_field_that_is_not_an_integer_is_a_params_error(field: dict[str, object]) -> None:
    with pytest.raises(ExchangeError) as refused:
        place_order({**ORDER, **field})
    assert refused.value.code == BAD_PARAM
    assert "must be an integer" in str(refused.value)


def test_integers_as_strings_are_taken() -> None:
    order = place_order({**ORDER, "positionIdx": "0", "triggerPrice": "100", "triggerDirection": "1"})
    assert (order.position_idx, order.trigger_direction) == (0, 1)
