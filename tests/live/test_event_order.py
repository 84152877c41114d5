"""Live events reach a project's sockets in the order of their numbers (hardening finding 14).

The number was taken from a counter and the event sent after; when the server and a worker published
at once, 845 could be sent before 844 and the page refetched twice. Numbering and sending now happen
under one lock per project (a Redis lock across processes)."""

from __future__ import annotations

import asyncio
import os
import threading
import time

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from portal.live import services
from tests.live.threads import in_own_thread

pytestmark = [
    pytest.mark.services,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="services mode only: the Redis lock and channel layer"),
]

PROJECT = 987654


def test_a_slow_publisher_cannot_be_overtaken_by_the_next_number(monkeypatch):
    in_own_thread(lambda: _scenario(monkeypatch))


def _scenario(monkeypatch):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(services.project_group(PROJECT), channel)
    numbered = services.next_seq
    first = threading.Event()

    def next_seq(project_id):
        seq = numbered(project_id)
        if not first.is_set():
            first.set()
            time.sleep(0.5)  # the first publisher is slow between numbering and sending
        return seq

    monkeypatch.setattr(services, "next_seq", next_seq)
    slow = threading.Thread(target=services.publish, args=(PROJECT, "asset.changed", {"n": "slow"}))
    slow.start()
    assert first.wait(5)
    fast = threading.Thread(target=services.publish, args=(PROJECT, "asset.changed", {"n": "fast"}))
    fast.start()
    slow.join()
    fast.join()

    async def two():
        return [await asyncio.wait_for(layer.receive(channel), 5) for _ in range(2)]

    received = [m["payload"] for m in async_to_sync(two)()]
    async_to_sync(layer.group_discard)(services.project_group(PROJECT), channel)
    assert [m["n"] for m in received] == ["slow", "fast"]
    assert received[0]["seq"] + 1 == received[1]["seq"]
