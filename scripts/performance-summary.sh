#!/usr/bin/env bash
# Trading results over --timeframe (1h, 1d, 7d, 30d): trades, win rate, PnL, Sharpe.
# A thin wrapper: `titan perf summary` does the work. Arguments pass through.
exec "$(dirname "${BASH_SOURCE[0]}")/_titan" perf summary "$@"
