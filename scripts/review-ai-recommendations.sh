#!/usr/bin/env bash
# AI Quant's pending proposals with their evidence (baseline against candidate, on the
# searched and the held-out part of the period). A thin wrapper: `titan quant review`.
exec "$(dirname "${BASH_SOURCE[0]}")/_titan" quant review "$@"
