#!/usr/bin/env bash
# Restores the latest backup (--latest) into a scratch database and compares row counts.
# A thin wrapper: `titan backup verify` does the work. Arguments pass through.
exec "$(dirname "${BASH_SOURCE[0]}")/_titan" backup verify "$@"
