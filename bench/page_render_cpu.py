"""Benchmark: server CPU per page request, in this process (Django's test client, DEBUG off).

A load run measures the whole machine, which 7 sessions share; this measures one thing: the Python
CPU time (time.process_time) a signed-in request costs, page by page, over many requests, against a
trivial baseline (/healthz, signed in: the middleware, the session and one query) measured in the
same run, so a slower or busier machine moves both. The page's own cost is "page - baseline".

Seeds the volume of bench/portal_load.py (a studio "loadbench" with 50 assets, 200 notes, about
2,400 audit rows; idempotent) and 60 finished tool runs in the same project.

    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal REDIS_URL=redis://127.0.0.1:6379/0
    .venv/bin/python bench/page_render_cpu.py                    # every page, 150 requests each
    .venv/bin/python bench/page_render_cpu.py --requests 300 --only "project page,audit page"
    .venv/bin/python bench/page_render_cpu.py --profile "audit page"   # pyinstrument, one page

Without DATABASE_URL it runs on the embedded SQLite database (the numbers are then about SQLite).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
os.environ.setdefault("DEBUG", "false")

RUNS = 60


def seed_runs(world) -> None:
    """Finished runs, as the worker leaves them (the tools themselves are benched elsewhere)."""
    from datetime import timedelta

    from django.utils import timezone

    from portal.toolruns.models import ToolRun

    project, producers = world["project"], world["producers"]
    have = ToolRun.objects.filter(project=project).count()
    now = timezone.now()
    for n in range(have, RUNS):
        ToolRun.objects.create(
            project=project,
            tool=("crowd", "continuity", "recap", "characters")[n % 4],
            tool_version="1.0",
            status=ToolRun.Status.SUCCEEDED if n % 7 else ToolRun.Status.FAILED,
            progress=1.0,
            created_by=producers[n % len(producers)],
            created_at=now - timedelta(minutes=RUNS - n),
            started_at=now - timedelta(minutes=RUNS - n),
            finished_at=now - timedelta(minutes=RUNS - n - 0.5),
            error="" if n % 7 else "The input has no video stream.",
        )


def pages(world) -> dict[str, tuple[str, str]]:
    """name -> (who, path); who is "producer" or "admin"."""
    from bench.portal_load import endpoints

    out = {"baseline (/healthz)": ("producer", "/healthz")}
    for who, items in endpoints(world).items():
        for name, path in items:
            out[name if name not in out else f"{name} ({who})"] = (who, path)
    s, p = world["studio"], world["project"]
    out["dashboard (producer)"] = ("producer", f"/s/{s.slug}/")
    out["run list fragment"] = ("producer", f"/s/{s.slug}/p/{p.code}/tools/runs/")
    out["notifications (a page with little on it)"] = ("admin", "/notifications/")
    return out


def measure(client, path: str, requests: int) -> tuple[float, float, int, int]:
    """(median, mean) CPU ms per request, status, bytes."""
    response = client.get(path)  # warm-up: templates compiled, caches filled
    samples = []
    for _ in range(requests):
        start = time.process_time()
        response = client.get(path)
        samples.append((time.process_time() - start) * 1000)
    return statistics.median(samples), statistics.fmean(samples), response.status_code, len(response.content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=150, help="requests per page (default 150)")
    parser.add_argument("--only", default="", help="comma-separated page names")
    parser.add_argument("--profile", default="", help="pyinstrument over one page instead")
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import transaction
    from django.test import Client

    from bench.portal_load import seed, session_cookie

    with transaction.atomic():
        world = seed()
        seed_runs(world)
    clients = {}
    for who, users in (("producer", world["producers"]), ("admin", world["admins"])):
        client = Client()
        name, value = session_cookie(users[0]).split("=", 1)
        client.cookies[name] = value
        clients[who] = client
    table = pages(world)
    from django.conf import settings

    print(
        f"seeded: {world['assets']} assets, {world['notes']} notes, {world['audit_rows']} audit rows, {RUNS} runs; "
        f"database {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}, DEBUG {settings.DEBUG}"
    )
    if args.profile:
        from pyinstrument import Profiler

        who, path = table[args.profile]
        clients[who].get(path)
        profiler = Profiler(interval=0.0002)
        profiler.start()
        for _ in range(args.requests):
            clients[who].get(path)
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False, show_all=False))
        return
    wanted = [n.strip() for n in args.only.split(",") if n.strip()]
    names = ["baseline (/healthz)"] + [n for n in table if n != "baseline (/healthz)" and (not wanted or n in wanted)]
    base = None
    print(f"{'page':42} {'median ms':>9} {'mean ms':>8} {'- base':>7} {'status':>6} {'KB':>6}")
    for name in names:
        who, path = table[name]
        median, mean, status, size = measure(clients[who], path, args.requests)
        base = median if base is None else base
        print(f"{name:42} {median:9.2f} {mean:8.2f} {median - base:7.2f} {status:6d} {size / 1024:6.1f}")


if __name__ == "__main__":
    main()
