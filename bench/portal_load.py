"""Benchmark: the portal under a review day's load, in services mode, against a static file.

Seeds its own volume through the services (a studio "loadbench" with 50 assets, 200 notes and about
2,400 audit rows, and one account per simulated user: three producers to one studio admin;
idempotent), starts the ASGI server as `make services-run` does (uvicorn, one worker process per
core, DEBUG off) on the given port, then for each number of users runs signed-in producers and
studio admins over the pages and APIs below (think time between requests; the first `--warmup`
seconds are not kept), while one more client writes a note through the API every `--write-every`
seconds (each write drops every kept page copy, so the copies are rebuilt during the level as on a
real review day), and the same users over one static file served by the same server.
`--compare-cache` runs each level a second time with the page cache off (PAGE_CACHE=false).

Prints, per level: p50/p95/p99 per endpoint and in total, requests per second, errors, server CPU per
request (all the server's processes, from /proc), the load generator's own CPU per request (it
shares the 2 cores), PostgreSQL sessions opened during the run (pg_stat_database.sessions) and the
most open at once (pg_stat_activity).

Needs DATABASE_URL and REDIS_URL (services mode), like `make services-run`:

    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal REDIS_URL=redis://127.0.0.1:6379/0
    .venv/bin/python bench/portal_load.py                       # 20 and 50 users, 60 s each
    .venv/bin/python bench/portal_load.py --users 50 --seconds 30 --port 8160 --workers 2
    .venv/bin/python bench/portal_load.py --root /path/to/other/checkout   # serve another tree
    .venv/bin/python bench/portal_load.py --users 50 --compare-cache   # with and without the page cache
    .venv/bin/python bench/portal_load.py --profile             # pyinstrument: one signed-in page

Targets (issue 20), at 50 users on 2 cores: p95 < 250 ms, >= 100 requests/s, 0 errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

STUDIO_SLUG, PROJECT_CODE = "loadbench", "LOAD_S1"
ASSETS, NOTES, AUDIT_ROWS = 50, 200, 2400
STATIC_PATH = "/static/css/portal.css"


# --- seeding (through the services) -----------------------------------------------------------


def seed(producer_count: int = 6, admin_count: int = 3) -> dict:
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"  # the invitations are not read
    from django.utils import timezone

    from portal.audit.models import AuditEvent
    from portal.footage import services as footage_services
    from portal.footage.models import AssetVersion
    from portal.projects import services as project_services
    from portal.projects.models import Project
    from portal.review import services as review_services
    from portal.review.models import Note
    from portal.studios import services as studio_services
    from portal.studios.models import Studio, StudioMembership

    User = get_user_model()
    studio = Studio.objects.filter(slug=STUDIO_SLUG).first() or studio_services.studio_create(
        actor=None, name="Load Bench Studio", slug=STUDIO_SLUG
    )

    def join(email, studio_role, project=None, project_role="", inviter=None):
        if StudioMembership.objects.filter(studio=studio, user__email=email).exists():
            return User.objects.get(email=email)
        kwargs = {"as_platform_staff": True} if inviter is None else {"project": project, "project_role": project_role}
        _inv, token = studio_services.invitation_send(
            actor=inviter, studio=studio, email=email, studio_role=studio_role, **kwargs
        )
        existing = User.objects.filter(email=email).first()
        return studio_services.invitation_accept(raw_token=token, user=existing, password="quiet-harbour-7431", full_name=email)

    admins = [join(f"admin{n}@loadbench.test", "studio_admin") for n in range(admin_count)]
    project = Project.objects.filter(studio=studio, code=PROJECT_CODE).first() or project_services.project_create(
        actor=admins[0], studio=studio, code=PROJECT_CODE, name="Load bench"
    )
    producers = [join(f"producer{n}@loadbench.test", "member", project, "producer", admins[0]) for n in range(producer_count)]

    have = AssetVersion.objects.filter(asset__project=project).count()
    for n in range(have, ASSETS):
        upload = footage_services.upload_create(
            actor=producers[n % len(producers)],
            project=project,
            length=1000 + n,
            metadata_header=_metadata(filename=f"shot_{n:03d}.mov"),
        )
        # what a finished ingest leaves, without running ffmpeg 50 times (ingest is benched elsewhere)
        AssetVersion.objects.filter(pk=upload.version_id).update(
            status=AssetVersion.Status.READY,
            sha256=f"{n:064x}",
            media_info={"kind": "video", "duration": 4.0, "video": {"width": 1920, "height": 1080, "frame_rate": "25/1"}},
            ready_at=timezone.now(),
        )
    versions = list(AssetVersion.objects.filter(asset__project=project).select_related("asset__project__studio"))
    reviewed = min(versions, key=lambda v: v.pk)
    have = Note.objects.filter(version__asset__project=project).count()
    for n in range(have, NOTES):
        version = reviewed if n < NOTES // 2 else versions[n % len(versions)]
        review_services.note_create(
            actor=producers[n % len(producers)], version=version, frame_start=n % 100, text=f"Note {n}: check the edge"
        )
    have = AuditEvent.objects.filter(studio=studio).count()
    for n in range(have, AUDIT_ROWS):
        footage_services.download_record(actor=producers[n % len(producers)], version=versions[n % len(versions)], what="stream")
    return {
        "studio": studio,
        "project": project,
        "reviewed": reviewed,
        "producers": producers,
        "admins": admins,
        "audit_rows": AuditEvent.objects.filter(studio=studio).count(),
        "notes": Note.objects.filter(version__asset__project=project).count(),
        "assets": project.assets.count(),
    }


def _metadata(**fields) -> str:
    import base64

    fields.setdefault("kind", "footage")
    return ",".join(f"{k} {base64.b64encode(str(v).encode()).decode()}" for k, v in fields.items())


def session_cookie(user) -> str:
    """A signed-in session, as the sign-in form would leave it (no password round trip per user)."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    SessionStore = import_module(settings.SESSION_ENGINE).SessionStore

    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return f"{settings.SESSION_COOKIE_NAME}={store.session_key}"


def endpoints(world) -> dict[str, list[tuple[str, str]]]:
    s, p, v = world["studio"], world["project"], world["reviewed"]
    base = f"/s/{s.slug}/p/{p.code}"
    return {
        "producer": [
            ("project page", f"{base}/"),
            ("asset list", f"{base}/assets/"),
            ("assets api", f"/api/v1/projects/{p.pk}/assets/"),
            ("notes api", f"/api/v1/projects/{p.pk}/versions/{v.pk}/notes/"),
            ("runs page", f"{base}/tools/"),
            ("review page", f"{base}/review/{v.pk}/"),
        ],
        "admin": [
            ("dashboard", f"/s/{s.slug}/"),
            ("audit page", f"/s/{s.slug}/audit/"),
            ("audit api", f"/api/v1/studios/{s.pk}/audit-events/"),
            ("project page", f"{base}/"),
        ],
    }


# --- the server and what it costs -------------------------------------------------------------


def start_server(root: Path, port: int, workers: int, page_cache: bool = True) -> subprocess.Popen:
    env = {**os.environ, "DEBUG": "false", "PYTHONPATH": str(root), "PAGE_CACHE": "true" if page_cache else "false"}
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "portal.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-proxy-headers",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    proc = subprocess.Popen(cmd, cwd=root, env=env, start_new_session=True)
    import urllib.request

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
            time.sleep(1.0)  # every worker process up
            return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("the server did not answer /healthz within 60 s")


def process_tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
    return pids


def cpu_seconds(pid: int) -> float:
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for p in process_tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        except (OSError, IndexError):
            pass
    return total


_PG = None


def pg_sessions() -> tuple[int, int]:
    """(sessions ever opened on this database, sessions open now), on a connection of the bench's own."""
    global _PG
    import psycopg

    if _PG is None:
        _PG = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)
    with _PG.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        opened = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        now = cursor.fetchone()[0]
    return opened, now


# --- the load ---------------------------------------------------------------------------------


class Connection:
    """One simulated user's keep-alive HTTP/1.1 connection, written by hand: the load generator shares
    the machine's 2 cores with the server, and a general client (httpx: about 3 ms of CPU a request
    here) would take CPU the server is measured without. Reads Content-Length and chunked bodies and
    reconnects when the server closes."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader = self.writer = None

    async def request(self, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, dict, bytes]:
        for attempt in (1, 2):
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            if body or method != "GET":
                head += f"Content-Length: {len(body)}\r\n"
            try:
                self.writer.write(head.encode() + b"\r\n" + body)
                return await asyncio.wait_for(self._response(), 30)
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _response(self) -> tuple[int, dict, bytes]:
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")
                    break
                parts.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
            body = b"".join(parts)
        else:
            body = await self.reader.read()
            self.close()
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def role_of(n: int) -> tuple[str, int]:
    """Simulated user n: a studio admin one time in four, else a producer; and its index in that role."""
    return ("admin", n // 4) if n % 4 == 3 else ("producer", n - (n + 1) // 4)


async def run_level(port, users, seconds, plans, cookies, think, static_only=False, warmup=0.0, writer=None):
    """Each user asks, thinks, asks again until the level ends. Samples are kept from `warmup` seconds
    on. `writer` (url, bearer token, every seconds): one more client writes a note through the API at
    that pace, as reviewers do, so the pages' kept copies are dropped and rebuilt during the level."""
    samples: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    hits: dict[str, int] = defaultdict(int)  # answered from a kept copy (X-Page-Cache: hit or shared)
    record_from = time.monotonic() + warmup
    stop_at = record_from + seconds
    connections = []
    try:

        async def user(n: int):
            role, index = role_of(n)
            cookie = cookies[role][index % len(cookies[role])]
            rng = random.Random(n)
            connection = Connection(port)
            connections.append(connection)
            await asyncio.sleep(rng.uniform(0, think[1]))  # spread the start
            while time.monotonic() < stop_at:
                name, url = ("static file", STATIC_PATH) if static_only else rng.choice(plans[role])
                started = time.perf_counter()
                try:
                    status, headers, _body = await connection.request("GET", url, {"Cookie": cookie})
                    if status != 200:
                        errors[name] += 1
                    hit = headers.get("x-page-cache") in ("hit", "shared")
                except Exception:  # noqa: BLE001 - counted as an error, reported below
                    errors[name] += 1
                    hit = False
                if time.monotonic() >= record_from:
                    samples[name].append(time.perf_counter() - started)
                    hits[name] += hit
                await asyncio.sleep(rng.uniform(*think))

        async def write_notes():
            url, token, every = writer
            connection = Connection(port)
            connections.append(connection)
            n = 0
            while True:
                await asyncio.sleep(min(every, stop_at - time.monotonic()))
                if time.monotonic() >= stop_at:
                    break
                n += 1
                started = time.perf_counter()
                try:
                    body = json.dumps({"frame_start": n % 100, "text": f"Load note {n}: the edge flickers"}).encode()
                    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
                    status, _headers, _body = await connection.request("POST", url, headers, body)
                    if status != 201:
                        errors["note write"] += 1
                except Exception:  # noqa: BLE001 - counted as an error, reported below
                    errors["note write"] += 1
                if time.monotonic() >= record_from:
                    samples["note write"].append(time.perf_counter() - started)

        tasks = [user(n) for n in range(users)]
        if writer is not None and not static_only:
            tasks.append(write_notes())
        await asyncio.gather(*tasks)
    finally:
        for connection in connections:
            connection.close()
    return samples, errors, hits


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))] * 1000 if ordered else float("nan")


def report(title, samples, errors, seconds, cpu, opened, peak, own_cpu=0.0, hits=None):
    hits = hits or {}
    total = [x for v in samples.values() for x in v]
    count = len(total)
    print(f"\n### {title}")
    print("| endpoint | requests | p50 ms | p95 ms | p99 ms | errors | from a kept copy |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in sorted(samples):
        v = samples[name]
        share = f"{hits.get(name, 0) / len(v):.0%}" if v else "-"
        print(f"| {name} | {len(v)} | {pct(v, 50):.0f} | {pct(v, 95):.0f} | {pct(v, 99):.0f} | {errors.get(name, 0)} | {share} |")
    share = f"{sum(hits.values()) / count:.0%}" if count else "-"
    print(
        f"| **all** | {count} | {pct(total, 50):.0f} | {pct(total, 95):.0f} | {pct(total, 99):.0f} | "
        f"{sum(errors.values())} | {share} |"
    )
    rps = count / seconds if seconds else 0
    print(
        f"\n{rps:.1f} requests/s, server CPU {cpu / max(count, 1) * 1000:.1f} ms/request "
        f"({cpu:.1f} s over {seconds:.0f} s), PostgreSQL sessions opened {opened}, most open at once {peak}; "
        f"the load generator's own CPU {own_cpu / max(count, 1) * 1000:.1f} ms/request"
    )


async def sample_peak(stop: asyncio.Event, box: list[int]):
    while not stop.is_set():
        box[0] = max(box[0], pg_sessions()[1])
        await asyncio.sleep(0.5)


def own_cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measured(port, users, seconds, plans, cookies, think, server_pid, static_only, warmup=0.0, writer=None):
    level = asyncio.create_task(run_level(port, users, seconds, plans, cookies, think, static_only, warmup, writer))
    await asyncio.sleep(warmup)  # users running, samples not kept yet
    opened_before, _ = pg_sessions()
    cpu_before, own_before = cpu_seconds(server_pid), own_cpu_seconds()
    stop, peak = asyncio.Event(), [0]
    sampler = asyncio.create_task(sample_peak(stop, peak))
    started = time.monotonic()
    samples, errors, hits = await level
    elapsed = time.monotonic() - started
    stop.set()
    await sampler
    cpu, own = cpu_seconds(server_pid) - cpu_before, own_cpu_seconds() - own_before
    opened_after, _ = pg_sessions()
    # minus the bench's own connection checks (none: one connection, kept)
    return samples, errors, hits, elapsed, cpu, opened_after - opened_before, peak[0], own


def audit_write_rate(world, seconds: float = 10.0, threads: int = 4) -> None:
    """Audited writes per second: `threads` writers on one studio's chain (they queue on its head
    row), then the same writers each on a studio of its own (no shared head)."""
    import threading

    from django.db import connection

    from portal.audit.services import record
    from portal.studios import services as studio_services
    from portal.studios.models import Studio

    others = [
        Studio.objects.filter(slug=f"loadbench-w{n}").first()
        or studio_services.studio_create(actor=None, name=f"Load Bench W{n}", slug=f"loadbench-w{n}")
        for n in range(threads)
    ]
    for label, studios in (("one studio", [world["studio"]] * threads), (f"{threads} studios", others)):
        counts = [0] * threads
        stop_at = time.monotonic() + seconds
        barrier = threading.Barrier(threads)

        def write(n: int, studio, barrier=barrier, stop_at=stop_at, counts=counts) -> None:
            barrier.wait()
            while time.monotonic() < stop_at:
                record(action="bench.write", studio=studio, details={"writer": n})
                counts[n] += 1
            connection.close()

        workers = [threading.Thread(target=write, args=(n, s)) for n, s in enumerate(studios)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        total = sum(counts)
        per_studio = total / seconds / len(set(studios))
        print(f"audited writes, {threads} writers on {label}: {total / seconds:.0f}/s in total, {per_studio:.0f}/s per studio")


def profile_one(world, cookies):
    """pyinstrument over one signed-in page request, in this process (Django's test client)."""
    from django.test import Client
    from pyinstrument import Profiler

    client = Client()
    name, value = cookies["producer"][0].split("=", 1)
    client.cookies[name] = value
    url = endpoints(world)["producer"][0][1]
    client.get(url)  # warm-up
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for _ in range(20):
        client.get(url)
    profiler.stop()
    print(profiler.output_text(unicode=False, color=False, show_all=False))


def main() -> None:
    import logging

    logging.getLogger("httpx2").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", default="20,50", help="comma-separated user counts (default 20,50)")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each level")
    parser.add_argument("--static-seconds", type=float, default=20.0, help="length of the static-file level")
    parser.add_argument("--port", type=int, default=8160)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="server processes (default: cores)")
    parser.add_argument("--think", default="0.1,0.5", help="think time between a user's requests, min,max seconds")
    parser.add_argument("--root", default=str(ROOT), help="the checkout the server runs (to compare two trees)")
    parser.add_argument("--profile", action="store_true", help="profile one signed-in page instead of loading")
    parser.add_argument("--audit-rate", action="store_true", help="measure audited writes per second per studio instead")
    parser.add_argument(
        "--accounts", type=int, default=0, help="distinct accounts the users sign in as (default: one per user, as people)"
    )
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of load before samples are kept (each level)")
    parser.add_argument(
        "--write-every", type=float, default=5.0, help="one note written through the API every N seconds (0: none)"
    )
    parser.add_argument(
        "--compare-cache",
        action="store_true",
        help="run each level twice: with the page cache (as served) and without it (PAGE_CACHE=false)",
    )
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        raise SystemExit("services mode: export DATABASE_URL and REDIS_URL (see the docstring)")

    import django
    from django.db import transaction

    django.setup()
    most = max(int(u) for u in args.users.split(","))
    accounts = args.accounts or most
    admin_count = max(1, accounts // 4)
    with transaction.atomic():  # all or nothing: a failed seeding leaves no half-invited studio
        world = seed(producer_count=max(1, accounts - admin_count), admin_count=admin_count)
    from portal.accounts.services import api_token_create

    _token, raw_token = api_token_create(user=world["producers"][0], name="load bench writer", expires_in_days=1)
    writer = None
    if args.write_every > 0:
        notes_url = f"/api/v1/projects/{world['project'].pk}/versions/{world['reviewed'].pk}/notes/"
        writer = (notes_url, raw_token, args.write_every)
    cookies = {
        "producer": [session_cookie(u) for u in world["producers"]],
        "admin": [session_cookie(u) for u in world["admins"]],
    }
    print(
        f"seeded: {world['assets']} assets, {world['notes']} notes, {world['audit_rows']} audit rows "
        f"(studio {STUDIO_SLUG}); cores {os.cpu_count()}, server workers {args.workers}, think {args.think} s; "
        f"{len(cookies['producer'])} producer and {len(cookies['admin'])} studio admin accounts; warm-up {args.warmup:g} s; "
        + (f"a note written every {args.write_every:g} s" if writer else "no writes")
    )
    if args.profile:
        profile_one(world, cookies)
        return
    if args.audit_rate:
        audit_write_rate(world)
        return
    think = tuple(float(x) for x in args.think.split(","))
    plans = endpoints(world)
    from django.db import connections

    connections.close_all()  # the seeding connection; pg_sessions opens one of its own
    variants = [True, False] if args.compare_cache else [True]
    for page_cache in variants:
        server = start_server(Path(args.root), args.port, args.workers, page_cache=page_cache)
        try:
            for users in [int(u) for u in args.users.split(",")]:
                for static_only in (False, True):
                    if static_only and not page_cache:
                        continue  # the static file does not go through the page cache
                    seconds = args.static_seconds if static_only else args.seconds
                    result = asyncio.run(
                        measured(args.port, users, seconds, plans, cookies, think, server.pid, static_only, args.warmup, writer)
                    )
                    samples, errors, hits, elapsed, cpu, opened, peak, own = result
                    what = "static file" if static_only else "pages and APIs"
                    cache_note = "" if static_only else (", page cache on" if page_cache else ", page cache OFF")
                    report(f"{users} users, {what}{cache_note}", samples, errors, elapsed, cpu, opened, peak, own, hits)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
