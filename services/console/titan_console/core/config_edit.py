"""Editing the trading config: bounds with readable refusals, diffs, rollback targets.

Pure: every function takes configs (or their JSON form) and returns a new value or raises
`ConfigRejected`, whose message names the field and its allowed range. The bounds are read
from the schema in titan_common.config, so they are stated once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import annotated_types
from pydantic import BaseModel, ValidationError

from titan_common.config import DEFAULT_TAG, PhaseConfig, RiskTuner, TradingConfig, flatten_document

SYMBOL_RE = re.compile(r"^[A-Z0-9]{2,24}USDT$")

# Fields where a larger value means more risk. Raising one of them (or adding a symbol to
# the whitelist) is "raising limits", which in LIVE only an admin may do.
LOOSER_WHEN_LARGER = (
    "risk_tuner.maxRiskPerTrade",
    "risk_tuner.maxDailyDrawdown",
    "risk_tuner.maxLeverage",
    "max_open_positions",
    "max_position_pct",
    "breaker.hard_drawdown",
    "breaker.consecutive_losses",
    "breaker.volatility_return",
    "correlation_threshold",
    "max_cost_share",
    *(f"phases.{i}.{name}" for i in range(3) for name in ("risk_pct", "max_leverage", "allocation_weight")),
)
# Fields where a smaller value means more risk: the costs the sizing assumes, and the edge
# an entry must clear. Lowering one of them is raising limits too.
LOOSER_WHEN_SMALLER = ("taker_fee_rate", "slippage_allowance", "min_edge_fee_multiple")


class ConfigRejected(Exception):
    """A change the bounds refuse. `field` is the dotted path; str() is the operator message."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Bounds:
    low: Decimal
    high: Decimal
    percent: bool  # a fraction shown as a percentage, or a plain number (leverage)

    def describe(self) -> str:
        if self.percent:
            return f"{_plain(self.low)} and {_plain(self.high)} ({_pct(self.low)}-{_pct(self.high)})"
        return f"{_plain(self.low)} and {_plain(self.high)}"


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def _pct(value: Decimal) -> str:
    return _plain(value * 100) + "%"


def field_bounds(model: type[BaseModel], name: str) -> Bounds:
    """The ge/le bounds declared on a schema field."""
    low = high = None
    for item in model.model_fields[name].metadata:
        if isinstance(item, annotated_types.Ge):
            low = Decimal(str(item.ge))
        elif isinstance(item, annotated_types.Le):
            high = Decimal(str(item.le))
    if low is None or high is None:
        raise KeyError(f"{model.__name__}.{name} declares no range")
    return Bounds(low, high, percent=model.model_fields[name].annotation is Decimal)


# keyed by the wire names (maxRiskPerTrade, ...): the operator's request body and the refusals use them
RISK_BOUNDS: dict[str, Bounds] = {
    field.alias or name: field_bounds(RiskTuner, name) for name, field in RiskTuner.model_fields.items()
}


def _number(field: str, value: Any, bounds: Bounds) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ConfigRejected(field, f"{field} must be a number between {bounds.describe()}")
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    except InvalidOperation:
        raise ConfigRejected(field, f"{field} must be a number between {bounds.describe()}") from None
    if not number.is_finite():
        raise ConfigRejected(field, f"{field} must be a number between {bounds.describe()}")
    return number


def _check_range(field: str, number: Decimal, bounds: Bounds) -> None:
    if not bounds.low <= number <= bounds.high:
        raise ConfigRejected(field, f"{field} must be between {bounds.describe()}; got {_plain(number)}")


def apply_risk(config: TradingConfig, changes: Mapping[str, Any]) -> TradingConfig:
    """The manual's three knobs; any subset of them, each checked against its range."""
    if not changes:
        raise ConfigRejected("body", "the body must give at least one of " + ", ".join(RISK_BOUNDS))
    unknown = sorted(set(changes) - set(RISK_BOUNDS))
    if unknown:
        raise ConfigRejected(unknown[0], f"{unknown[0]} is not a risk parameter; use " + ", ".join(RISK_BOUNDS))
    updated: dict[str, Any] = config.risk_tuner.model_dump(by_alias=True)
    for name, raw in changes.items():
        bounds = RISK_BOUNDS[name]
        number = _number(name, raw, bounds)
        _check_range(name, number, bounds)
        if not bounds.percent:
            if number != number.to_integral_value():
                raise ConfigRejected(name, f"{name} must be a whole number between {bounds.describe()}")
            updated[name] = int(number)
        else:
            updated[name] = number
    return _rebuilt(config, risk_tuner=RiskTuner.model_validate(updated))


def apply_phase_risk(config: TradingConfig, phase: Any, risk_pct: Any) -> TradingConfig:
    """One phase's risk per trade, within that phase's own range."""
    if isinstance(phase, bool) or not isinstance(phase, int) or not 1 <= phase <= 3:
        raise ConfigRejected("phase", "phase must be 1, 2 or 3")
    current = config.phase(phase)
    field = f"phases[{phase}].risk_pct"
    bounds = Bounds(current.risk_pct_min, current.risk_pct_max, percent=True)
    number = _number(field, risk_pct, bounds)
    _check_range(field, number, bounds)
    phases = list(config.phases)
    phases[phase - 1] = PhaseConfig.model_validate({**current.model_dump(), "risk_pct": number})
    return _rebuilt(config, phases=tuple(phases))


def normalise_symbol(symbol: Any) -> str:
    if not isinstance(symbol, str) or not SYMBOL_RE.match(symbol.strip().upper()):
        raise ConfigRejected("symbol", "symbol must be a USDT perpetual such as SOLUSDT")
    return symbol.strip().upper()


def apply_whitelist(config: TradingConfig, action: Any, symbol: Any) -> TradingConfig:
    """Add or remove one symbol. Adding one already there (or removing one absent) changes nothing."""
    if action not in ("add", "remove"):
        raise ConfigRejected("action", "action must be add or remove")
    name = normalise_symbol(symbol)
    current = list(config.asset_whitelist)
    if action == "add" and name not in current:
        current.append(name)
    elif action == "remove" and name in current:
        current.remove(name)
    return _rebuilt(config, asset_whitelist=tuple(current))


def apply_proposal(config: TradingConfig, request: Any) -> TradingConfig:
    """An AI Quant proposal's change, through the same bounds as the operator's own edits:
    {"risk": {knob: value, ...}} and/or {"phase_risk": [phase, risk_pct]}."""
    if not isinstance(request, Mapping) or not request or set(request) - {"risk", "phase_risk"}:
        raise ConfigRejected("request", "a proposal changes risk and/or phase_risk, nothing else")
    updated = config
    if "risk" in request:
        if not isinstance(request["risk"], Mapping):
            raise ConfigRejected("risk", "risk must be an object of risk parameters")
        updated = apply_risk(updated, request["risk"])
    if "phase_risk" in request:
        pair = request["phase_risk"]
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise ConfigRejected("phase_risk", "phase_risk must be [phase, risk_pct]")
        updated = apply_phase_risk(updated, pair[0], pair[1])
    return updated


def _rebuilt(config: TradingConfig, **changes: Any) -> TradingConfig:
    """A validated copy: the whole document is checked again, not just the edited part."""
    data = config.model_dump()
    data.update({k: v.model_dump() if isinstance(v, BaseModel) else v for k, v in changes.items()})
    if "phases" in changes:
        data["phases"] = [p.model_dump() for p in changes["phases"]]
    try:
        return TradingConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or "config"
        raise ConfigRejected(field, f"{field}: {first.get('msg', 'invalid')}") from None


# --- diffs --------------------------------------------------------------------------


def summary(changes: Sequence[Mapping[str, Any]]) -> str:
    if not changes:
        return "no change"
    parts = []
    for change in changes:
        before, after = change["before"], change["after"]
        if isinstance(before, list) and isinstance(after, list):
            added = [s for s in after if s not in before]
            removed = [s for s in before if s not in after]
            words = [f"+{s}" for s in added] + [f"-{s}" for s in removed]
            parts.append(f"{change['path']} {' '.join(words)}")
        else:
            parts.append(f"{change['path']} {before} -> {after}")
    return "; ".join(parts)


def raised_limits(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """Paths where `after` allows more risk than `before` (LIVE needs admin for these)."""
    old, new = flatten_document(before), flatten_document(after)
    raised = []
    for path in LOOSER_WHEN_LARGER:
        if path in old and path in new and Decimal(str(new[path])) > Decimal(str(old[path])):
            raised.append(path)
    for path in LOOSER_WHEN_SMALLER:
        if path in old and path in new and Decimal(str(new[path])) < Decimal(str(old[path])):
            raised.append(path)
    added = set(new.get("asset_whitelist", [])) - set(old.get("asset_whitelist", []))
    if added:
        raised.append("asset_whitelist")
    return raised


# --- rollback -----------------------------------------------------------------------


@dataclass(frozen=True)
class VersionRef:
    version_tag: str
    created_ms: int


def parse_instant(text: str) -> int | None:
    """An ISO-8601 time (UTC when no offset is given) as epoch ms; None when it is not one."""
    candidate = text.strip()
    if not candidate or not candidate[:4].isdigit():
        return None
    try:
        moment = datetime.fromisoformat(candidate.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def rollback_target(requested: str, versions: Iterable[VersionRef]) -> VersionRef:
    """An exact tag; otherwise the version that was active at that instant.

    Before the first saved version the defaults were active (tag `default`). Raises
    ConfigRejected when the text is neither a known tag nor a time."""
    ordered = sorted(versions, key=lambda v: (v.created_ms, v.version_tag))
    for version in ordered:
        if version.version_tag == requested:
            return version
    if requested == DEFAULT_TAG:
        return VersionRef(DEFAULT_TAG, 0)
    instant = parse_instant(requested)
    if instant is None:
        raise ConfigRejected(
            "version_tag", "version_tag must be a version's tag or an ISO-8601 time such as 2024-12-13T10:30:00Z"
        )
    active = VersionRef(DEFAULT_TAG, 0)
    for version in ordered:
        if version.created_ms <= instant:
            active = version
    return active
