"""Benchmark: live events to 200 websocket clients on one project, in services mode.

Serves portal.asgi with uvicorn (PostgreSQL + Redis channel layer, on a free loopback port), seeds
the demo, signs the demo viewer in (a real session cookie), opens CLIENTS websockets on the demo
project (with the Origin a browser on the portal would send), then a separate process standing in
for the worker calls portal.live.services.publish(project, "toolrun.progress", {...}) RATE times a
second for SECONDS, each event carrying the wall-clock time just before the call. Prints:

- latency from the publish() call to receipt in each client: p50 / p95 / p99 / max (target p95 < 100 ms),
  and per event the time until the last of the clients had it;
- events delivered per second (all clients together), and the server's CPU use meanwhile;
- missing and duplicated events (by the event's own index), and per-project sequence numbers that
  are not consecutive in a client (a gap makes a page refetch).

    .venv/bin/python bench/live_latency.py
    .venv/bin/python bench/live_latency.py --clients 200 --rate 20 --seconds 10

DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/portal_bench (created and migrated if
needed), REDIS_URL to redis://127.0.0.1:6379/0; channel-layer keys get a prefix of this run's own
and are removed at the end. Loopback only; every loop is bounded and the script stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import queue
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/portal_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def runqueue_wait_seconds(pid: int) -> float:
    """Time the process's threads spent runnable but waiting for a CPU (taken by other processes)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[1])
        except (FileNotFoundError, IndexError, ValueError):
            continue
    return total / 1e9


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


# --- setup ------------------------------------------------------------------------------------


def ensure_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True, timeout=300
    )
    return done.stdout


def session_and_project(env: dict[str, str]) -> tuple[str, int]:
    code = (
        "import json; from django.test import Client; from portal.accounts.models import User;"
        "from portal.projects.models import Project;"
        "c = Client(); c.force_login(User.objects.get(email='viewer@demo.test'),"
        " backend='django.contrib.auth.backends.ModelBackend');"
        "print(json.dumps({'sessionid': c.cookies['sessionid'].value, 'project': Project.objects.get(code='DEMO_S1').pk}))"
    )
    line = manage(env, "shell", "-v", "0", "-c", code).strip().splitlines()[-1]  # the shell may print its imports first
    data = json.loads(line)
    return data["sessionid"], int(data["project"])


def start_server(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    handle = open(log, "w")  # noqa: SIM115 - lives as long as the server
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "portal.asgi:application", "--host", "127.0.0.1", "--port", str(port)]
        + ["--log-level", "warning", "--no-access-log"],
        cwd=ROOT,
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            break
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit(f"the portal did not start:\n{log.read_text()[-3000:]}")


def cleanup_redis(redis_url: str, prefixes: list[str]) -> int:
    import redis

    client = redis.Redis.from_url(redis_url)
    removed = 0
    for prefix in prefixes:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            removed += client.delete(*keys)
    return removed


# --- the clients (child processes) -------------------------------------------------------------


async def _clients_main(args) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    url = f"ws://127.0.0.1:{args.port}/ws/projects/{args.project}/"
    headers = {"Cookie": f"sessionid={args.session}"}
    origin = f"http://127.0.0.1:{args.port}"
    gate = asyncio.Semaphore(20)  # handshakes in flight at once
    closed: list[str] = []  # sockets closed before the end, with why

    async def open_one():
        async with gate:
            ws = await asyncio.wait_for(
                connect(url, origin=origin, additional_headers=headers, open_timeout=30, max_size=2**20), timeout=60
            )
            hello = json.loads(await asyncio.wait_for(ws.recv(), timeout=30))
            assert hello.get("type") == "hello", hello
            return ws

    sockets = await asyncio.gather(*(open_one() for _ in range(args.count)))
    print("READY", flush=True)
    cpu_start = time.process_time()

    async def listen(ws) -> list[tuple[int, int, float, float]]:
        got: list[tuple[int, int, float, float]] = []
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(args.listen_seconds) as timer:
                async for raw in ws:
                    received = time.time()
                    event = json.loads(raw)
                    if event.get("bench") != args.tag:
                        continue
                    got.append((int(event["i"]), int(event["seq"]), float(event["t_sent"]), received))
                    if event["i"] == args.events - 1:  # a last second for late duplicates
                        timer.reschedule(min(timer.when(), loop.time() + 1.0))
                closed.append(f"closed by the server after {len(got)} events")
        except TimeoutError:
            pass
        except ConnectionClosed as exc:
            closed.append(f"{exc.rcvd.code if exc.rcvd else 'no close frame'} after {len(got)} events")
        return got

    results = await asyncio.gather(*(listen(ws) for ws in sockets))
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    cpu = time.process_time() - cpu_start
    print("RESULT " + json.dumps({"events": results, "closed": closed, "cpu": cpu}), flush=True)


def clients_child(args) -> None:
    asyncio.run(_clients_main(args))


# --- the publisher (child process, standing in for the worker) -----------------------------------


def publisher_child(args) -> None:
    import django

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    django.setup()
    from django.conf import settings

    # The per-project sequence counter lives in the Django cache; other portals and test runs on the
    # same Redis have projects with the same ids, so this run counts under a prefix of its own.
    settings.CACHES["default"]["KEY_PREFIX"] = args.tag
    from portal.live.services import publish

    publish(args.project, "bench.warmup", {})  # connections opened before the clock starts
    durations = []
    print("START", flush=True)
    start = time.monotonic() + 0.2
    for i in range(args.events):
        time.sleep(max(0.0, start + i / args.rate - time.monotonic()))
        t_sent = time.time()
        publish(
            args.project, "toolrun.progress", {"bench": args.tag, "i": i, "t_sent": t_sent, "run": 0, "progress": i / args.events}
        )
        durations.append(time.time() - t_sent)
    from django.core.cache import cache

    cache.delete(f"live:seq:{args.project}")
    print("RESULT " + json.dumps({"durations": durations, "elapsed": time.monotonic() - start}), flush=True)


# --- the run ------------------------------------------------------------------------------------


class Child:
    """A child process of this script; its stdout read by a thread, so every wait has a deadline."""

    def __init__(self, cmd: list[str], env: dict[str, str], log: Path):
        self.log = log
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=open(log, "w"), stdin=subprocess.DEVNULL, text=True
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, prefix: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                break
            if line is None:
                self.proc.wait(timeout=10)
                raise SystemExit(f"a child ended early ({self.proc.returncode}):\n{self.log.read_text()[-3000:]}")
            if line.startswith(prefix):
                return line[len(prefix) :].strip()
        raise SystemExit(f"no {prefix!r} from a child within {timeout:.0f} s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0, help="events a second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--client-procs", type=int, default=2, help="processes the clients are spread over")
    parser.add_argument("--role", choices=["main", "clients", "publisher"], default="main", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--project", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--session", help=argparse.SUPPRESS)
    parser.add_argument("--tag", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--events", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--listen-seconds", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "clients":
        return clients_child(args)
    if args.role == "publisher":
        return publisher_child(args)

    database_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    redis_url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    tag = f"bench-{uuid.uuid4().hex[:10]}"
    events = int(args.rate * args.seconds)
    ensure_database(database_url)
    with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp:
        data = Path(tmp)
        env = {k: v for k, v in os.environ.items() if k not in ("PORTAL_SERVER", "CELERY_EMBEDDED_WORKER")}
        env.update(
            DATABASE_URL=database_url,
            REDIS_URL=redis_url,
            CHANNELS_PREFIX=tag,
            PORTAL_DATA_DIR=str(data),
            DJANGO_SETTINGS_MODULE="portal.settings",
            PYTHONUNBUFFERED="1",
        )
        manage(env, "migrate", "--noinput", "-v", "0")
        manage(env, "seed_demo", "--quiet", "--accounts-only")
        session, project = session_and_project(env)
        port = free_port()
        server = start_server(env, port, data / "server.log")
        children: list[Child] = []
        try:
            me = [sys.executable, str(Path(__file__).resolve())]
            common = ["--port", str(port), "--project", str(project), "--tag", tag, "--events", str(events)]
            per_proc = [
                args.clients // args.client_procs + (1 if n < args.clients % args.client_procs else 0)
                for n in range(args.client_procs)
            ]
            opened = time.monotonic()
            for n, count in enumerate(per_proc):
                cmd = [*me, "--role", "clients", *common, "--session", session, "--count", str(count)]
                children.append(Child([*cmd, "--listen-seconds", str(args.seconds + 15)], env, data / f"clients-{n}.log"))
            for child in children:
                child.wait_for("READY", timeout=120)
            print(
                f"{args.clients} websocket clients on project {project} open in {time.monotonic() - opened:.1f} s "
                f"(uvicorn pid {server.pid}, port {port}, channel prefix {tag})"
            )
            publisher = Child([*me, "--role", "publisher", *common, "--rate", str(args.rate)], env, data / "publisher.log")
            children.append(publisher)
            load = Path("/proc/loadavg").read_text().split()[0]
            publisher.wait_for("START", timeout=60)
            cpu_before, wait_before = cpu_seconds(server.pid), runqueue_wait_seconds(server.pid)
            published = json.loads(publisher.wait_for("RESULT ", timeout=args.seconds + 60))
            cpu_window = cpu_seconds(server.pid) - cpu_before
            wait_window = runqueue_wait_seconds(server.pid) - wait_before
            per_client: list[list[list[float]]] = []
            closed: list[str] = []
            clients_cpu = 0.0
            for child in children[:-1]:
                result = json.loads(child.wait_for("RESULT ", timeout=args.seconds + 60))
                per_client += result["events"]
                closed += result["closed"]
                clients_cpu += result["cpu"]
            # Until the last client had the last event (the server is idle in the clients' last second).
            cpu_total = cpu_seconds(server.pid) - cpu_before
            usage = {
                "load": load,
                "window": cpu_window / published["elapsed"],
                "waited": wait_window / published["elapsed"],
                "total": cpu_total,
                "clients": clients_cpu,
            }
        finally:
            for child in children:
                child.stop()
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=10)
            cleanup_redis(redis_url, [tag])  # channel layer and seq counter keys

    report(args, events, published, per_client, closed, usage)


def report(args, events: int, published: dict, per_client: list, closed: list[str], usage: dict) -> None:
    latencies_ms: list[float] = []
    last_arrival: dict[int, float] = {}
    missing = duplicates = seq_gaps = 0
    first_sent, last_received = float("inf"), 0.0
    for got in per_client:
        seen: set[int] = set()
        previous_seq = None
        for i, seq, t_sent, received in got:
            latency = received - t_sent
            first_sent, last_received = min(first_sent, t_sent), max(last_received, received)
            if i in seen:
                duplicates += 1
            seen.add(i)
            latencies_ms.append(latency * 1000)
            last_arrival[i] = max(last_arrival.get(i, 0.0), latency * 1000)
            if previous_seq is not None and seq != previous_seq + 1:
                seq_gaps += 1
            previous_seq = seq
        missing += events - len(seen)
    delivered = len(latencies_ms)
    span = max(last_received - first_sent, 1e-9)  # first publish to last receipt
    publish_ms = [d * 1000 for d in published["durations"]]
    fanout = list(last_arrival.values())
    print()
    print(f"{args.clients} clients, {events} events at {args.rate:g}/s over {published['elapsed']:.1f} s")
    print(f"{'':<34}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}")
    rows = [
        ("publish -> receipt, ms", latencies_ms),
        ("publish -> last client, ms", fanout),
        ("publish() call itself, ms", publish_ms),
    ]
    for name, values in rows:
        cells = "".join(f"{percentile(values, q):>9.1f}" for q in (50, 95, 99, 100))
        print(f"{name:<34}{cells}")
    print(f"{'deliveries':<34}{delivered} of {events * args.clients} ({delivered / span:.0f} events/s delivered)")
    print(f"{'missing / duplicate events':<34}{missing} / {duplicates}")
    print(f"{'non-consecutive seq in a client':<34}{seq_gaps}")
    print(f"{'sockets closed before the end':<34}{len(closed)} {'; '.join(closed[:5])}")
    print(
        f"{'server CPU while publishing':<34}{usage['window'] * 100:.0f}% of one core, "
        f"and {usage['waited'] * 100:.0f}% of the time waiting for a CPU another process had"
    )
    per_delivery = usage["total"] / max(delivered, 1) * 1e6
    print(f"{'server CPU per delivery':<34}{per_delivery:.0f} µs (until the last client had the last event)")
    print(f"{'client processes CPU, together':<34}{usage['clients']:.1f} s ({args.client_procs} processes)")
    print(f"{'machine load average at start':<34}{usage['load']} ({os.cpu_count()} cores, shared)")
    p95 = percentile(latencies_ms, 95)
    mean = statistics.fmean(latencies_ms) if latencies_ms else float("nan")
    print(f"target p95 < 100 ms: {'met' if p95 < 100 else 'NOT met'} (p95 {p95:.1f} ms, mean {mean:.1f} ms)")


if __name__ == "__main__":
    main()
