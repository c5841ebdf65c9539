"""Execution's second look before acting on an intent (the brain looked first).

Two independent layers: even an intent the brain approved is refused here when the
system is disarmed, not NORMAL, stale, or for a symbol that is not trading or is churning
(too many cancels/replaces). An intent seen twice never gets here: the engine's
write-ahead row refuses it (DUPLICATE_INTENT).
Exits (reduce-only) are management, not new risk: they pass while disarmed or in DEGRADE
and PAUSE, because closing and protecting must always remain possible.
"""

from __future__ import annotations

from dataclasses import dataclass

from titan_common.messages import IntentKind, OrderIntent
from titan_common.reasons import ReasonCode
from titan_common.system_state import Mode


@dataclass(frozen=True)
class ExecutionContext:
    now_ms: int
    armed: bool
    mode: Mode
    tradable_symbols: frozenset[str]
    quarantined_symbols: frozenset[str]
    open_position_symbols: frozenset[str]
    # symbols whose cancel/replace count is over the churn limit
    churning_symbols: frozenset[str] = frozenset()


def refusal_reasons(intent: OrderIntent, ctx: ExecutionContext) -> list[ReasonCode]:
    """Every reason to refuse the intent, in a fixed order; [] means go."""
    reasons: list[ReasonCode] = []
    is_entry = intent.kind is IntentKind.ENTRY and not intent.reduce_only
    if is_entry:
        if not ctx.armed:
            reasons.append(ReasonCode.MASTER_DISARMED)
        if ctx.mode is not Mode.NORMAL:
            reasons.append(ReasonCode.MODE_NOT_NORMAL)
        if ctx.now_ms > intent.expires_at_ms():
            reasons.append(ReasonCode.SIGNAL_STALE)
        if intent.symbol in ctx.open_position_symbols:
            reasons.append(ReasonCode.DUPLICATE_POSITION)
        if intent.symbol in ctx.quarantined_symbols:
            reasons.append(ReasonCode.SYMBOL_QUARANTINED)
        if intent.symbol in ctx.churning_symbols:
            reasons.append(ReasonCode.RISK_CHURN_LIMIT_HIT)
    elif ctx.mode is Mode.EXIT:
        reasons.append(ReasonCode.MODE_NOT_NORMAL)
    if intent.symbol not in ctx.tradable_symbols and ReasonCode.SYMBOL_QUARANTINED not in reasons:
        reasons.append(ReasonCode.SYMBOL_QUARANTINED)
    return reasons
