"""Shared fixtures. State is made through the product's own services (zulip style), so tests
exercise the same paths as the portal, audit rows included.

The two-studio `world` is built once for a run of consecutive non-transactional tests, not once
per test: it is written inside a transaction that stays open under those tests, and each test runs
in a savepoint within it (pytest-django's per-test atomics nest), as Django's `setUpTestData` does
for a TestCase class. Every such test still starts from the same rows and gets its own copy of the
Python objects. The world tests are put first (pytest_collection_modifyitems), so a session builds
it about once; a test that does not ask for the world never runs inside that transaction, and
transactional tests (threads, workers, on_commit) still build a committed world of their own."""

from __future__ import annotations

import copy
import tempfile

import pytest
from django.conf import settings as django_settings

from tests.browser_support import browser, new_page, portal_server  # noqa: F401 - session fixtures for browser tests
from tests.factories import DEMO_PASSWORD, World, build_world

FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fast_and_isolated(settings, tmp_path, tmp_path_factory):
    settings.PASSWORD_HASHERS = FAST_HASHERS
    settings.MEDIA_ROOT = tmp_path / "media"
    # Scratch of its own: xdist workers share the data folder, and the recovery pass sweeps scratch whose
    # version holds no lease in *its* database (version 1 of one worker is not version 1 of the other).
    # (Beside the test's tmp_path, not in it: some tests check their tmp_path holds only what they made.)
    settings.FOOTAGE_TEMP_DIR = str(tmp_path_factory.mktemp("footage-scratch"))
    settings.STORAGES = {**django_settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}
    # WhiteNoise otherwise walks every static file each time a test client builds its handler (~33 ms a
    # client); with autorefresh it looks a file up when one is asked for.
    settings.WHITENOISE_AUTOREFRESH = True


@pytest.fixture(autouse=True)
def _language_reset():
    """A request in French leaves French active in the thread (the locale middleware does not reset
    it): each test starts and ends in the default language, so a later test's messages are English."""
    from django.utils import translation

    translation.activate(django_settings.LANGUAGE_CODE)
    yield
    translation.activate(django_settings.LANGUAGE_CODE)


# --- the world, shared by consecutive tests ---------------------------------------------------


def _is_transactional(item) -> bool:
    """pytest-django's own reading of the test (a TransactionTestCase or a TestCase)."""
    from pytest_django.plugin import validate_django_db

    marker = item.get_closest_marker("django_db")
    if marker is not None:
        transaction, reset_sequences, *_rest = validate_django_db(marker)
        if transaction or reset_sequences:
            return True
    names = getattr(item, "fixturenames", ())
    return "transactional_db" in names or "live_server" in names or "django_db_reset_sequences" in names


def shares_the_world(item) -> bool:
    """A test that asks for the world and runs in a rolled-back transaction (not a transactional one)."""
    return "world" in getattr(item, "fixturenames", ()) and not _is_transactional(item)


class SharedWorld:
    """The world, written in an outer transaction that the tests' savepoints nest in."""

    def __init__(self, blocker):
        self.blocker = blocker
        self.atomic = None
        self.world: World | None = None

    @property
    def is_open(self) -> bool:
        return self.atomic is not None

    def open(self) -> None:
        from django.db import transaction
        from django.test import override_settings

        with self.blocker.unblock():
            self.atomic = transaction.atomic()
            self.atomic.__enter__()
            try:
                # The same settings a test builds it with (fast hashes; no stored file lands anywhere a
                # test looks, the world stores none).
                with tempfile.TemporaryDirectory() as media, override_settings(PASSWORD_HASHERS=FAST_HASHERS, MEDIA_ROOT=media):
                    self.world = build_world()
            except BaseException:
                self.close()
                raise

    def intact(self) -> bool:
        from django.db import connection

        return connection.connection is not None and connection.in_atomic_block and not connection.needs_rollback

    def close(self) -> None:
        from django.db import transaction

        if self.atomic is None:
            return
        with self.blocker.unblock():
            transaction.set_rollback(True)
            atomic, self.atomic, self.world = self.atomic, None, None
            atomic.__exit__(None, None, None)


_SHARED: SharedWorld | None = None
_ITEM = None  # the test being set up


@pytest.fixture(scope="session")
def _shared_world(django_db_setup, django_db_blocker):
    """Session-scoped, so pytest sets it up before the first world test's own database atomics."""
    global _SHARED
    _SHARED = SharedWorld(django_db_blocker)
    if _ITEM is not None and shares_the_world(_ITEM):
        _SHARED.open()
    yield _SHARED
    _SHARED.close()
    _SHARED = None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Before a test's fixtures: leave the world's transaction for a test that does not share it,
    and enter it again (a fresh world) for one that does."""
    global _ITEM
    _ITEM = item
    if _SHARED is None:
        return  # the first world test opens it when _shared_world is set up
    if shares_the_world(item):
        if _SHARED.is_open and not _SHARED.intact():
            _SHARED.close()  # a test closed the connection under it: start again
        if not _SHARED.is_open:
            _SHARED.open()
    elif _SHARED.is_open:
        _SHARED.close()


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """`--dist loadgroup`: tests that share what one process holds go to one worker (see GroupScheduling)."""
    if config.getvalue("dist") == "loadgroup":
        from tests.xdist_workers import GroupScheduling

        return GroupScheduling(config, log)
    return None


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """The world tests first, in their order (pytest-django has put the database tests first already):
    one world for all of them instead of one each. The browser tests stay where pytest-django put them,
    among the last: the session's Playwright browser leaves an event loop in the main thread, and
    Django refuses database calls from a thread with one (SynchronousOnlyOperation)."""
    items[:] = [i for i in items if shares_the_world(i)] + [i for i in items if not shares_the_world(i)]


@pytest.fixture
def world(request, _shared_world, db) -> World:
    """Two studios (a, b), each with a project and one user per role; plus platform staff."""
    if shares_the_world(request.node):
        assert _shared_world.is_open, "the shared world's transaction is not open"
        # A copy per test, as setUpTestData gives: objects a test changes in memory are its own.
        return copy.deepcopy(_shared_world.world)
    return build_world()


@pytest.fixture
def no_page_cache(settings):
    """For tests that measure what rendering a page costs (its queries): every request renders, none
    is answered from the page cache (portal/core/page_cache.py, tested in tests/core/test_page_cache.py)."""
    settings.PAGE_CACHE = False


@pytest.fixture
def password() -> str:
    return DEMO_PASSWORD


@pytest.fixture
def client_for(client):
    """client_for(user) -> a Django test client signed in as user (None: anonymous)."""
    from django.test import Client

    def make(user):
        c = Client()
        if user is not None:
            c.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        return c

    return make


@pytest.fixture
def api_for():
    """api_for(user) -> a DRF APIClient authenticated as user (None: anonymous)."""
    from rest_framework.test import APIClient

    def make(user):
        c = APIClient()
        if user is not None:
            c.force_authenticate(user=user)
        return c

    return make
