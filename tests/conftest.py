"""Shared fixtures. State is made through the product's own services (zulip style), so tests
exercise the same paths as the portal, audit rows included."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings

from tests.browser_support import browser, new_page, portal_server  # noqa: F401 - session fixtures for browser tests
from tests.factories import DEMO_PASSWORD, World, build_world


@pytest.fixture(autouse=True)
def _fast_and_isolated(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = tmp_path / "media"
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


@pytest.fixture
def world(db) -> World:
    """Two studios (a, b), each with a project and one user per role; plus platform staff."""
    return build_world()


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
