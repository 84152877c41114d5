"""ORM queries that every request asks, built and compiled once.

Building a queryset with subqueries (cloning it at each `.filter()`, resolving `OuterRef`s and `Exists`,
compiling the SQL) costs about 1 ms of CPU in Django, while PostgreSQL answers the same SQL in a tenth
of that. Two such queries run on every signed-in request (the second factor, the roles on the
studio or project at hand): that was a fifth of the CPU of a light page.

`PreparedQuery(build)` calls `build(*markers)` once per database vendor: a `values_list` queryset in
which integer markers stand for the arguments (ids). The SQL and its parameters are kept; each run
swaps the markers in the parameters for the arguments and executes the SQL on the same connection
Django would use (so it is in the request's transaction and counted by the query-count tests).

Only for plain columns: the rows come back as the database driver gives them, without the ORM's
converters (a boolean `Exists` is 0/1 on SQLite; the callers cast). Arguments must be integers, as the
markers are: a marker must reach the parameters unchanged, which an integer field's preparation does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connections
from django.db.models import QuerySet

# Ids no row has, and no other parameter of these queries could equal by chance.
MARKERS = (2_147_480_011, 2_147_480_023, 2_147_480_047, 2_147_480_059)


class PreparedQuery:
    def __init__(self, build: Callable[..., QuerySet], *, arguments: int) -> None:
        if not 0 < arguments <= len(MARKERS):
            raise ValueError(f"between 1 and {len(MARKERS)} arguments")
        self._build = build
        self._arguments = arguments
        self._compiled: dict[str, tuple[str, tuple, tuple[int | None, ...]]] = {}
        self._lock = threading.Lock()

    def _compile(self, using: str) -> tuple[str, tuple, tuple[int | None, ...]]:
        vendor = connections[using].vendor
        compiled = self._compiled.get(vendor)
        if compiled is None:
            with self._lock:
                markers = MARKERS[: self._arguments]
                queryset = self._build(*markers)
                sql, params = queryset.query.get_compiler(using=using).as_sql()
                # for each parameter: which argument it is (its index), or None for a constant
                slots = tuple(markers.index(p) if _is_marker(p, markers) else None for p in params)
                missing = set(range(self._arguments)) - {s for s in slots if s is not None}
                if missing:
                    raise ValueError(f"argument(s) {sorted(missing)} do not reach the SQL's parameters unchanged")
                compiled = self._compiled[vendor] = (sql, tuple(params), slots)
        return compiled

    def rows(self, *arguments: int, using: str = "default") -> list[tuple[Any, ...]]:
        if len(arguments) != self._arguments:
            raise TypeError(f"expected {self._arguments} argument(s), got {len(arguments)}")
        sql, params, slots = self._compile(using)
        values = tuple(p if slot is None else int(arguments[slot]) for p, slot in zip(params, slots, strict=True))
        with connections[using].cursor() as cursor:
            cursor.execute(sql, values)
            return cursor.fetchall()

    def first(self, *arguments: int, using: str = "default") -> tuple[Any, ...] | None:
        rows = self.rows(*arguments, using=using)
        return rows[0] if rows else None


def _is_marker(value: Any, markers: tuple[int, ...]) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value in markers
