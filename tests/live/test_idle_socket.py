"""An idle websocket stays up in services mode (finding 11 of the hardening probe).

channels_redis waits for a message with a 5 s blocking read; redis-py's default read timeout is also
5 s, so every idle consumer's receive raised `redis.exceptions.TimeoutError` after 5 s and the socket
closed with 1006. The channel layer now reads with a longer socket timeout and keepalive.
"""

from __future__ import annotations

import asyncio
import os
import time

import pytest
from channels.layers import get_channel_layer
from django.conf import settings

from tests.live.threads import in_own_thread

pytestmark = [
    pytest.mark.services,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="services mode only: the Redis channel layer"),
]

IDLE_SECONDS = 8  # longer than both 5 s timeouts


def test_the_redis_layer_reads_longer_than_its_blocking_read():
    host = settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]
    assert host["socket_timeout"] > 5 and host["socket_keepalive"]


def test_an_idle_receive_does_not_time_out_then_gets_its_message():
    async def scenario():
        layer = get_channel_layer()
        channel = await layer.new_channel()
        started = time.monotonic()
        waiting = asyncio.ensure_future(layer.receive(channel))
        await asyncio.sleep(IDLE_SECONDS)
        assert not waiting.done(), f"the idle receive ended after {time.monotonic() - started:.1f} s: {waiting!r}"
        await layer.send(channel, {"type": "ping", "n": 1})
        message = await asyncio.wait_for(waiting, timeout=5)
        assert message == {"type": "ping", "n": 1}
        await layer.flush()

    in_own_thread(lambda: asyncio.run(scenario()))
