"""Under ASGI a request crosses from the event loop to a thread once: the middleware and the view run
there together, with no trip back through the loop in between (that cost about 1 ms per request)."""

from __future__ import annotations

import asyncio
import threading

import pytest
from asgiref import sync

from portal.core.asgi_handler import PortalASGIHandler


def _get(handler, path: str) -> tuple[int, bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    out = {"status": 0, "body": b""}

    async def run():
        delivered = False

        async def receive():
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await asyncio.get_running_loop().create_future()

        async def send(message):
            if message["type"] == "http.response.start":
                out["status"] = message["status"]
            elif message["type"] == "http.response.body":
                out["body"] += message.get("body", b"")

        await handler(scope, receive, send)

    asyncio.run(run())
    return out["status"], out["body"]


@pytest.mark.django_db(transaction=True)
def test_a_request_runs_its_middleware_and_view_in_one_thread_hop(monkeypatch):
    calls = {"async_to_sync": 0}
    threads = set()
    original = sync.AsyncToSync.__call__

    def counted(self, *args, **kwargs):
        calls["async_to_sync"] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(sync.AsyncToSync, "__call__", counted)
    from portal.accounts.middleware import TwoFactorMiddleware

    inner = TwoFactorMiddleware.__call__

    def spy(self, request):
        threads.add(threading.get_ident())
        return inner(self, request)

    monkeypatch.setattr(TwoFactorMiddleware, "__call__", spy)
    status, body = _get(PortalASGIHandler(), "/healthz")
    assert status == 200 and b'"status": "ok"' in body
    # Django's own ASGI handler went back to the loop (async_to_sync) around the inner handler
    assert calls["async_to_sync"] == 0
    assert threads and threading.get_ident() not in threads  # the middleware ran off the loop's thread
