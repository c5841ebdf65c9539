#!/usr/bin/env bash
# Accounts and roles, default passwords and secrets, failed logins, ports beyond loopback.
# A thin wrapper: `titan security audit`.
exec "$(dirname "${BASH_SOURCE[0]}")/_titan" security audit "$@"
