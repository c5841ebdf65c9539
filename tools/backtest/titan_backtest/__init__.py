"""Backtests through the same pure cores as live (tools/: above the services; no service
imports it)."""
