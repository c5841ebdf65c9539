#!/usr/bin/env bash
# The day in a few lines (services, mode, equity, P&L, trades, drawdown, uptime), kept in
# var/status/ and mailed with --email ADDRESS when TITAN_SMTP_HOST is set.
# A thin wrapper: `titan summary daily`. Arguments pass through.
exec "$(dirname "${BASH_SOURCE[0]}")/_titan" summary daily "$@"
