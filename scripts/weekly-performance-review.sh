#!/usr/bin/env bash
# The week's trades, win rate, P&L, profit factor, Sharpe and drawdown.
# A thin wrapper: `titan review performance --period 7d`. Arguments pass through.
exec "$(dirname "${BASH_SOURCE[0]}")/_titan" review performance --period 7d "$@"
