"""Titan console: operator API, auth and roles, config versions, web UI.

api/      thin HTTP routes
runtime/  loops, consumers and I/O wiring
core/     pure domain logic: no I/O, no clock, no globals
"""
