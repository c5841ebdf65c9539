#!/usr/bin/env bash
# The certificate nginx serves: subject, issuer, expiry, days left; FAIL under 14 days.
# A thin wrapper: `titan ssl status`. Arguments pass through (--host, --port, --min-days).
exec "$(dirname "${BASH_SOURCE[0]}")/_titan" ssl status "$@"
