"""A signed-in user's pages and list APIs, kept rendered until a table they were made from changes.

On a review day the same people reload the same pages (and the pages' live refresh asks them
again) far more often than anything changes: rendering a 50-row page or API list costs 15-40 ms of
CPU, a kept copy well under 1 ms. Only views marked for it are kept (`page_cache = True` on a view class
or function, `page_cache_actions` on a DRF viewset), only for GET, only for a signed-in browser session
(an API token's request is always rendered: its expiry is checked each time), and only a 200
response that sets no cookie and leaves the session untouched.

**Which copy.** A copy is keyed on everything the response may depend on besides the data: the URL
(path and query), host and scheme, the user, the session's contents (so a second factor verified in
one session is not assumed in another), the language and the headers that choose a representation
(Accept, htmx's HX-*). A request with a flash message waiting is always rendered.

**Whether it is current: one generation per table.** Every SQL statement that writes, on any
connection of any process (web, Celery worker, management command), moves the generation of the
table it writes once its transaction commits (`transaction.on_commit`; at once in autocommit); a
write whose table cannot be read off the statement (TRUNCATE, ALTER, ...) moves the generation every
copy checks. The hook sits under the ORM, in the database connection's execute wrappers, so no code
path that writes without a model's save() is missed. While a request of a kept view runs, the same
hook notes every table its SQL reads (the middleware sits before the sign-in, so the sign-in's, the
second factor's and the access checks' queries count too); the copy keeps those tables and their
generations, read at the start of the request, before any SQL (for the tables the view is expected
to read: those its earlier renders in the process read; a render that reads a table nobody expected
is not kept, and the next one knows it). A copy is served only while every table it read is at the same generation: a note
drops the notes API's and the review page's copies, not the asset list's.

A transaction that has written but not committed yet reads its own uncommitted data: its requests
also key on that transaction, its open savepoints and its count of writes, so it never takes, and
never leaves for others, a copy of data the others cannot see (the tests, which run in transactions
that never commit, rely on this).

**What a copy may not hold.** The form token (CSRF) differs per browser: it is kept as a placeholder
and a fresh token for the request's own CSRF cookie is put in when the copy is served (a rendered
page that used a token which cannot be found is not kept). Nothing in the pages depends on the clock
today (no "3 minutes ago"); `PAGE_CACHE_SECONDS` (60 s) still bounds any copy's age (each copy is
kept a random 30-60 s of it, so copies made together do not all expire together). If the cache
cannot be reached the page is rendered as if there were no copy. Sessions and sign-in attempts are
not data a page shows: their writes move nothing.

`PAGE_CACHE = False` in the settings (or the `PAGE_CACHE` environment variable set to false) turns
it off; `bench/portal_load.py --compare-cache` measures both.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import threading
from contextlib import contextmanager

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.signals import connection_created
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.urls import Resolver404, resolve

logger = logging.getLogger(__name__)

GENERATION_PREFIX = "page-cache:generation:"
EVERYTHING = "*"  # the generation every copy also checks: moved by writes whose table is not known
# the table a write statement writes (Django quotes its table names; raw SQL may not)
_WRITE_TABLE = re.compile(r'\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?([A-Za-z_]\w*)"?', re.IGNORECASE)
_WRITE = re.compile(r"\s*(?:INSERT|UPDATE|DELETE|TRUNCATE|ALTER|CREATE|DROP|MERGE|COPY)\b", re.IGNORECASE)
_READ_TABLES = re.compile(r'\b(?:FROM|JOIN)\s+"?([A-Za-z_]\w*)"?', re.IGNORECASE)
# tables whose writes change no page: sessions (written at sign-in and when a session changes; a
# session's contents are part of every key anyway) and django-axes' sign-in attempts
_IGNORED = re.compile(r"django_session$|axes_")
# signing in stamps the user row's last_login (Django's update_last_login), which no page shows: on a
# review morning every sign-in would otherwise drop every copy (they all read the user row)
_SIGN_IN_STAMP = re.compile(r'\s*UPDATE "accounts_user" SET "last_login" = %s WHERE "accounts_user"\."id" = %s\s*$')
_CSRF_IN_PAGE = re.compile(rb'(?:name="csrfmiddlewaretoken" value="|data-csrf=")([A-Za-z0-9]{64})"')
_KEPT_HEADERS_SKIP = {"content-length", "set-cookie"}
# per view, the tables its renders have read, in this process: the generations read before a render
# (so a write committed while it runs is never taken for seen) are those of the tables it is expected
# to read; a render that read a table outside them is not kept, and the next one knows the table
_EXPECTED: dict[str, frozenset] = {}
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


# --- the generations, one per table ------------------------------------------------------------


def generations(tables) -> dict[str, int]:
    """The current generation of each table (and of EVERYTHING), from the shared cache. A table with no
    counter yet (never written since the cache started, or the cache was emptied) gets a random start,
    so an emptied cache never meets its old copies."""
    keys = {GENERATION_PREFIX + t: t for t in {EVERYTHING, *tables}}
    found = cache.get_many(keys)
    missing = [k for k in keys if k not in found]
    if missing:
        for key in missing:
            cache.add(key, secrets.randbits(48))
        found.update(cache.get_many(missing))
    return {keys[k]: int(v) for k, v in found.items()}


def generation(table: str = EVERYTHING) -> int:
    return generations([table])[table]


def bump(tables=(EVERYTHING,)) -> None:
    for table in tables:
        key = GENERATION_PREFIX + table
        try:
            cache.incr(key)
        except ValueError:  # no counter yet: a new random start is a change too
            cache.add(key, secrets.randbits(48))
        except Exception:  # noqa: BLE001 - the cache is down: copies cannot be served either
            logger.warning("page cache: could not move the generation of %s", table, exc_info=True)


class _PendingWrite:
    """Registered with `on_commit` at a transaction's first write: moves the generations of the tables
    it wrote at commit, and while it is pending names the transaction (its `token`) for the keys of
    that connection."""

    __slots__ = ("tables", "token")

    def __init__(self) -> None:
        self.token = secrets.token_hex(8)
        self.tables: set[str] = set()

    def __call__(self) -> None:
        bump(sorted(self.tables))


def _pending(connection) -> _PendingWrite | None:
    for _sids, func, _robust in connection.run_on_commit:
        if type(func) is _PendingWrite:
            return func
    return None


def _written(connection, table: str) -> None:
    if not connection.in_atomic_block:
        bump((table,))
        return
    connection.page_cache_writes = getattr(connection, "page_cache_writes", 0) + 1
    pending = _pending(connection)
    if pending is None:
        pending = _PendingWrite()
        transaction.on_commit(pending, using=connection.alias)
    pending.tables.add(table)


def commits_first(using: str = DEFAULT_DB_ALIAS) -> None:
    """Called before registering an on-commit callback that tells browsers to fetch a page again (the
    live events): the generations move before that callback runs (on-commit callbacks run in the
    order they were registered), even when the transaction's writes come after the registration."""
    connection = connections[using]
    if connection.in_atomic_block and _pending(connection) is None:
        transaction.on_commit(_PendingWrite(), using=using)


def _uncommitted(connection) -> tuple:
    """What names the data a connection sees beyond the committed generations: nothing when it has not
    written in its open transaction; else the transaction, its open savepoints and its count of writes
    (a savepoint rolled back leaves the stack, and savepoint names are never reused in a transaction,
    so the same triple never names two different states)."""
    pending = _pending(connection) if connection.in_atomic_block else None
    if pending is None:
        return ()
    return (pending.token, tuple(connection.savepoint_ids), getattr(connection, "page_cache_writes", 0))


def _execute_wrapper(execute, sql, params, many, context):
    result = execute(sql, params, many, context)
    if type(sql) is not str:
        return result
    readers = getattr(_local, "readers", None)
    if readers and context["connection"].alias == DEFAULT_DB_ALIAS:
        tables = _READ_TABLES.findall(sql)
        for reading in readers:
            reading.update(tables)
    if _WRITE.match(sql) and not _SIGN_IN_STAMP.match(sql):
        found = _WRITE_TABLE.match(sql)
        table = found.group(1) if found else EVERYTHING  # TRUNCATE, ALTER, ...: every copy goes
        if not _IGNORED.match(table):
            _written(context["connection"], table)
    return result


def _install(sender, connection, **kwargs) -> None:
    if _execute_wrapper not in connection.execute_wrappers:
        connection.execute_wrappers.append(_execute_wrapper)


def install() -> None:
    """Hooks every database connection (called from the core app's ready())."""
    connection_created.connect(_install, dispatch_uid="portal.core.page_cache")
    for conn in connections.all(initialized_only=True):
        _install(None, conn)


@contextmanager
def _reading():
    """Notes the tables the SQL run inside reads (nested: an outer reading sees them too)."""
    reading: set[str] = set()
    readers = getattr(_local, "readers", None)
    if readers is None:
        readers = _local.readers = []
    readers.append(reading)
    try:
        yield reading
    finally:
        readers.remove(reading)


# --- copies: looked up, kept, answered ---------------------------------------------------------


def _request_parts(request) -> tuple:
    """What every key holds of the request: the connection's uncommitted writes, host, scheme, URL and
    language."""
    return (
        _uncommitted(connections[DEFAULT_DB_ALIAS]),
        request.get_host(),
        request.scheme,
        request.path,
        request.META.get("QUERY_STRING", ""),
        getattr(request, "LANGUAGE_CODE", ""),
    )


def _look_up(key: str, expected: frozenset) -> tuple[tuple | None, dict[str, int]]:
    """(the copy if it is current, the generations of the expected tables now), in one round trip."""
    wanted = {GENERATION_PREFIX + t: t for t in {EVERYTHING, *expected}}
    found = cache.get_many([key, *wanted])
    kept = found.pop(key, None)
    if len(found) < len(wanted):
        now = generations(wanted.values())  # starts the counters nobody has moved yet
    else:
        now = {wanted[k]: int(v) for k, v in found.items()}
    if kept is None:
        return None, now
    tables, made_at = kept[0], kept[1]
    if not now.keys() >= tables:  # kept by a process that knew of more tables
        now = {**now, **generations(tables.difference(now))}
    if all(now[t] == made_at[t] for t in made_at):
        return kept, now
    return None, now


def _learned(name: str, reading: set[str]) -> frozenset:
    """The tables a render read that matter, remembered as expected of that view from now on."""
    read = frozenset(t for t in reading if not _IGNORED.match(t))
    _EXPECTED[name] = _EXPECTED.get(name, frozenset()) | read
    return read


def lifetime() -> int:
    """How long a new copy may be kept: a random share of PAGE_CACHE_SECONDS, between half of it and all
    of it. Copies are made in crowds (a whole crew opening the portal, everyone reloading after a
    note); with one fixed lifetime a crowd's copies would also expire together and every one of them
    be rendered again in the same second, which is what a review day's latency cannot take. Spread over
    half the lifetime, and spread further at each renewal, they come back a few at a time."""
    longest = int(getattr(settings, "PAGE_CACHE_SECONDS", 60))
    if longest <= 0:
        return 0  # kept for no time at all, as the setting says
    return secrets.choice(range((longest + 1) // 2, longest + 1))


def _store(key: str, response, body: bytes, read: frozenset, before: dict[str, int]) -> None:
    """Keeps a 200 answer on the tables it read, at the generations read before it was made; a table
    nobody expected (its generation was not read in time) means it is not kept."""
    if not read or not before.keys() >= read:
        return
    headers = [(k, v) for k, v in response.items() if k.lower() not in _KEPT_HEADERS_SKIP]
    made_at = {t: before[t] for t in (*read, EVERYTHING)}
    try:
        cache.set(key, (read, made_at, response.status_code, headers, body), lifetime())
    except Exception:  # noqa: BLE001 - not kept; the response goes out all the same
        logger.warning("page cache: could not keep a copy", exc_info=True)


def _answer(kept: tuple, marker: str, body: bytes | None = None) -> HttpResponse:
    _tables, _made_at, status, headers, kept_body = kept
    response = HttpResponse(kept_body if body is None else body, status=status)
    for name, value in headers:
        response[name] = value
    response["X-Page-Cache"] = marker
    return response


# --- one list shared by everyone allowed to see it ------------------------------------------------


def shared_list(view, request, render):
    """For an API list whose answer depends only on its URL once access is granted (the notes on a
    version, a studio's audit trail): called by the view's list() after its access checks, so each
    person's own access is checked at every request; the JSON body is kept once for everyone, on the
    tables its rendering read, and rebuilt once after a write instead of once per person."""
    if not enabled() or request.method != "GET" or getattr(request.accepted_renderer, "format", "") != "json":
        return render()
    name = f"{type(view).__module__}.{type(view).__qualname__}.{view.action}"
    parts = (name, *_request_parts(request), request.accepted_media_type)
    key = "page-cache:shared:" + hashlib.sha256(repr(parts).encode()).hexdigest()
    try:
        kept, before = _look_up(key, _EXPECTED.get(name, frozenset()))
    except Exception:  # noqa: BLE001 - the cache is down: render
        logger.warning("page cache: unavailable, rendering", exc_info=True)
        return render()
    if kept is not None:
        for reading in getattr(_local, "readers", None) or ():
            reading.update(kept[0])  # a copy for one person kept over this answer depends on them too
        return _answer(kept, "shared")
    with _reading() as reading:
        response = render()
        response.accepted_renderer = request.accepted_renderer
        response.accepted_media_type = request.accepted_media_type
        response.renderer_context = view.get_renderer_context()
        response.render()
    read = _learned(name, reading)
    if response.status_code == 200 and not response.cookies:
        _store(key, response, response.content, read, before)
    return response


class SharedListMixin:
    """For a DRF list viewset whose answer depends only on its URL once access is granted: its list()
    goes through `shared_list` (put before the viewset's ListModelMixin)."""

    def list(self, request, *args, **kwargs):
        render = super().list
        return shared_list(self, request, lambda: render(request, *args, **kwargs))


# --- marking views -----------------------------------------------------------------------------


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
    """Placed right after the CSRF middleware (the session, the language and the browser's CSRF cookie
    are known; no SQL has run yet), before the sign-in and the access checks.

    For a GET of a marked view by a signed-in session, one round trip to the cache fetches the copy
    and the generations of the tables the view is expected to read. A copy whose tables are all at
    the generations it was made at is served as it is, without the sign-in's and the second factor's
    queries: the user row, the devices and the memberships those read are among its tables, so a
    user disabled, a password changed, a device removed or a role taken away has moved a generation
    and the request goes through the whole chain again. Otherwise the request goes on, the tables
    its SQL reads are noted, and a 200 answer for the session's own user is kept."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method != "GET" or not enabled():
            return self.get_response(request)
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return self.get_response(request)
        if not _marked(match.func):
            return self.get_response(request)
        key = self._key(request)
        if key is None:
            return self.get_response(request)
        view = match.view_name
        try:
            kept, before = _look_up(key, _EXPECTED.get(view, frozenset()))
        except Exception:  # noqa: BLE001 - the cache is down: render
            logger.warning("page cache: unavailable, rendering", exc_info=True)
            return self.get_response(request)
        if kept is not None:
            return self._serve(request, kept)
        with _reading() as reading:
            response = self.get_response(request)
        self._keep(request, key, response, _learned(view, reading), before)
        return response

    @staticmethod
    def _key(request) -> str | None:
        session = request.session
        user_id = session.get(SESSION_KEY)
        if user_id is None or "HTTP_AUTHORIZATION" in request.META:
            return None  # not signed in, or an API token (whose expiry is checked at each request)
        if "_messages" in session or "messages" in request.COOKIES:
            return None  # a flash message waits: it must be shown (and used up) by a real render
        meta = request.META
        parts = (
            *_request_parts(request),
            user_id,
            sorted((k, repr(v)) for k, v in session.items()),
            meta.get("HTTP_ACCEPT", ""),
            sorted((k, v) for k, v in meta.items() if k.startswith("HTTP_HX_")),
        )
        return "page-cache:" + hashlib.sha256(repr(parts).encode()).hexdigest()

    @staticmethod
    def _keep(request, key: str, response, read: frozenset, before: dict[str, int]) -> None:
        user = getattr(request, "user", None)
        if (
            response.status_code != 200
            or response.streaming
            or response.cookies
            or user is None
            or not user.is_authenticated
            or str(user.pk) != str(request.session.get(SESSION_KEY))
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
        _store(key, response, body, read, before)

    @staticmethod
    def _serve(request, kept) -> HttpResponse:
        body, placeholder = kept[4], _placeholder()
        if placeholder in body:
            body = body.replace(placeholder, get_token(request).encode())
        return _answer(kept, "hit", body)
