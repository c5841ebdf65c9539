#!/usr/bin/env bash
# Every service as healthy, degraded or unhealthy, plus Postgres, Redis and the exchange.
# A thin wrapper: `titan health` does the work. Arguments pass through.
exec "$(dirname "${BASH_SOURCE[0]}")/_titan" health "$@"
