"""Titan's exchange simulator: a Bybit v5-compatible venue (REST and WebSocket).

api/      REST and WebSocket routes, Bybit-shaped, plus the /sim control API
runtime/  market generator loops, WebSocket fan-out, fault injection wiring
core/     the matching engine, accounts, funding: pure and deterministic by seed
"""
