"""The one job engine, through the ingest kind (tool runs have their own tests in tests/toolruns):
enqueue on commit, claim by compare-and-set, the attempt limit and the recovery pass."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from portal import jobs
from portal.celery import app
from portal.footage.models import AssetVersion
from portal.jobs import engine  # noqa: F401 - jobs.engine below
from tests.footage.helpers import make_ready_version


@pytest.fixture
def sent(monkeypatch) -> list[tuple[tuple, dict]]:
    """Every "run job" message, instead of a broker."""
    messages: list[tuple[tuple, dict]] = []
    monkeypatch.setattr(app.tasks["jobs.run"], "apply_async", lambda args, **options: messages.append((args, options)))
    return messages


@pytest.fixture
def processing(world, settings):
    """A version whose upload completed: waiting for an ingest worker."""

    def make(**fields) -> AssetVersion:
        version = make_ready_version(world.a.project, uploader=world.a.users["artist"])
        AssetVersion.objects.filter(pk=version.pk).update(
            **{"status": AssetVersion.Status.PROCESSING, "ingest_dispatched_at": timezone.now(), **fields}
        )
        version.refresh_from_db()
        return version

    return make


def test_every_portal_job_kind_is_registered():
    assert set(jobs.kinds()) >= {"ingest", "rederive", "toolrun"}
    with pytest.raises(LookupError):
        jobs.enqueue_on_commit("no-such-kind", 1)


def test_a_job_is_sent_only_once_its_transaction_commits(world, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            jobs.enqueue_on_commit("rederive", 7)
            assert sent == []
    ((args, options),) = sent
    assert args == ("rederive", 7) and options["queue"] == "default"
    assert 0 < options["soft_time_limit"] < options["time_limit"]


def test_the_claim_is_a_compare_and_set_on_a_token(processing, settings):
    version = processing()
    first = jobs.claim("ingest", version.pk)
    assert first is not None and first.token
    assert jobs.claim("ingest", version.pk) is None  # a live lease keeps a second worker off
    version.refresh_from_db()
    assert version.ingest_attempts == 1 and version.ingest_claim_token == first.token
    # Its lease lapses (the worker died): another worker takes over, and the first can no longer write.
    AssetVersion.objects.filter(pk=version.pk).update(ingest_lease_until=timezone.now() - timedelta(seconds=1))
    second = jobs.claim("ingest", version.pk)
    assert second is not None and second.token != first.token
    assert not first.renew() and not first.held()
    assert second.renew() and second.held()
    assert second.release()
    version.refresh_from_db()
    assert version.ingest_claim_token == "" and version.ingest_lease_until is None and version.ingest_attempts == 2


def test_recovery_sends_lost_and_dead_ingests_again_and_rejects_those_out_of_attempts(
    processing, sent, settings, django_capture_on_commit_callbacks
):
    settings.FOOTAGE_INGEST_LEASE_SECONDS = 600
    if settings.CELERY_BROKER_URL.startswith("redis://"):
        # the steady state: a broker that has not restarted since recovery last looked
        import redis

        redis.Redis.from_url(settings.CELERY_BROKER_URL).set(jobs.engine.BROKER_MARK, "test")
    long_ago = timezone.now() - timedelta(seconds=settings.FOOTAGE_INGEST_LEASE_SECONDS + 60)
    fresh = processing()  # its message was sent just now
    lost = processing(ingest_dispatched_at=long_ago)  # its message never arrived
    dead = processing(ingest_attempts=1, ingest_lease_until=timezone.now() - timedelta(seconds=5), ingest_claim_token="x")
    alive = processing(ingest_attempts=1, ingest_lease_until=timezone.now() + timedelta(seconds=60), ingest_claim_token="y")
    spent = processing(ingest_attempts=settings.FOOTAGE_INGEST_MAX_ATTEMPTS, ingest_lease_until=long_ago)
    with django_capture_on_commit_callbacks(execute=True):
        counts = jobs.recover(only=["ingest"])["ingest"]
    assert counts["redispatched"] == 2 and counts["ended"] == 1
    assert sorted(args[1] for args, _options in sent) == sorted([lost.pk, dead.pk])
    spent.refresh_from_db()
    assert spent.status == AssetVersion.Status.REJECTED and "failed repeatedly" in spent.reject_reason
    for version in (fresh, alive):
        version.refresh_from_db()
        assert version.status == AssetVersion.Status.PROCESSING
    # The lost message was sent again just now: the next pass leaves it alone. The dead worker's version
    # is sent at every pass until a worker claims it (as tool runs always were; doubles are no-ops).
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        jobs.recover(only=["ingest"])
    assert [args[1] for args, _options in sent] == [dead.pk]
    assert jobs.claim("ingest", dead.pk) is not None
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.recover(only=["ingest"])["ingest"]["redispatched"] == 0
    assert sent == []


def test_one_event_shape_for_every_kind():
    event = jobs.progress_event("ingest", 3, status="processing", progress=0.123456, stage="proxy", attempts=1, asset=9)
    assert event == {
        "kind": "ingest",
        "id": 3,
        "status": "processing",
        "progress": 0.1235,
        "stage": "proxy",
        "message": "",
        "attempts": 1,
        "asset": 9,
    }
