#!/usr/bin/env bash
# The reconcile runs of one day (--date YYYY-MM-DD): verdicts, triggers, differences.
# A thin wrapper: `titan reconcile report` does the work. Arguments pass through.
exec "$(dirname "${BASH_SOURCE[0]}")/_titan" reconcile report "$@"
