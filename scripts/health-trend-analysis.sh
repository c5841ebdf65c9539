#!/usr/bin/env bash
# Mode changes out of NORMAL and alerts over --period (default 7d), by service and day.
# A thin wrapper: `titan review health`. Arguments pass through.
exec "$(dirname "${BASH_SOURCE[0]}")/_titan" review health "$@"
