"""The order-intent state machine: an explicit table, and nothing outside it.

    CREATED ──► SENT_UNKNOWN ──► CONFIRMED ──► PARTIALLY_FILLED ──► FILLED
       │             │  │            │  │  │          │
       ▼             │  ▼            │  │  ▼          ▼
    REJECTED         │ FAILED_TERMINAL  │ CANCELLED ◄─┘
   (refused before   ▼                  ▼
    sending)      NOT_FOUND ─────► CONFIRMED    REJECTED (by the exchange)
                  (only after repeated   (reality wins: an order declared
                   not-found answers)     missing that shows up is tracked)

SENT_UNKNOWN is written and committed before the network call. From there an intent is
never resent: it is resolved by asking the exchange about its client_order_id.
"""

from __future__ import annotations

from titan_common.exchanges.types import OrderStatus
from titan_common.messages import IntentState

S = IntentState

TRANSITIONS: dict[IntentState, frozenset[IntentState]] = {
    S.CREATED: frozenset({S.SENT_UNKNOWN, S.REJECTED}),
    S.SENT_UNKNOWN: frozenset({S.CONFIRMED, S.NOT_FOUND, S.FAILED_TERMINAL}),
    S.CONFIRMED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.REJECTED}),
    S.PARTIALLY_FILLED: frozenset({S.FILLED, S.CANCELLED}),
    S.NOT_FOUND: frozenset({S.CONFIRMED}),
    S.FILLED: frozenset(),
    S.CANCELLED: frozenset(),
    S.REJECTED: frozenset(),
    S.FAILED_TERMINAL: frozenset(),
}

TERMINAL: frozenset[IntentState] = frozenset(state for state, targets in TRANSITIONS.items() if not targets)
# States in which an order may be live on the exchange (it must be watched and reconciled).
UNRESOLVED: frozenset[IntentState] = frozenset({S.SENT_UNKNOWN, S.CONFIRMED, S.PARTIALLY_FILLED})


class IllegalTransition(RuntimeError):
    """A transition outside the table: a bug, raised loudly, never applied."""

    def __init__(self, current: IntentState, target: IntentState) -> None:
        super().__init__(f"illegal intent transition {current} -> {target}")
        self.current = current
        self.target = target


def can_transition(current: IntentState, target: IntentState) -> bool:
    return target in TRANSITIONS[current]


def transition(current: IntentState, target: IntentState) -> IntentState:
    """The new state, or IllegalTransition. Staying in the same state is a no-op, not a transition."""
    if target is current:
        return current
    if not can_transition(current, target):
        raise IllegalTransition(current, target)
    return target


# the venue's order status (in Titan's words) -> the intent state it means
EXCHANGE_STATUS: dict[OrderStatus, IntentState] = {
    OrderStatus.NEW: S.CONFIRMED,
    OrderStatus.UNTRIGGERED: S.CONFIRMED,
    OrderStatus.TRIGGERED: S.CONFIRMED,
    OrderStatus.PARTIALLY_FILLED: S.PARTIALLY_FILLED,
    OrderStatus.FILLED: S.FILLED,
    OrderStatus.CANCELLED: S.CANCELLED,
    OrderStatus.DEACTIVATED: S.CANCELLED,
    OrderStatus.REJECTED: S.REJECTED,
}


def path_to_exchange_status(current: IntentState, exchange_status: OrderStatus) -> list[IntentState]:
    """The legal sequence of states that takes an intent to what the exchange reports.

    An acknowledged-late order may already be filled: SENT_UNKNOWN + FILLED is the path
    [CONFIRMED, FILLED]. Returns [] when nothing changes. Raises IllegalTransition when the
    report contradicts the table (e.g. a FILLED intent reported NEW), and ValueError for a
    status the venue's folder could not name (UNKNOWN).
    """
    target = EXCHANGE_STATUS.get(exchange_status)
    if target is None:
        raise ValueError(f"unknown exchange order status {exchange_status!r}")
    if target is current:
        return []
    path: list[IntentState] = []
    state = current
    if state in (S.SENT_UNKNOWN, S.NOT_FOUND) and target is not S.CONFIRMED:
        state = transition(state, S.CONFIRMED)
        path.append(state)
    if state is not target:
        path.append(transition(state, target))
    return path
