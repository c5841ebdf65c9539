#!/usr/bin/env bash
# Checks the exchange key in use and walks through rotating it (--dry-run changes nothing).
# A thin wrapper: `titan keys rotate` does the work. Arguments pass through.
exec "$(dirname "${BASH_SOURCE[0]}")/_titan" keys rotate "$@"
