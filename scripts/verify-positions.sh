#!/usr/bin/env bash
# Shadow positions against the exchange; exits 1 on an orphaned or unprotected position.
# A thin wrapper: `titan positions verify` does the work. Arguments pass through.
exec "$(dirname "${BASH_SOURCE[0]}")/_titan" positions verify "$@"
