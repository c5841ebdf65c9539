#!/usr/bin/env bash
# The month's capacity readings and a quarter's projection.
# A thin wrapper: `titan capacity review`. Arguments pass through.
exec "$(dirname "${BASH_SOURCE[0]}")/_titan" capacity review "$@"
