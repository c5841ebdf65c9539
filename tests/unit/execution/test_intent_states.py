"""The whole transition table: every allowed transition, and every forbidden one, is tested."""

from __future__ import annotations

import itertools

import pytest

from titan_common.exchanges.types import OrderStatus
from titan_common.messages import IntentState
from titan_execution.core.intent_states import (
    EXCHANGE_STATUS,
    TERMINAL,
    TRANSITIONS,
    IllegalTransition,
    path_to_exchange_status,
    transition,
)

S = IntentState
ALLOWED = {
    (S.CREATED, S.SENT_UNKNOWN),
    (S.CREATED, S.REJECTED),
    (S.SENT_UNKNOWN, S.CONFIRMED),
    (S.SENT_UNKNOWN, S.NOT_FOUND),
    (S.SENT_UNKNOWN, S.FAILED_TERMINAL),
    (S.CONFIRMED, S.PARTIALLY_FILLED),
    (S.CONFIRMED, S.FILLED),
    (S.CONFIRMED, S.CANCELLED),
    (S.CONFIRMED, S.REJECTED),
    (S.PARTIALLY_FILLED, S.FILLED),
    (S.PARTIALLY_FILLED, S.CANCELLED),
    (S.NOT_FOUND, S.CONFIRMED),
}
PAIRS = [(a, b) for a, b in itertools.product(S, S) if a is not b]


def test_the_table_is_exactly_the_documented_one() -> None:
    assert {(a, b) for a, targets in TRANSITIONS.items() for b in targets} == ALLOWED
    assert set(TRANSITIONS) == set(S)


@pytest.mark.parametrize(("current", "target"), sorted(ALLOWED))
def test_allowed(current: IntentState, target: IntentState) -> None:
    assert transition(current, target) is target


@pytest.mark.parametrize(("current", "target"), [p for p in PAIRS if p not in ALLOWED])
def test_forbidden_raises(current: IntentState, target: IntentState) -> None:
    with pytest.raises(IllegalTransition):
        transition(current, target)


@pytest.mark.parametrize("state", list(S))
def test_same_state_is_a_no_op(state: IntentState) -> None:
    assert transition(state, state) is state


def test_terminal_states() -> None:
    assert {S.FILLED, S.CANCELLED, S.REJECTED, S.FAILED_TERMINAL} == TERMINAL


def test_a_sent_intent_can_never_go_back_to_be_sent_again() -> None:
    # never resend blindly: no path leads back to CREATED or SENT_UNKNOWN
    for targets in TRANSITIONS.values():
        assert S.CREATED not in targets
        assert S.SENT_UNKNOWN not in targets or targets == TRANSITIONS[S.CREATED]


@pytest.mark.parametrize(
    ("current", "status", "path"),
    [
        (S.SENT_UNKNOWN, OrderStatus.NEW, [S.CONFIRMED]),
        (S.SENT_UNKNOWN, OrderStatus.FILLED, [S.CONFIRMED, S.FILLED]),
        (S.SENT_UNKNOWN, OrderStatus.PARTIALLY_FILLED, [S.CONFIRMED, S.PARTIALLY_FILLED]),
        (S.SENT_UNKNOWN, OrderStatus.CANCELLED, [S.CONFIRMED, S.CANCELLED]),
        (S.SENT_UNKNOWN, OrderStatus.REJECTED, [S.CONFIRMED, S.REJECTED]),
        (S.NOT_FOUND, OrderStatus.FILLED, [S.CONFIRMED, S.FILLED]),
        (S.CONFIRMED, OrderStatus.NEW, []),
        (S.CONFIRMED, OrderStatus.FILLED, [S.FILLED]),
        (S.PARTIALLY_FILLED, OrderStatus.FILLED, [S.FILLED]),
        (S.PARTIALLY_FILLED, OrderStatus.CANCELLED, [S.CANCELLED]),
        (S.FILLED, OrderStatus.FILLED, []),
    ],
)
def test_paths_to_exchange_status(current: IntentState, status: str, path: list[IntentState]) -> None:
    assert path_to_exchange_status(current, status) == path


def test_contradicting_reports_raise() -> None:
    with pytest.raises(IllegalTransition):
        path_to_exchange_status(S.FILLED, OrderStatus.NEW)
    with pytest.raises(IllegalTransition):
        path_to_exchange_status(S.CANCELLED, OrderStatus.FILLED)
    with pytest.raises(ValueError, match="unknown"):
        path_to_exchange_status(S.CONFIRMED, OrderStatus.UNKNOWN)


def test_every_known_status_moves_an_intent_and_unknown_never_does() -> None:
    assert set(EXCHANGE_STATUS) == set(OrderStatus) - {OrderStatus.UNKNOWN}
