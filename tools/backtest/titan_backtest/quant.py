"""AI Quant: bounded variants of the active config, backtested, and proposed only when they
beat the active config on data the search never saw.

- **The search space** is what the console lets an operator change, within the console's
  own bounds: the risk tuner's three knobs and the current phase's risk per trade, each
  set through `config_edit` (the console's functions, so a proposal can never ask for what
  the console would refuse). One knob moves at a time, to each value on a short grid.
- **The split** is by time. The replayed period's first two thirds are the search part,
  the last third is held out. A variant qualifies when its score beats the active
  config's on the search part, and it is proposed only if it beats it on the held-out
  part as well. Each part is traded from a fresh account. The trap maps run over the whole
  period, so the held-out part starts with the history live would have had.
- **The score** is return % minus half the max drawdown %: a variant that earns more by
  risking much more does not win.
- **The rationale** is written from the figures. With an OpenAI-compatible provider
  configured (`titan_backtest.narrate`), a model's words are added, never instead of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from titan_backtest.engine import Account, BacktestOptions, MarketTape
from titan_backtest.report import max_drawdown_pct, trade_figures
from titan_common.config import TradingConfig, config_diff
from titan_common.exchanges.types import InstrumentFilters
from titan_console.core import config_edit

HELD_OUT_SHARE = Decimal(1) / Decimal(3)
RISK_GRID: dict[str, tuple[Decimal | int, ...]] = {
    "maxRiskPerTrade": (Decimal("0.01"), Decimal("0.015"), Decimal("0.02"), Decimal("0.03"), Decimal("0.04")),
    "maxLeverage": (5, 10, 20, 30),
    "maxDailyDrawdown": (Decimal("0.05"), Decimal("0.07"), Decimal("0.10")),
}
MAX_PROPOSALS = 3


@dataclass(frozen=True)
class Variant:
    title: str
    request: dict[str, Any]  # what the console's edit takes: {"risk": {...}} or {"phase_risk": [phase, pct]}
    config: TradingConfig


def apply_request(config: TradingConfig, request: Mapping[str, Any]) -> TradingConfig:
    """A proposal's change on a config: the console's own function, so its own bounds."""
    return config_edit.apply_proposal(config, request)


def variants(config: TradingConfig, phase: int) -> list[Variant]:
    """One knob at a time, every grid value but the current one."""
    found: list[Variant] = []
    tuner = config.risk_tuner.model_dump(by_alias=True)
    for name, grid in RISK_GRID.items():
        for value in grid:
            if Decimal(str(value)) == Decimal(str(tuner[name])):
                continue
            request: dict[str, Any] = {"risk": {name: str(value)}}
            found.append(Variant(f"{name} {tuner[name]} -> {value}", request, apply_request(config, request)))
    current = config.phase(phase)
    mid = ((current.risk_pct_min + current.risk_pct_max) / 2).quantize(Decimal("0.0001"))
    for pct in sorted({current.risk_pct_min, mid, current.risk_pct_max}):
        if pct == current.risk_pct:
            continue
        phase_request: dict[str, Any] = {"phase_risk": [phase, str(pct)]}
        found.append(
            Variant(
                f"phase {phase} risk_pct {current.risk_pct} -> {pct}",
                phase_request,
                apply_request(config, phase_request),
            )
        )
    return found


def split_ms(tape: MarketTape) -> int:
    """The first minute of the held-out part."""
    minutes = [m for m, _ in tape.minutes]
    index = int(len(minutes) * (1 - HELD_OUT_SHARE))
    return minutes[min(index, len(minutes) - 1)]


def figures(
    config: TradingConfig,
    tape: MarketTape,
    filters: Mapping[str, InstrumentFilters],
    options: BacktestOptions,
    start_ms: int | None,
    end_ms: int | None,
) -> dict[str, Any]:
    run = Account(config, filters, options).run(tape, start_ms=start_ms, end_ms=end_ms)
    start = options.starting_equity
    net = sum((t.pnl for t in run.trades), Decimal(0))
    out = trade_figures(run.trades)
    out["return_pct"] = round(float(net / start * 100), 4)
    out["max_drawdown_pct"] = max_drawdown_pct(run.equity_curve, start)
    out["score"] = round(out["return_pct"] - out["max_drawdown_pct"] / 2, 4)
    return out


def rationale(title: str, base: dict[str, Any], best: dict[str, Any]) -> str:
    def part(name: str) -> str:
        b, c = base[name], best[name]
        return (
            f"on the {name.replace('_', '-')} part it returned {c['return_pct']}% with a max drawdown of "
            f"{c['max_drawdown_pct']}% over {c['trades']} trades, against {b['return_pct']}% and "
            f"{b['max_drawdown_pct']}% over {b['trades']} for the active config"
        )

    return (
        f"{title}: {part('search')}; {part('held_out')}. The score (return % minus half the max "
        f"drawdown %) rose from {base['held_out']['score']} to {best['held_out']['score']} on data the "
        f"search did not see."
    )


def propose(
    config: TradingConfig,
    config_tag: str,
    tape: MarketTape,
    filters: Mapping[str, InstrumentFilters],
    options: BacktestOptions,
    *,
    data: str,
    phase: int = 1,
) -> list[dict[str, Any]]:
    """The proposals this tape supports (best held-out score first), at most MAX_PROPOSALS;
    each is the `payload` of a proposal row, with its `title`."""
    if not tape.minutes:
        return []
    cut = split_ms(tape)

    def both(candidate: TradingConfig) -> dict[str, Any]:
        return {
            "search": figures(candidate, tape, filters, options, None, cut),
            "held_out": figures(candidate, tape, filters, options, cut, None),
        }

    baseline = both(config)
    before = config.model_dump(mode="json", by_alias=True)
    found = []
    for variant in variants(config, phase):
        result = both(variant.config)
        if result["search"]["score"] <= baseline["search"]["score"]:
            continue
        if result["held_out"]["score"] <= baseline["held_out"]["score"] or not result["held_out"]["trades"]:
            continue
        found.append((variant, result))
    found.sort(key=lambda vr: (-vr[1]["held_out"]["score"], vr[0].title))
    period = {
        "from_ms": tape.minutes[0][0],
        "to_ms": tape.minutes[-1][0] + 60_000,
        "held_out_from_ms": cut,
        "split": "by time: the first two thirds searched, the last third held out",
    }
    return [
        {
            "title": f"AI Quant: {variant.title}",
            "base_version": config_tag,
            "request": variant.request,
            "diff": config_diff(before, variant.config.model_dump(mode="json", by_alias=True)),
            "evidence": {
                "data": data,
                "symbols": list(tape.symbols),
                "period": period,
                "score": "return_pct - max_drawdown_pct / 2",
                "baseline": baseline,
                "candidate": result,
            },
            "rationale": rationale(variant.title, baseline, result),
        }
        for variant, result in found[:MAX_PROPOSALS]
    ]
