#!/usr/bin/env bash
# Record today's capacity reading (database size, Redis memory, disk, memory, load) in var/status/capacity.json.
# A thin wrapper: `titan capacity update`. Arguments pass through.
exec "$(dirname "${BASH_SOURCE[0]}")/_titan" capacity update "$@"
