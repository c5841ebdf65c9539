"""Titan execution: shadow state, order intents, reconciliation, protection.

api/      thin HTTP routes
runtime/  loops, consumers and I/O wiring
core/     pure domain logic: no I/O, no clock, no globals
"""
