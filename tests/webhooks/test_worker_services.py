"""A real `celery -A portal worker` process on Redis and PostgreSQL delivers a webhook to a real
receiver: the first POST gets a 500, the worker schedules the retry through the broker (a countdown
of about a second here), the second POST succeeds. Services mode only."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection

from portal.review.services import note_create
from portal.webhooks import services, signing
from portal.webhooks.models import DeliveryAttempt, WebhookDelivery
from tests.footage.helpers import make_ready_version

pytestmark = [
    pytest.mark.services,
    pytest.mark.slow,
    pytest.mark.skipif(
        not (os.environ.get("REDIS_URL") and os.environ.get("DATABASE_URL")),
        reason="services mode only: a real worker process needs Redis and PostgreSQL",
    ),
    pytest.mark.django_db(transaction=True),
]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def worker(world_tx, settings, tmp_path):
    queue = f"webhooks-test-{uuid.uuid4().hex[:8]}"
    settings.WEBHOOKS_QUEUE = queue
    database_url = re.sub(r"/[^/?]*(\?|$)", f"/{connection.settings_dict['NAME']}\\1", os.environ["DATABASE_URL"], count=1)
    env = {k: v for k, v in os.environ.items() if k not in ("PORTAL_SERVER", "PYTEST_CURRENT_TEST")}
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings",
        DATABASE_URL=database_url,
        REDIS_URL=os.environ["REDIS_URL"],
        WEBHOOKS_QUEUE=queue,
        WEBHOOKS_RETRY_BASE_SECONDS="1",
        WEBHOOKS_ALLOW_LOCAL_ADDRESSES="true",
        PORTAL_DATA_DIR=str(tmp_path / "worker-data"),
        PYTHONUNBUFFERED="1",
    )
    log = tmp_path / "worker.log"
    cmd = [sys.executable, "-m", "celery", "-A", "portal", "worker", "-Q", queue, "-c", "1", "-n", f"{queue}@test", "-l", "info"]
    cmd += ["--without-mingle", "--without-gossip", "--without-heartbeat"]
    with open(log, "w") as handle:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while "ready." not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"the worker did not start:\n{log.read_text(errors='replace')}")
        time.sleep(0.1)
    yield log
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    import redis

    redis.Redis.from_url(os.environ["REDIS_URL"]).delete(queue)


def test_a_real_worker_delivers_retries_after_a_500_and_succeeds(world_tx, worker, receiver):
    world = world_tx
    r = receiver([500, 200])
    endpoint, secret = services.endpoint_create(
        actor=world.a.users["studio_admin"], project=world.a.project, url=r.url, events=["note.added"]
    )
    version = make_ready_version(world.a.project, uploader=world.a.users["artist"])
    note = note_create(actor=world.a.users["artist"], version=version, frame_start=5, text="Check the edge")  # commits

    first, second = r.wait_for(2, timeout=90)
    for request in (first, second):
        signing.verify(secret, request.headers[signing.SIGNATURE_HEADER], request.body)
    assert first.body == second.body and f'"id":{note.pk}' in first.body.decode()

    deadline = time.monotonic() + 30
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    while delivery.state != WebhookDelivery.State.SUCCEEDED and time.monotonic() < deadline:
        time.sleep(0.2)
        delivery.refresh_from_db()
    assert delivery.state == WebhookDelivery.State.SUCCEEDED, worker.read_text(errors="replace")[-3000:]
    assert list(DeliveryAttempt.objects.filter(delivery=delivery).values_list("number", "status_code")) == [(1, 500), (2, 200)]
    assert "webhooks.deliver" in worker.read_text(errors="replace")
