#!/usr/bin/env bash
# Is what runs what was approved: the brain's config version against the active one, the
# active config against the approved file (--file or TITAN_APPROVED_CONFIG), the locked
# code against governance.lock. A thin wrapper: `titan config drift`.
exec "$(dirname "${BASH_SOURCE[0]}")/_titan" config drift "$@"
