"""No run is ever lost: the recovery pass, the task's Celery options, the queue and the start-up check."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.core import checks
from django.utils import timezone

from portal.celery import app
from portal.jobs import engine as jobs_engine
from portal.jobs.tasks import recover as recover_jobs
from portal.jobs.tasks import run as run_job
from portal.toolruns import services
from portal.toolruns.checks import visibility_timeout_problem
from portal.toolruns.models import ToolRun
from tests.footage.helpers import make_ready_version
from tests.toolruns.helpers import recover_runs


@pytest.fixture
def make_run(world):
    clip = make_ready_version(world.a.project, uploader=world.a.users["artist"])

    def make(**fields) -> ToolRun:
        run = services.toolrun_create(
            actor=world.a.users["artist"], project=world.a.project, tool="contactsheet", params={}, input_version_ids=[clip.pk]
        )
        ToolRun.objects.filter(pk=run.pk).update(**fields)
        run.refresh_from_db()
        return run

    return make


def ago(seconds: float):
    return timezone.now() - timedelta(seconds=seconds)


def test_recovery_redispatches_runs_whose_worker_died(make_run, dispatched, django_capture_on_commit_callbacks):
    dead = make_run(status=ToolRun.Status.RUNNING, attempts=1, lease_until=ago(5))
    alive = make_run(status=ToolRun.Status.RUNNING, attempts=1, lease_until=timezone.now() + timedelta(seconds=60))
    dispatched.clear()
    with django_capture_on_commit_callbacks(execute=True):
        counts = recover_runs()
    assert counts == {"redispatched": 1, "ended": 0, "swept": 0}
    assert dispatched == [(dead.pk, "tools")]
    dead.refresh_from_db()
    assert dead.status == ToolRun.Status.RUNNING and dead.dispatched_at > ago(5)
    alive.refresh_from_db()
    assert alive.status == ToolRun.Status.RUNNING


def test_recovery_redispatches_queued_runs_whose_message_is_old(
    make_run, dispatched, settings, django_capture_on_commit_callbacks
):
    lost = make_run(dispatched_at=ago(settings.TOOLRUN_REDISPATCH_SECONDS + 5))
    fresh = make_run()
    dispatched.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert recover_runs() == {"redispatched": 1, "ended": 0, "swept": 0}
    assert dispatched == [(lost.pk, "tools")]
    # sent again just now: the next pass leaves it alone
    dispatched.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert recover_runs() == {"redispatched": 0, "ended": 0, "swept": 0}
    assert fresh.pk not in [run_id for run_id, _queue in dispatched]


def test_recovery_fails_runs_out_of_attempts_and_cancels_runs_asked_to_stop(make_run, dispatched, events):
    exhausted = make_run(status=ToolRun.Status.RUNNING, attempts=3, lease_until=ago(5))
    stopping = make_run(status=ToolRun.Status.RUNNING, attempts=1, lease_until=ago(5), cancel_requested=True)
    dispatched.clear()
    assert recover_runs() == {"redispatched": 0, "ended": 2, "swept": 0}
    assert dispatched == []
    exhausted.refresh_from_db()
    stopping.refresh_from_db()
    assert exhausted.status == ToolRun.Status.FAILED and "3 times" in exhausted.error
    assert stopping.status == ToolRun.Status.CANCELLED


def test_recovery_fails_runs_no_worker_picked_up_for_a_day(make_run, settings):
    stale = make_run(created_at=ago(settings.TOOLRUN_QUEUED_TIMEOUT_SECONDS + 60))
    recover_runs()
    stale.refresh_from_db()
    assert stale.status == ToolRun.Status.FAILED and "No worker picked this run up" in stale.error


def test_recovery_is_periodic_and_runs_when_a_worker_starts():
    schedule = {entry["task"]: entry["schedule"] for entry in django_settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule["jobs.recover"] <= 60
    assert recover_jobs.name == "jobs.recover"


def test_the_execute_task_is_late_acked_time_limited_and_on_the_tools_queue(monkeypatch):
    assert run_job.name == "jobs.run"
    assert run_job.acks_late is True and run_job.reject_on_worker_lost is True
    assert 0 < run_job.soft_time_limit < run_job.time_limit
    sent = []
    monkeypatch.setattr(app.tasks["jobs.run"], "apply_async", lambda args, **options: sent.append((args, options)))
    jobs_engine.enqueue(services.JOB_KIND, 1)
    ((args, options),) = sent
    assert args == ("toolrun", 1) and options["queue"] == "tools"
    assert 0 < options["soft_time_limit"] < options["time_limit"] <= run_job.time_limit


def test_the_task_calls_the_service_with_the_id(world_tx, monkeypatch):
    called = []
    monkeypatch.setattr(services, "toolrun_execute", lambda run_id: called.append(run_id))
    run_job.run("toolrun", 42)
    assert called == [42]


def test_redis_visibility_timeout_must_exceed_every_hard_time_limit(settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/0"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": run_job.time_limit}
    problem = visibility_timeout_problem()
    assert problem and "visibility_timeout" in problem
    errors = checks.run_checks()
    assert any(e.id == "toolruns.E001" for e in errors)
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 10**6}
    assert visibility_timeout_problem() is None
    # the in-memory broker of the embedded default has no visibility timeout to worry about
    settings.CELERY_BROKER_URL = "memory://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    assert visibility_timeout_problem() is None


def test_services_mode_settings_set_a_safe_visibility_timeout():
    """Read in a fresh process, as a worker would."""
    import json
    import os
    import subprocess
    import sys

    code = (
        "import django, json; django.setup(); from django.conf import settings; "
        "from portal.toolruns.checks import visibility_timeout_problem; "
        "print(json.dumps([settings.CELERY_BROKER_TRANSPORT_OPTIONS, visibility_timeout_problem()]))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings", "REDIS_URL": "redis://cache.internal:6379/0"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    options, problem = json.loads(out.stdout.strip().splitlines()[-1])
    assert options["visibility_timeout"] > run_job.time_limit
    assert problem is None


def test_recovery_sweeps_temp_folders_a_dead_worker_left_behind(make_run, scratch):
    finished = make_run(status=ToolRun.Status.SUCCEEDED)
    running = make_run(status=ToolRun.Status.RUNNING, lease_until=timezone.now() + timedelta(seconds=60))
    for run in (finished, running):
        (scratch / f"toolrun-{run.pk}-abc123" / "in").mkdir(parents=True)
    (scratch / "toolrun-999999-zzz").mkdir()  # its run is gone altogether
    (scratch / "ingest-5-xyz").mkdir()  # not ours
    assert recover_runs()["swept"] == 2
    assert sorted(p.name for p in scratch.iterdir()) == ["ingest-5-xyz", f"toolrun-{running.pk}-abc123"]


def test_runs_queued_when_the_broker_restarted_are_sent_again_at_the_next_pass(
    make_run, dispatched, settings, django_capture_on_commit_callbacks, private_redis
):
    """Finding 12: a Redis restart took the queued messages; recovery waited TOOLRUN_REDISPATCH_SECONDS
    (10 min) before sending them again. It now notices the broker came back empty at its next pass
    (every 15 s), so a queued run is sent again within 30 s."""
    assert settings.CELERY_BEAT_SCHEDULE["recover-jobs"]["schedule"] <= 15
    settings.CELERY_BROKER_URL = private_redis.url
    private_redis.client().set(jobs_engine.BROKER_MARK, "before")
    queued = make_run()  # its message was sent just now
    dispatched.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert recover_runs()["redispatched"] == 0  # the broker still has it
    private_redis.kill()
    private_redis.start()  # back, empty (no persistence): the message is gone
    with django_capture_on_commit_callbacks(execute=True):
        counts = recover_runs()
    assert counts["redispatched"] == 1 and counts["broker_restarted"] == 1
    assert dispatched == [(queued.pk, "tools")]
    dispatched.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert recover_runs()["redispatched"] == 0  # once, not at every pass
