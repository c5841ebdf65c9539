#!/usr/bin/env bash
# CPU, memory and p99 latency of every service for --duration seconds, against the manual's thresholds.
# A thin wrapper: `titan perf monitor` does the work. Arguments pass through.
exec "$(dirname "${BASH_SOURCE[0]}")/_titan" perf monitor "$@"
