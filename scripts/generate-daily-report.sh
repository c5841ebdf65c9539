#!/usr/bin/env bash
# The daily performance report (--date YYYY-MM-DD), as JSON and HTML.
# A thin wrapper: `titan report daily` does the work. Arguments pass through.
exec "$(dirname "${BASH_SOURCE[0]}")/_titan" report daily "$@"
