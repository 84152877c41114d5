"""Transactions that PostgreSQL may abort under concurrency, run again a bounded number of times.

The lock order every audited transaction keeps (see portal/audit/services.py): the domain rows it
changes first (project, asset, version, ...), then the rows the audit row references (FOR KEY
SHARE), the studio's audit-chain head last. With one order there is no deadlock between two of
the portal's own transactions; a deadlock or a serialization failure can still come from outside
(a manual session, a future query that forgets the order). PostgreSQL then rolls the whole
transaction back, so running it again from the start is safe: `atomic_with_retry` does that a few
times, with a short random pause, and raises the error if it keeps happening.

Only the outermost transaction can be retried: inside another `atomic()` block the error goes up
to whoever opened the outer one."""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import DEFAULT_DB_ALIAS, OperationalError, connections, transaction

log = logging.getLogger(__name__)

T = TypeVar("T")

# serialization_failure, deadlock_detected
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
ATTEMPTS = 4


def is_retryable(exc: BaseException) -> bool:
    """A deadlock or serialization failure reported by PostgreSQL (Django wraps psycopg's error)."""
    for candidate in (exc, exc.__cause__, exc.__context__):
        if candidate is not None and getattr(candidate, "sqlstate", None) in RETRYABLE_SQLSTATES:
            return True
    return False


def atomic_with_retry(fn: Callable[[], T], *, attempts: int = ATTEMPTS, using: str = DEFAULT_DB_ALIAS) -> T:
    """Run fn() in a transaction; on a deadlock or serialization failure, run it again (at most
    `attempts` times in all). Inside an outer transaction fn() simply runs in a savepoint."""
    if connections[using].in_atomic_block:
        with transaction.atomic(using=using):
            return fn()
    for attempt in range(1, attempts + 1):
        try:
            with transaction.atomic(using=using):
                return fn()
        except OperationalError as exc:
            if not is_retryable(exc) or attempt == attempts:
                raise
            pause = random.uniform(0.005, 0.02) * 2**attempt  # noqa: S311 - jitter, not security
            log.warning("transaction %s aborted by the database (%s); attempt %d of %d", _name(fn), exc, attempt, attempts)
            time.sleep(pause)
    raise AssertionError("unreachable")


def retry_on_conflict(fn: Callable[..., T]) -> Callable[..., T]:
    """Decorator: the whole function is one transaction, retried as atomic_with_retry does."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return atomic_with_retry(lambda: fn(*args, **kwargs))

    return wrapper


def _name(fn) -> str:
    return getattr(fn, "__qualname__", repr(fn))
