"""Titan brain: signal approval, sizing, phases, NAV, circuit breaker.

api/      thin HTTP routes
runtime/  loops, consumers and I/O wiring
core/     pure domain logic: no I/O, no clock, no globals
"""
