#!/usr/bin/env bash
# A status message (--type premarket|midday|eod) to the team's webhook and var/status/.
# A thin wrapper: `titan status send` does the work. Arguments pass through.
exec "$(dirname "${BASH_SOURCE[0]}")/_titan" status send "$@"
