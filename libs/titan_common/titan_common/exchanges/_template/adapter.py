"""The ExchangeAdapter for <venue> (see ../protocol.py for every method it must provide)."""

from __future__ import annotations


class VenueAdapter:
    name = "<venue>"
