#!/usr/bin/env bash
# The maintenance schedule: windows in progress and in the next days (--days, default 7).
# A thin wrapper: `titan maintenance show`. Add a window with `titan maintenance add`.
exec "$(dirname "${BASH_SOURCE[0]}")/_titan" maintenance show "$@"
