from __future__ import annotations

import pytest

from tests.footage.conftest import clips, world_tx  # noqa: F401 - re-exported fixtures
from tests.toolruns.conftest import clip_version, lavfi_clip  # noqa: F401 - re-exported fixtures
from tests.webhooks.receiver import Receiver


@pytest.fixture
def receiver():
    """receiver(statuses=[500, 200]) -> a started Receiver; stopped after the test."""
    started: list[Receiver] = []

    def make(statuses: list[int] | None = None) -> Receiver:
        r = Receiver(statuses).start()
        started.append(r)
        return r

    yield make
    for r in started:
        r.stop()


@pytest.fixture(autouse=True)
def _webhook_settings(settings):
    # Tests run a receiver on loopback; the production rules are switched on per test.
    settings.WEBHOOKS_ALLOW_LOCAL_ADDRESSES = True
    settings.WEBHOOKS_REQUIRE_HTTPS = False
    settings.WEBHOOKS_RETRY_BASE_SECONDS = 30
    settings.SITE_URL = "https://portal.example.test"


@pytest.fixture
def production_rules(settings):
    """What PORTAL_ENV=production enforces: https only, public addresses only."""
    settings.PRODUCTION = True
    settings.WEBHOOKS_REQUIRE_HTTPS = True
    settings.WEBHOOKS_ALLOW_LOCAL_ADDRESSES = True  # ignored in production: the guard says no anyway


@pytest.fixture
def eager_celery(settings):
    """Tasks run at once in this thread (on_commit callbacks still decide when)."""
    from portal.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.CELERY_TASK_EAGER_PROPAGATES = True
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager = False
    app.conf.task_eager_propagates = False
