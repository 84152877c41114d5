"""tus PATCH bodies through the portal's ASGI handler: streamed to the view, never spooled.

The handler is driven the way an ASGI server drives it (scope, receive, send), with the body in
several pieces, so what the view sees is what uvicorn would give it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
from urllib.parse import urlsplit

import pytest
from asgiref.sync import async_to_sync
from django.core.files.storage import default_storage
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from portal.accounts.services import api_token_create
from portal.core.asgi_handler import PortalASGIHandler
from portal.footage.models import Upload
from tests.footage.test_tus import create

PIECE = 64 * 1024


class Conversation:
    """One HTTP exchange with the handler; records what it read and what it sent back."""

    def __init__(self, pieces: list[bytes], *, disconnect_after: int | None = None):
        self.messages = [
            {"type": "http.request", "body": piece, "more_body": n < len(pieces) - 1} for n, piece in enumerate(pieces)
        ]
        if disconnect_after is not None:
            self.messages = self.messages[:disconnect_after]
            self.messages[-1]["more_body"] = True
            self.messages.append({"type": "http.disconnect"})
        self.received = 0
        self.body_read_when_answered: int | None = None
        self.sent: list[dict] = []
        self.ended = None

    async def receive(self):
        if self.received < len(self.messages):
            message = self.messages[self.received]
            self.received += 1
            return message
        # After the body the server only ever says the client went away; here it never does.
        self.ended = self.ended or asyncio.get_running_loop().create_future()
        return await self.ended

    async def send(self, message):
        if message["type"] == "http.response.start":
            self.body_read_when_answered = self.received
        self.sent.append(message)

    @property
    def status(self) -> int:
        return next(m["status"] for m in self.sent if m["type"] == "http.response.start")

    def header(self, name: str) -> str | None:
        start = next(m for m in self.sent if m["type"] == "http.response.start")
        return next((v.decode() for k, v in start["headers"] if k.decode().lower() == name), None)

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")


def scope(path: str, token: str, headers: dict[str, str], method: str = "PATCH") -> dict:
    raw = [(b"host", b"testserver"), (b"authorization", f"Bearer {token}".encode()), (b"tus-resumable", b"1.0.0")]
    raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": raw,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


def exchange(path, token, body_pieces, offset, *, checksum=None, disconnect_after=None, content_type=None):
    headers = {
        "content-type": content_type or "application/offset+octet-stream",
        "upload-offset": str(offset),
        "content-length": str(sum(len(p) for p in body_pieces)),
    }
    if checksum:
        headers["upload-checksum"] = checksum
    talk = Conversation(body_pieces, disconnect_after=disconnect_after)
    # As Django's test client does: the handler's request signals would close the test's own database
    # connection (the view runs on this thread), and with it the test's transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        async_to_sync(PortalASGIHandler())(scope(path, token, headers), talk.receive, talk.send)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return talk


def pieces(data: bytes, size: int = PIECE) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def part(upload: Upload) -> bytes:
    with default_storage.open(upload.part_key, "rb") as f:
        return f.read()


@pytest.fixture
def no_spooling(monkeypatch):
    """Django's own body reading, which spools to a temporary file, must not run for a tus PATCH."""

    def refuse(*args, **kwargs):
        raise AssertionError("the PATCH body was spooled")

    monkeypatch.setattr("django.core.handlers.asgi.tempfile.SpooledTemporaryFile", refuse)


@pytest.fixture
def upload_of(api_for, world):
    artist = world.a.users["artist"]
    _token, secret = api_token_create(user=artist, name="streaming test")

    def make(length: int) -> tuple[str, str]:
        response = create(api_for(artist), world.a.project, length=length)
        assert response.status_code == 201, response.content
        return urlsplit(response["Location"]).path, secret

    return make


def test_a_chunk_streams_into_the_part_file_in_pieces(upload_of, no_spooling):
    data = bytes(range(256)) * 1500  # 384000 bytes: six pieces, the last one short
    location, token = upload_of(len(data) * 2)
    first = exchange(location, token, pieces(data[:200_000]), 0)
    assert first.status == 204, first.body
    second = exchange(location, token, pieces(data[200_000:]), 200_000)
    assert second.status == 204 and second.header("upload-offset") == str(len(data))
    upload = Upload.objects.get()
    assert upload.offset == len(data)
    assert part(upload) == data


def test_a_chunk_with_its_checksum_completes_the_upload(upload_of, no_spooling):
    data = b"frame" * 50_000
    location, token = upload_of(len(data))
    checksum = "sha256 " + base64.b64encode(hashlib.sha256(data).digest()).decode()
    talk = exchange(location, token, pieces(data), 0, checksum=checksum)
    assert talk.status == 204
    upload = Upload.objects.get()
    assert upload.status == Upload.Status.COMPLETE and part(upload) == data


def test_a_bad_checksum_keeps_nothing(upload_of, no_spooling):
    location, token = upload_of(300_000)
    good = exchange(location, token, pieces(b"a" * 100_000), 0)
    assert good.status == 204
    wrong = "sha256 " + base64.b64encode(hashlib.sha256(b"something else").digest()).decode()
    talk = exchange(location, token, pieces(b"b" * 100_000), 100_000, checksum=wrong)
    assert talk.status == 460 and b"Checksum mismatch" in talk.body
    upload = Upload.objects.get()
    assert upload.offset == 100_000 and part(upload) == b"a" * 100_000


def test_a_refused_chunk_is_read_to_its_end_before_the_answer(upload_of, no_spooling):
    """A 409 comes before the view reads a byte; the rest of the body is drained first, so the client
    gets the answer rather than a reset connection."""
    location, token = upload_of(1_000_000)
    body = pieces(b"x" * 500_000)
    talk = exchange(location, token, body, 123)
    assert talk.status == 409 and b"does not match" in talk.body
    assert talk.body_read_when_answered == len(body)
    assert Upload.objects.get().offset == 0


def test_a_client_gone_mid_chunk_leaves_the_upload_at_its_offset(upload_of, no_spooling, caplog):
    location, token = upload_of(1_000_000)
    assert exchange(location, token, pieces(b"k" * 100_000), 0).status == 204
    with caplog.at_level(logging.ERROR, logger="django.request"):
        talk = exchange(location, token, pieces(b"z" * 400_000), 100_000, disconnect_after=3)
    assert talk.status == 400 and b"nothing of it was kept" in talk.body
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR and "Internal Server Error" in r.getMessage()]
    upload = Upload.objects.get()
    assert upload.offset == 100_000 and part(upload) == b"k" * 100_000
    assert upload.lease_token == ""
    # The same chunk, sent again whole, goes in.
    assert exchange(location, token, pieces(b"z" * 400_000), 100_000).status == 204
    assert part(Upload.objects.get()) == b"k" * 100_000 + b"z" * 400_000


def test_other_requests_still_read_their_body_the_django_way(upload_of):
    """Only the tus PATCH streams: creation (a POST) goes through Django's own body reading."""
    location, token = upload_of(10)
    talk = exchange(location, token, [b"abc"], 0, content_type="application/json")
    assert talk.status == 415  # the view's own refusal: the body was read the usual way, then refused
    assert talk.body_read_when_answered == 1
