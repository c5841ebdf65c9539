"""What a control message means for the scavenger (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from titan_common.messages import Control, ControlCommand
from titan_common.reasons import ReasonCode

SERVICE = "scavenger"
PAUSE_REASONS = (ReasonCode.OPERATOR_PAUSE, ReasonCode.KILL_SWITCH)


class ControlAction(StrEnum):
    PAUSE = "PAUSE"
    RESUME = "RESUME"
    RELOAD_CONFIG = "RELOAD_CONFIG"
    IGNORE = "IGNORE"


@dataclass(frozen=True)
class ControlEffect:
    action: ControlAction
    reason: ReasonCode | None = None  # the reason a pause sets


def effect_of(control: Control) -> ControlEffect:
    """PAUSE / KILL_SWITCH for "scavenger" or "all" pause signal emission (the kill switch with
    its own reason); RESUME lifts both; CONFIG_CHANGED reloads the whitelist whoever it targets."""
    if control.command is ControlCommand.CONFIG_CHANGED:
        return ControlEffect(ControlAction.RELOAD_CONFIG)
    if control.target not in (SERVICE, "all"):
        return ControlEffect(ControlAction.IGNORE)
    if control.command is ControlCommand.PAUSE:
        return ControlEffect(ControlAction.PAUSE, ReasonCode.OPERATOR_PAUSE)
    if control.command is ControlCommand.KILL_SWITCH:
        return ControlEffect(ControlAction.PAUSE, ReasonCode.KILL_SWITCH)
    if control.command is ControlCommand.RESUME:
        return ControlEffect(ControlAction.RESUME)
    return ControlEffect(ControlAction.IGNORE)  # ARM / DISARM are the brain's and execution's
