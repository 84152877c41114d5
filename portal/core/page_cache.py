"""A signed-in user's pages and list APIs, kept rendered until the data changes.

On a review day the same people reload the same pages (and the pages' live refresh asks them
again) far more often than anything changes: rendering a 50-row page or API list costs 15-40 ms of
CPU, a kept copy well under 1 ms. Only views marked for it are kept (`page_cached` on a view class or
function, `page_cache_actions` on a DRF viewset), only for GET, only for a signed-in browser session
(an API token's request is always rendered: its expiry is checked each time), and only a 200
response that sets no cookie and leaves the session untouched.

**When a copy is used.** A copy is keyed on everything the response may depend on: the URL (path and
query), host and scheme, the user, the session's contents (so a second factor verified in one session
is not assumed in another), the language, the headers that choose a representation (Accept, htmx's
HX-*), and the **data generation**. A request with a flash message waiting is always rendered.

**The data generation.** Every SQL statement that writes (INSERT, UPDATE, DELETE, ...) on any table
but the session and sign-in-attempt tables, on any connection of any process (web, Celery worker,
management command), moves one counter in the shared cache once its transaction commits
(`transaction.on_commit`; at once in autocommit). Nothing is missed by a code path that writes
without a model's save(): the hook sits under the ORM, in the database connection's execute wrappers.
A transaction that has written but not committed yet reads its own uncommitted data: its requests
also key on that transaction, its open savepoints and its count of writes, so it never takes, and
never leaves for others, a copy of data the others cannot see (the tests, which run in transactions
that never commit, rely on this). The counter is global: a write in one studio drops every studio's
copies. That is deliberate (nothing to get wrong about which page shows which table) and cheap
enough: the copies are rebuilt on the next request of each page.

**What a copy may not hold.** The form token (CSRF) differs per browser: it is kept as a placeholder
and a fresh token for the request's own CSRF cookie is put in when the copy is served (a rendered
page that used a token which cannot be found is not kept). Nothing in the pages depends on the clock
today (no "3 minutes ago"); `PAGE_CACHE_SECONDS` (60 s) still bounds any copy's age. If the cache
cannot be reached the page is rendered as if there were no copy.

`PAGE_CACHE = False` in the settings (or the `PAGE_CACHE` environment variable set to false) turns
it off; `bench/portal_load.py --compare-cache` measures both.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import threading

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.backends.signals import connection_created
from django.http import HttpResponse
from django.middleware.csrf import get_token

logger = logging.getLogger(__name__)

GENERATION_KEY = "page-cache:generation"
_WRITE = re.compile(r"\s*(?:INSERT|UPDATE|DELETE|TRUNCATE|ALTER|CREATE|DROP|MERGE|COPY)\b", re.IGNORECASE)
# tables whose writes change no page: sessions (written at sign-in and when a session changes) and
# django-axes' sign-in attempts
_IGNORED_TABLES = re.compile(r'^\s*\w+\s+(?:INTO\s+|FROM\s+)?"?(?:django_session|axes_)', re.IGNORECASE)
_CSRF_IN_PAGE = re.compile(rb'(?:name="csrfmiddlewaretoken" value="|data-csrf=")([A-Za-z0-9]{64})"')
_KEPT_HEADERS_SKIP = {"content-length", "set-cookie"}
_local = threading.local()


def enabled() -> bool:
    return bool(getattr(settings, "PAGE_CACHE", True))


def _placeholder() -> bytes:
    # the same in every process (derived from the secret key), never guessable by a user who could
    # type it into a note: a note holding it would only show its reader their own form token
    value = getattr(_placeholder, "value", None)
    if value is None:
        digest = hashlib.sha256(b"page-cache-csrf:" + settings.SECRET_KEY.encode()).hexdigest()
        value = _placeholder.value = digest.encode()  # 64 characters, like a masked token
    return value


# --- the data generation -------------------------------------------------------------------------


def generation() -> int:
    value = cache.get(GENERATION_KEY)
    if value is None:
        cache.add(GENERATION_KEY, secrets.randbits(48))  # a cache emptied never meets its old copies
        value = cache.get(GENERATION_KEY)
    return int(value)


def bump() -> None:
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:  # no counter yet (or the cache was emptied): a new random start is a change too
        cache.add(GENERATION_KEY, secrets.randbits(48))
    except Exception:  # noqa: BLE001 - the cache is down: copies cannot be served either
        logger.warning("page cache: could not move the data generation", exc_info=True)


class _PendingWrite:
    """Registered with `on_commit` at a transaction's first write: moves the generation at commit,
    and while it is pending names the transaction (its `token`) for the keys of that connection."""

    __slots__ = ("token",)

    def __init__(self) -> None:
        self.token = secrets.token_hex(8)

    def __call__(self) -> None:
        bump()


def _pending(connection) -> _PendingWrite | None:
    for _sids, func, _robust in connection.run_on_commit:
        if type(func) is _PendingWrite:
            return func
    return None


def _written(connection) -> None:
    if not connection.in_atomic_block:
        bump()
        return
    connection.page_cache_writes = getattr(connection, "page_cache_writes", 0) + 1
    if _pending(connection) is None:
        transaction.on_commit(_PendingWrite(), using=connection.alias)


def _uncommitted(connection) -> tuple:
    """What names the data a connection sees beyond the committed generation: nothing when it has not
    written in its open transaction; else the transaction, its open savepoints and its count of writes
    (a savepoint rolled back leaves the stack, and savepoint names are never reused in a transaction,
    so the same triple never names two different states)."""
    pending = _pending(connection) if connection.in_atomic_block else None
    if pending is None:
        return ()
    return (pending.token, tuple(connection.savepoint_ids), getattr(connection, "page_cache_writes", 0))


def _execute_wrapper(execute, sql, params, many, context):
    result = execute(sql, params, many, context)
    if type(sql) is str and _WRITE.match(sql) and not _IGNORED_TABLES.match(sql):
        _written(context["connection"])
    return result


def _install(sender, connection, **kwargs) -> None:
    if _execute_wrapper not in connection.execute_wrappers:
        connection.execute_wrappers.append(_execute_wrapper)


def install() -> None:
    """Hooks every database connection (called from the core app's ready())."""
    connection_created.connect(_install, dispatch_uid="portal.core.page_cache")
    from django.db import connections

    for conn in connections.all(initialized_only=True):
        _install(None, conn)


# --- marking views -----------------------------------------------------------------------------


def page_cached(view):
    """Marks a view class (Django's) or view function as kept by the page cache."""
    view.page_cache = True
    return view


def _marked(view_func) -> bool:
    if getattr(view_func, "page_cache", False):
        return True
    view_class = getattr(view_func, "view_class", None)
    if view_class is not None and getattr(view_class, "page_cache", False):
        return True
    cls, actions = getattr(view_func, "cls", None), getattr(view_func, "actions", None)
    if cls is not None and actions:
        return actions.get("get") in getattr(cls, "page_cache_actions", ())
    return False


# --- the middleware -----------------------------------------------------------------------------


class PageCacheMiddleware:
    """Serves a kept copy in process_view; keeps the view's response on the way out."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        key = getattr(request, "_page_cache_key", None)
        if key is not None:
            self._keep(request, key, response)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.method != "GET" or not enabled() or not _marked(view_func):
            return None
        try:
            key = self._key(request)
            if key is None:
                return None
            kept = cache.get(key)
        except Exception:  # noqa: BLE001 - the cache is down: render
            logger.warning("page cache: unavailable, rendering", exc_info=True)
            return None
        if kept is None:
            request._page_cache_key = key
            return None
        return self._serve(request, kept)

    @staticmethod
    def _key(request) -> str | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or "HTTP_AUTHORIZATION" in request.META:
            return None
        session = request.session
        if "_messages" in session or "messages" in request.COOKIES:
            return None  # a flash message waits: it must be shown (and used up) by a real render
        from django.db import connections

        meta = request.META
        parts = (
            generation(),
            _uncommitted(connections[DEFAULT_DB_ALIAS]),
            request.get_host(),
            request.scheme,
            request.path,
            meta.get("QUERY_STRING", ""),
            user.pk,
            sorted((k, repr(v)) for k, v in session.items()),
            getattr(request, "LANGUAGE_CODE", ""),
            meta.get("HTTP_ACCEPT", ""),
            sorted((k, v) for k, v in meta.items() if k.startswith("HTTP_HX_")),
        )
        return "page-cache:" + hashlib.sha256(repr(parts).encode()).hexdigest()

    @staticmethod
    def _keep(request, key: str, response) -> None:
        if (
            response.status_code != 200
            or response.streaming
            or response.cookies
            or request.session.modified
            or "no-store" in response.get("Cache-Control", "")
        ):
            return
        body = response.content
        if request.META.get("CSRF_COOKIE_NEEDS_UPDATE"):  # the render asked for a form token
            tokens = set(_CSRF_IN_PAGE.findall(body))
            if not tokens:
                return  # a token went somewhere we do not know: this page cannot be shared
            for token in tokens:
                body = body.replace(token, _placeholder())
        headers = [(k, v) for k, v in response.items() if k.lower() not in _KEPT_HEADERS_SKIP]
        try:
            cache.set(key, (response.status_code, headers, body), getattr(settings, "PAGE_CACHE_SECONDS", 60))
        except Exception:  # noqa: BLE001 - not kept; the response goes out all the same
            logger.warning("page cache: could not keep a copy", exc_info=True)

    @staticmethod
    def _serve(request, kept) -> HttpResponse:
        status, headers, body = kept
        placeholder = _placeholder()
        if placeholder in body:
            body = body.replace(placeholder, get_token(request).encode())
        response = HttpResponse(body, status=status)
        for name, value in headers:
            response[name] = value
        response["X-Page-Cache"] = "hit"
        return response
