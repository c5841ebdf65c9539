#!/usr/bin/env bash
# The week's performance and health in one HTML page under var/reports/.
# A thin wrapper: `titan review weekly-report`. Arguments pass through.
exec "$(dirname "${BASH_SOURCE[0]}")/_titan" review weekly-report "$@"
