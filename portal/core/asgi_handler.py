"""Django's ASGI handler, except that a request crosses to a thread once, and a tus PATCH body
streams straight to the view.

One thread hop per request. Every middleware and view of the portal is synchronous. Django's ASGI
handler nonetheless builds its middleware chain in async mode, so a request went loop -> thread (the
middleware) -> loop (async_to_sync around the inner handler) -> thread (sync_to_async around the view
middleware, the view, the template response) and back: five hops through the event loop, each a
wake-up of the loop and of the request's thread (about 1 ms of CPU per request with a 2-core server).
Here the chain is built in sync mode, as under WSGI, and the whole of it runs in one
`sync_to_async(thread_sensitive=True)` call: in the request's own thread (the ThreadSensitiveContext
Django's handler opens per request), which is where it ran before.

Django reads every request body to the end before the view runs, into a temporary file once it
passes FILE_UPLOAD_MAX_MEMORY_SIZE. For a tus chunk (8 to 64 MiB) that writes every uploaded byte
to disk twice: once into that spool, once into the upload's part file. Here the body of
`PATCH /api/v1/uploads/<id>/` is handed to the view as a file whose `read()` takes the next
pieces from the ASGI server as they arrive, so the view (which has already checked the user, the
offset and the lease by the time it reads) writes each byte once, and memory stays at one piece.

What stays as Django has it:
- the request is built, routed and passed through the middleware exactly as before; no middleware
  reads a PATCH body;
- a body the view did not read (a 409, a 403, a 413) is read to its end and dropped before the
  response is sent, as Django's own reading would have done, so clients get the answer, not a reset;
- a client that goes away mid-body makes `read()` raise `ClientDisconnected`; the part store then
  cuts the part file back to the recorded offset, as it does for any failed chunk.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from typing import Any

from asgiref.sync import sync_to_async
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler
from django.urls import Resolver404, resolve

STREAMED_ROUTES = frozenset({"tus-upload"})
STREAMED_CONTENT_TYPE = b"application/offset+octet-stream"


class ClientDisconnected(RequestAborted):
    """The client went away before the body was complete."""


class StreamedBody:
    """A read-only binary file over the ASGI `receive` channel, for a view running in a thread.

    A task on the event loop keeps taking pieces from the server into a small buffer (at most
    BUFFER_BYTES ahead of the reader) while the view's thread writes what it has, so the socket and
    the disk work at the same time and the thread never waits on a round trip through the loop.
    """

    BUFFER_BYTES = 4 * 1024 * 1024

    def __init__(self, receive: Any) -> None:
        self._receive = receive
        self._loop = asyncio.get_running_loop()
        self._pieces: deque[bytes] = deque()
        self._buffered = 0
        self._ended = False  # no more body will come (its end, or a disconnect)
        self._disconnected = False
        self._discard = False  # the response is going out: what is left is read and dropped
        self._cond = threading.Condition()
        self._room = asyncio.Event()
        self._room.set()
        self.finished = asyncio.Event()  # on the loop: the body has ended, one way or another
        self.bytes_read = 0
        self._pump = self._loop.create_task(self._pump_body())

    # File protocol, called from the view's thread.
    def read(self, size: int = -1, /) -> bytes:
        if size is None or size < 0:  # the whole body (no view here does this, but a file must allow it)
            out = []
            while piece := self.read(self.BUFFER_BYTES):
                out.append(piece)
            return b"".join(out)
        with self._cond:
            while not self._pieces and not self._ended:
                self._cond.wait()
            if not self._pieces and self._disconnected:
                raise ClientDisconnected("the client closed the connection before the chunk was complete")
            out, taken = [], 0
            while self._pieces and taken < size:
                piece = self._pieces.popleft()
                if taken + len(piece) > size:
                    piece, rest = piece[: size - taken], piece[size - taken :]
                    self._pieces.appendleft(rest)
                out.append(piece)
                taken += len(piece)
            self._buffered -= taken
            if self._buffered < self.BUFFER_BYTES:
                self._loop.call_soon_threadsafe(self._room.set)
        self.bytes_read += taken
        return b"".join(out)

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        with self._cond:
            self._pieces.clear()
            self._buffered = 0

    @property
    def closed(self) -> bool:
        return False

    # On the event loop.
    async def _pump_body(self) -> None:
        try:
            while True:
                await self._room.wait()
                message = await self._receive()
                with self._cond:
                    if message["type"] == "http.disconnect":
                        self._ended = self._disconnected = True
                    else:
                        body = message.get("body", b"")
                        if body and not self._discard:
                            self._pieces.append(body)
                            self._buffered += len(body)
                            if self._buffered >= self.BUFFER_BYTES:
                                self._room.clear()
                        self._ended = not message.get("more_body", False)
                    self._cond.notify_all()
                    if self._ended:
                        return
        finally:
            with self._cond:
                self._ended = True
                self._cond.notify_all()
            self.finished.set()

    async def drain(self) -> None:
        """Read and drop whatever body the view left unread, before the response goes out."""
        with self._cond:
            self._discard = True
            self._pieces.clear()
            self._buffered = 0
        self._room.set()
        await self.finished.wait()

    async def receive_after_body(self) -> dict[str, Any]:
        """Django's disconnect listener: waits until the body is over, then listens as before."""
        await self.finished.wait()
        if self._disconnected:
            # The view sees it too (read() raised) and answers; nothing more will come.
            await asyncio.get_running_loop().create_future()
        return await self._receive()

    def cancel(self) -> None:
        self._pump.cancel()


class PortalASGIHandler(ASGIHandler):
    def load_middleware(self, is_async=False):
        # Sync mode whatever the caller asks: every middleware here is synchronous (see the module).
        super().load_middleware(is_async=False)

    async def get_response_async(self, request):
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)

    async def handle(self, scope, receive, send):
        if not _streams(scope):
            return await super().handle(scope, receive, send)
        body = StreamedBody(receive)

        async def send_after_body(message):
            if message["type"] == "http.response.start":
                await body.drain()
            await send(message)

        try:
            # A bound method: read_body finds the body through its __self__.
            return await super().handle(scope, body.receive_after_body, send_after_body)
        finally:
            body.cancel()

    async def read_body(self, receive):
        owner = getattr(receive, "__self__", None)
        if isinstance(owner, StreamedBody):
            return owner
        return await super().read_body(receive)


def _streams(scope: dict[str, Any]) -> bool:
    if scope.get("type") != "http" or scope.get("method") != "PATCH":
        return False
    content_type = dict(scope.get("headers") or []).get(b"content-type", b"")
    if content_type.split(b";")[0].strip().lower() != STREAMED_CONTENT_TYPE:
        return False
    try:
        match = resolve(scope.get("path", ""))
    except Resolver404:
        return False
    return match.url_name in STREAMED_ROUTES
