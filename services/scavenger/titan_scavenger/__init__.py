"""Titan scavenger: market data intake, trap map, TRAP_SPRUNG signals, breadth scanner.

api/      thin HTTP routes
runtime/  loops, consumers and I/O wiring
core/     pure domain logic: no I/O, no clock, no globals
"""
