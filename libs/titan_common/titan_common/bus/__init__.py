"""Redis transport. Streams carry commands whose loss matters; pub/sub carries broadcast state.

names     the typed stream and channel definitions (one schema each)
streams   producer and consumer-group consumer with XAUTOCLAIM recovery
pubsub    publisher and a self-reconnecting subscriber
"""

from titan_common.bus.client import REDIS_ERRORS, make_redis
from titan_common.bus.names import CONTROL, EVENTS, INTENTS, SIGNALS, ChannelSpec, StreamSpec, heartbeat_key
from titan_common.bus.pubsub import Publisher, Subscriber
from titan_common.bus.streams import Delivery, StreamConsumer, StreamProducer

__all__ = [
    "CONTROL",
    "EVENTS",
    "INTENTS",
    "REDIS_ERRORS",
    "SIGNALS",
    "ChannelSpec",
    "Delivery",
    "Publisher",
    "StreamConsumer",
    "StreamProducer",
    "StreamSpec",
    "Subscriber",
    "heartbeat_key",
    "make_redis",
]
