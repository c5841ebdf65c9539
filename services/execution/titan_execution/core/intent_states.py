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

from enum import StrEnum


class IntentState(StrEnum):
    CREATED = "CREATED"
    SENT_UNKNOWN = "SENT_UNKNOWN"
    CONFIRMED = "CONFIRMED"
    NOT_FOUND = "NOT_FOUND"
    FAILED_TERMINAL = "FAILED_TERMINAL"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"


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


# Bybit v5 orderStatus -> the intent state it means.
EXCHANGE_STATUS: dict[str, IntentState] = {
    "Created": S.CONFIRMED,
    "New": S.CONFIRMED,
    "Untriggered": S.CONFIRMED,
    "Triggered": S.CONFIRMED,
    "Active": S.CONFIRMED,
    "PartiallyFilled": S.PARTIALLY_FILLED,
    "Filled": S.FILLED,
    "Cancelled": S.CANCELLED,
    "PartiallyFilledCanceled": S.CANCELLED,
    "Deactivated": S.CANCELLED,
    "Rejected": S.REJECTED,
}


def path_to_exchange_status(current: IntentState, exchange_status: str) -> list[IntentState]:
    """The legal sequence of states that takes an intent to what the exchange reports.

    An acknowledged-late order may already be filled: SENT_UNKNOWN + "Filled" is the path
    [CONFIRMED, FILLED]. Returns [] when nothing changes. Raises IllegalTransition when the
    report contradicts the table (e.g. a FILLED intent reported New).
    """
    try:
        target = EXCHANGE_STATUS[exchange_status]
    except KeyError:
        raise ValueError(f"unknown exchange order status {exchange_status!r}") from None
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
