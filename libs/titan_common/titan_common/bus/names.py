"""Every stream and channel Titan uses, each bound to the one schema it carries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel

from titan_common.messages import Control, Event, OrderIntent, Signal

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class StreamSpec(Generic[M]):
    name: str
    schema: type[M]
    maxlen: int = 100_000  # approximate cap; Postgres is the record, Redis only carries

    @property
    def dead_letter(self) -> str:
        return f"{self.name}:dead"


@dataclass(frozen=True)
class ChannelSpec(Generic[M]):
    name: str
    schema: type[M]


SIGNALS: StreamSpec[Signal] = StreamSpec("titan:signals", Signal)
INTENTS: StreamSpec[OrderIntent] = StreamSpec("titan:intents", OrderIntent)
EVENTS: ChannelSpec[Event] = ChannelSpec("titan:events", Event)
CONTROL: ChannelSpec[Control] = ChannelSpec("titan:control", Control)


def heartbeat_key(service: str) -> str:
    return f"titan:hb:{service}"
