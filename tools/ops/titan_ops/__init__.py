"""Titan's operations tooling, above the services: the `titan` CLI, the supervisor (`titan
up`), doctor, the runbook's commands, governance and nginx rendering. It may import any
service; no service and nothing in titan_common imports it."""
