"""Benchmark: server CPU per request, in this process, for each page and API of the load bench.

Less sensitive to a shared machine than `bench/portal_load.py` (which measures the whole server under
load): here one request runs at a time, and `time.process_time()` (every thread of this process, so
the thread a sync view runs in under ASGI counts too) is read around each batch. Seeds the same
volume as the load bench (studio "loadbench"), signs in one producer and one studio admin with a
session as the sign-in form leaves it, then asks each endpoint `--requests` times through the real
ASGI application (`portal.asgi.application`: the middleware, the handler's thread hop, the pooled
connection) and prints CPU ms per request, the ratio to a baseline measured in the same run (the
health check and a static file), the queries per request and the response size.

    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal REDIS_URL=redis://127.0.0.1:6379/0
    .venv/bin/python bench/request_cpu.py                      # services mode (DEBUG off, as served)
    .venv/bin/python bench/request_cpu.py --requests 50 --only "project page,assets api"
    .venv/bin/python bench/request_cpu.py --client             # Django's test client, no ASGI
    .venv/bin/python bench/request_cpu.py --profile "project page"   # pyinstrument (test client)
    .venv/bin/python bench/request_cpu.py                      # embedded default: without the variables

Queries are counted on a separate pass through Django's test client (same middleware and view, in
this thread), so the timing pass runs without the query log.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
os.environ.setdefault("DEBUG", "false")  # as the load bench serves (no query log, no debug templates)

BASELINES = ("health check", "static file")


def targets(world) -> list[tuple[str, str, str]]:
    """(name, role, url): the load bench's endpoints, each once, after the two baselines."""
    import portal_load

    rows = [("health check", "anonymous", "/healthz"), ("static file", "anonymous", portal_load.STATIC_PATH)]
    seen = set()
    for role, pairs in portal_load.endpoints(world).items():
        for name, url in pairs:
            if name not in seen:
                seen.add(name)
                rows.append((name, role, url))
    return rows


class AsgiCaller:
    """GET through the ASGI application, one request at a time, on one event loop."""

    def __init__(self) -> None:
        from portal.asgi import application

        self.app = application
        self.loop = asyncio.new_event_loop()

    def get(self, url: str, cookie: str | None) -> tuple[int, int]:
        return self.loop.run_until_complete(self._get(url, cookie))

    async def _get(self, url: str, cookie: str | None) -> tuple[int, int]:
        path, _, query = url.partition("?")
        headers = [(b"host", b"127.0.0.1"), (b"accept", b"text/html,application/json")]
        if cookie:
            headers.append((b"cookie", cookie.encode()))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8150),
        }
        sent = False
        status, size = 0, 0

        async def receive():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await asyncio.get_running_loop().create_future()  # no disconnect until the response is out

        async def send(message):
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))

        await self.app(scope, receive, send)
        return status, size


class ClientCaller:
    """GET through Django's test client (no ASGI, no thread hop), in this thread."""

    def __init__(self) -> None:
        from django.test import Client

        self.clients: dict[str | None, Client] = {}

    def client(self, cookie: str | None):
        from django.test import Client

        if cookie not in self.clients:
            client = Client()
            if cookie:
                name, value = cookie.split("=", 1)
                client.cookies[name] = value
            self.clients[cookie] = client
        return self.clients[cookie]

    def get(self, url: str, cookie: str | None) -> tuple[int, int]:
        response = self.client(cookie).get(url)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        return response.status_code, len(body)


def count_queries(url: str, cookie: str | None) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    caller = ClientCaller()
    caller.get(url, cookie)  # warm
    with CaptureQueriesContext(connection) as captured:
        caller.get(url, cookie)
    return len(captured.captured_queries)


def measure(caller, url: str, cookie: str | None, requests: int, warmup: int = 5) -> tuple[float, int, int]:
    """(CPU ms per request, status, bytes): the median of 5 batches, to shrug off a neighbour's burst."""
    for _ in range(warmup):
        status, size = caller.get(url, cookie)
    batches = []
    per_batch = max(1, requests // 5)
    for _ in range(5):
        started = time.process_time()
        for _ in range(per_batch):
            caller.get(url, cookie)
        batches.append((time.process_time() - started) / per_batch * 1000)
    batches.sort()
    return batches[len(batches) // 2], status, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200, help="requests per endpoint (in 5 batches)")
    parser.add_argument("--only", default="", help="comma-separated endpoint names (the baselines always run)")
    parser.add_argument("--client", action="store_true", help="Django's test client instead of the ASGI application")
    parser.add_argument("--profile", default="", help="pyinstrument over this endpoint instead of the table")
    args = parser.parse_args()

    import django

    django.setup()
    import logging

    logging.getLogger("django.request").setLevel(logging.ERROR)
    import warnings

    warnings.simplefilter("ignore")  # Django's note on WhiteNoise's sync file iterator under ASGI
    import portal_load
    from django.conf import settings
    from django.db import transaction

    with transaction.atomic():
        world = portal_load.seed()
    cookies = {
        "anonymous": None,
        "producer": portal_load.session_cookie(world["producers"][0]),
        "admin": portal_load.session_cookie(world["admins"][0]),
    }
    caller = ClientCaller() if args.client else AsgiCaller()
    rows = targets(world)
    if args.profile:
        from pyinstrument import Profiler

        name, role, url = next(r for r in rows if r[0] == args.profile)
        caller = ClientCaller()  # pyinstrument samples this thread only: the view must run in it
        measure(caller, url, cookies[role], 10)
        profiler = Profiler(interval=0.0002, async_mode="disabled")
        profiler.start()
        for _ in range(args.requests):
            caller.get(url, cookies[role])
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False, show_all=bool(os.environ.get("PROFILE_ALL"))))
        return
    only = {n.strip() for n in args.only.split(",") if n.strip()}
    mode = "embedded (SQLite)" if settings.EMBEDDED else "services (PostgreSQL, Redis)"
    how = "Django test client" if args.client else "ASGI application"
    print(f"{mode}, DEBUG={settings.DEBUG}, {how}, {args.requests} requests per endpoint (median of 5 batches)")
    print(f"seeded: {world['assets']} assets, {world['notes']} notes, {world['audit_rows']} audit rows\n")
    print("| endpoint | CPU ms/request | x health check | queries | status | KB |")
    print("|---|---:|---:|---:|---:|---:|")
    base = None
    total, measured = 0.0, 0
    for name, role, url in rows:
        if only and name not in only and name not in BASELINES:
            continue
        cpu, status, size = measure(caller, url, cookies[role], args.requests)
        queries = count_queries(url, cookies[role])
        base = base or cpu
        if name not in BASELINES:
            total += cpu
            measured += 1
        print(f"| {name} | {cpu:.2f} | {cpu / base:.1f} | {queries} | {status} | {size / 1024:.1f} |")
    if measured:
        print(f"\nmean over the {measured} pages and APIs: {total / measured:.2f} ms CPU per request")


if __name__ == "__main__":
    main()
