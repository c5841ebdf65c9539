"""The ExchangeAdapter for <venue> (see ../protocol.py for every method it must provide,
`balances()` included). A spot venue returns no positions, refuses stops with OrderRejected
(never drops them), and takes leverage 1 only; see mexc/adapter.py."""

from __future__ import annotations


class VenueAdapter:
    name = "<venue>"
