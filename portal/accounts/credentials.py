"""One credential check for every way in: a session over HTTP, an API token, a websocket.

- `second_factor_missing(user, verified=...)`: "verify" when the person has an authenticator and has
  not passed it in this session, "setup" when one of their studios requires two-factor sign-in and
  they have none yet, None when nothing is missing. The HTTP middleware, the API token
  authentication and the websocket consumer all ask it.
- `session_user(session_key)`: the user a stored session stands for *now*: read fresh from the
  session store and the user table on every call (never a user cached at connect), None when the
  session is gone (signed out, expired), its password hash no longer matches, the account is
  disabled, or the second factor is missing. Websockets call it at connect and on every re-check.
"""

from __future__ import annotations

from importlib import import_module
from types import SimpleNamespace

from django.conf import settings
from django.contrib.auth import get_user
from django_otp import DEVICE_ID_SESSION_KEY

from portal.accounts.selectors import second_factor_state

VERIFY = "verify"
SETUP = "setup"


def second_factor_missing(user, *, verified: bool) -> str | None:
    if not user.is_authenticated or verified:
        return None
    has_totp, required = second_factor_state(user)
    if has_totp:
        return VERIFY
    if required:
        return SETUP
    return None


def user_group(user_id: int) -> str:
    """The channel-layer group of every open socket of one person (re-checked on sign-out)."""
    return f"user.{user_id}"


def session_user(session_key: str | None):
    if not session_key:
        return None
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    if not store.exists(session_key):
        return None
    # django.contrib.auth.get_user checks the backend and the session's password hash, as for HTTP
    user = get_user(SimpleNamespace(session=store))
    if not user.is_authenticated or not user.is_active:
        return None
    if second_factor_missing(user, verified=bool(store.get(DEVICE_ID_SESSION_KEY))):
        return None
    return user
