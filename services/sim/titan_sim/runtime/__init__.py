"""Simulator loops and I/O wiring."""
