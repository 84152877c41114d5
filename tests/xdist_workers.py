"""What each pytest-xdist worker needs of its own, set before Django reads its settings.

Loaded with `-p tests.xdist_workers` (pyproject's addopts), so it runs before pytest-django sets
Django up. pytest-django already gives every worker its own test database (test_<name>_gw0, ...);
Redis has no such thing, and the workers would share the cache (sign-in lockout counters), the
Celery broker and the channel layer. So in services mode each worker takes a Redis database of its
own, spread over Redis' 16 (REDIS_URL's own, then 16/workers above it: /0 -> gw0 /0, gw1 /8), and
everything it starts (portal server, Celery workers) inherits it through the environment.
Outside xdist, or on the embedded default (in-memory broker, cache and layer), it changes nothing.

GroupScheduling (tests/conftest.py hands it to xdist for `--dist loadgroup`) sends the policy matrix
(whose last test checks what the others counted) to one worker. The browser tests are not grouped:
xdist hands a large group out early, and a worker that ran them first has Playwright's event loop in
its main thread, where Django then refuses every database call (SynchronousOnlyOperation); one at a
time they come last, after the database tests, and each worker that gets some boots its own server.
xdist's own `xdist_group` marks cannot do it with pytest 9, whose node ids xdist 3.8 can
no longer rename; the rest is xdist's load scheduling, one test at a time."""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

from xdist.scheduler import LoadScopeScheduling

MATRIX_FILE = "tests/access/test_policy_matrix.py"
MATRIX_TESTS = ("test_policy_matrix[", "test_matrix_checked_at_least_the_floor")

REDIS_DATABASES = 16
# Modules whose module-scoped fixtures do minutes of work on real footage (continuity pairs, recap
# episodes): all their tests go to one worker, so the fixture is built once, not once per worker.
WHOLE_MODULES = (
    "tests/studio_tools/test_continuity_real_media.py",
    "tests/studio_tools/test_continuity_quality.py",
    "tests/studio_tools/test_recap_edit.py",
    "tests/studio_tools/test_recap_media_truth.py",
)


def worker_redis_url(url: str, worker: str, count: int) -> str:
    """redis://host:port/N for worker gwK of count: database N + K * (16 // count), modulo 16."""
    index = int(worker.removeprefix("gw"))
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    database = (base + index * max(1, REDIS_DATABASES // max(count, 1))) % REDIS_DATABASES
    return urlunsplit(parts._replace(path=f"/{database}"))


def _configure() -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker or not os.environ.get("REDIS_URL"):
        return
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    os.environ["REDIS_URL"] = worker_redis_url(os.environ["REDIS_URL"], worker, count)


_configure()


class GroupScheduling(LoadScopeScheduling):
    def _split_scope(self, nodeid: str) -> str:
        path, _sep, name = nodeid.partition("::")
        if path == MATRIX_FILE and name.startswith(MATRIX_TESTS):
            return "policy-matrix"
        if path in WHOLE_MODULES:
            return path
        return nodeid
