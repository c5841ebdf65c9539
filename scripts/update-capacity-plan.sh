#!/usr/bin/env bash
# Project each capacity figure along its trend; FAIL when one reaches its limit within 30 days.
# A thin wrapper: `titan capacity plan`. Arguments pass through.
exec "$(dirname "${BASH_SOURCE[0]}")/_titan" capacity plan "$@"
