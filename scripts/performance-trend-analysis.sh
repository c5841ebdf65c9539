#!/usr/bin/env bash
# Performance over --period (default 7d), the first half against the second.
# A thin wrapper: `titan review performance --trend`. Arguments pass through.
exec "$(dirname "${BASH_SOURCE[0]}")/_titan" review performance --trend "$@"
