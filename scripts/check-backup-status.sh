#!/usr/bin/env bash
# The latest database backups and whether they are fresh (--verbose for every file).
# A thin wrapper: `titan backup status` does the work. Arguments pass through.
exec "$(dirname "${BASH_SOURCE[0]}")/_titan" backup status "$@"
