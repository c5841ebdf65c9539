#!/usr/bin/env bash
# Prunes backups beyond 7 daily and 4 weekly (--dry-run to only list them).
# A thin wrapper: `titan backup cleanup` does the work. Arguments pass through.
exec "$(dirname "${BASH_SOURCE[0]}")/_titan" backup cleanup "$@"
