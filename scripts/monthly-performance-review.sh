#!/usr/bin/env bash
# The month's trades, win rate, P&L, profit factor, Sharpe and drawdown.
# A thin wrapper: `titan review performance --period 30d`. Arguments pass through.
exec "$(dirname "${BASH_SOURCE[0]}")/_titan" review performance --period 30d "$@"
