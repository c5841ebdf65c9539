"""Helper process for test_bus_streams: reads one message, reports it, then hangs unacked."""

import asyncio
import sys

from titan_common.bus import StreamConsumer, StreamSpec, make_redis
from titan_common.messages import Signal


async def main(redis_url: str, stream: str, group: str) -> None:
    redis = make_redis(redis_url)
    consumer = StreamConsumer(redis, StreamSpec(stream, Signal), group=group, consumer="doomed", batch_size=1)
    await consumer.ensure_group()
    deliveries = await consumer.read_new()
    for delivery in deliveries:
        print(f"READ {delivery.message_id} {delivery.message.signal_id}", flush=True)
    await asyncio.sleep(3600)  # killed here: read, never acked


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
