"""Exchange adapters. `protocol` says what every venue provides, `types` the words it is
said in, and `registry` builds a venue's adapter from its name and settings. Each venue has
a folder with the same file roles (hummingbot's convention; README.md, and `_template/`):

  <venue>/constants.py  endpoints, codes, topic names, the venue's names -> Titan's
  <venue>/parsing.py    pure: venue payloads -> the shared types (unit-tested without I/O)
  <venue>/http.py       the venue's REST client, never blocking the event loop
  <venue>/streams.py    the venue's streams in asyncio (WebSocket, or REST-polled)
  <venue>/adapter.py    the ExchangeAdapter implementation wiring the above
  <venue>/venue.py      its settings, validated at start, and the registry entry
"""

from titan_common.exchanges import types
from titan_common.exchanges.protocol import ExchangeAdapter
from titan_common.exchanges.types import *  # noqa: F403 - the shared vocabulary, named once in types.__all__

__all__ = ["ExchangeAdapter", *types.__all__]
