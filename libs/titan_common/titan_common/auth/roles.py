"""The roles and who may do what. Pure: no I/O.

A mutation needs at least operator; in LIVE, anything that raises risk (arming, raising
limits, resetting the breaker or the AI gate, clearing PROTECTION_FAILED) needs admin. The
console and each service call `role_for_live` with the same answer.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    def at_least(self, other: Role) -> bool:
        order = [Role.VIEWER, Role.OPERATOR, Role.ADMIN]
        return order.index(self) >= order.index(other)


def role_for_live(live: bool, raises_risk: bool) -> Role:
    """In LIVE, arming, raising limits and resetting the breaker need admin."""
    return Role.ADMIN if live and raises_risk else Role.OPERATOR
