#!/usr/bin/env bash
# Regenerate docs/runbook-scripts.md: every script the runbooks name, what it runs and does.
# A thin wrapper: `titan docs scripts`. Arguments pass through.
exec "$(dirname "${BASH_SOURCE[0]}")/_titan" docs scripts "$@"
