#!/usr/bin/env bash
# The coming weekend's maintenance windows and the runbook's steps before and after each.
# A thin wrapper: `titan maintenance weekend`.
exec "$(dirname "${BASH_SOURCE[0]}")/_titan" maintenance weekend "$@"
