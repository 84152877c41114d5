"""ORM queries that every request asks, built and compiled once.

Building a queryset with subqueries (cloning it at each `.filter()`, resolving `OuterRef`s and `Exists`,
compiling the SQL) costs about 1 ms of CPU in Django, while PostgreSQL answers the same SQL in a tenth
of that. A few such queries run on every signed-in request (the second factor, the roles on the
studio or project at hand, the studio or project the URL names): they were a fifth of the CPU of a
light page.

`PreparedQuery(build, int, str, ...)` calls `build(*markers)` once per database vendor, with one marker
per argument (an id no row has for `int`, a string no row holds for `str`), and `build` returns a
`values_list` queryset using them. The SQL, its parameters and the ORM's converters for its columns
are kept; each run swaps the markers in the parameters for the arguments, executes the SQL on the
connection Django would use (so it is in the request's transaction and counted by the query-count
tests) and converts the columns as `values_list` would. `instances(row, Model, start)` makes model
instances from a row's columns, as a queryset would.

A marker must reach the parameters unchanged (an exact lookup on an integer or text column does);
`build` is refused at its first use otherwise.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connections
from django.db.models import Model, QuerySet

_INT_MARKERS = (2_147_480_011, 2_147_480_023, 2_147_480_047, 2_147_480_059)
_STR_MARKERS = tuple(f"\x1fprepared-argument-{n}\x1f" for n in range(len(_INT_MARKERS)))


class PreparedQuery:
    def __init__(self, build: Callable[..., QuerySet], *kinds: type) -> None:
        if not 0 < len(kinds) <= len(_INT_MARKERS) or any(kind not in (int, str) for kind in kinds):
            raise ValueError(f"between 1 and {len(_INT_MARKERS)} arguments, each int or str")
        self._build = build
        self._kinds = kinds
        self._markers = tuple(_INT_MARKERS[n] if kind is int else _STR_MARKERS[n] for n, kind in enumerate(kinds))
        self._compiled: dict[str, tuple] = {}
        self._lock = threading.Lock()

    def _compile(self, using: str) -> tuple:
        vendor = connections[using].vendor
        compiled = self._compiled.get(vendor)
        if compiled is None:
            with self._lock:
                queryset = self._build(*self._markers)
                compiler = queryset.query.get_compiler(using=using)
                sql, params = compiler.as_sql()
                converters = list(compiler.get_converters([s[0] for s in compiler.select[: compiler.col_count]]).items())
                # for each parameter: which argument it is (its index), or None for a constant
                slots = tuple(self._slot(p) for p in params)
                missing = set(range(len(self._kinds))) - {s for s in slots if s is not None}
                if missing:
                    raise ValueError(f"argument(s) {sorted(missing)} do not reach the SQL's parameters unchanged")
                compiled = self._compiled[vendor] = (sql, tuple(params), slots, converters)
        return compiled

    def _slot(self, param: Any) -> int | None:
        if isinstance(param, bool) or not isinstance(param, (int, str)):
            return None
        try:
            return self._markers.index(param)
        except ValueError:
            return None

    def rows(self, *arguments: Any, using: str = "default") -> list[list[Any]]:
        if len(arguments) != len(self._kinds):
            raise TypeError(f"expected {len(self._kinds)} argument(s), got {len(arguments)}")
        sql, params, slots, converters = self._compile(using)
        values = tuple(p if slot is None else self._kinds[slot](arguments[slot]) for p, slot in zip(params, slots, strict=True))
        connection = connections[using]
        with connection.cursor() as cursor:
            cursor.execute(sql, values)
            rows = [list(row) for row in cursor.fetchall()]
        for row in rows:
            for position, (functions, expression) in converters:
                value = row[position]
                for convert in functions:
                    value = convert(value, expression, connection)
                row[position] = value
        return rows

    def first(self, *arguments: Any, using: str = "default") -> list[Any] | None:
        rows = self.rows(*arguments, using=using)
        return rows[0] if rows else None


def columns(model: type[Model]) -> list[str]:
    """The columns a query must select (in this order) for `instance()` to make a `model` from them."""
    return [field.attname for field in model._meta.concrete_fields]


def instance(model: type[Model], row: list[Any], start: int = 0, using: str = "default") -> Model:
    """A `model` instance from row[start:] (selected with `columns(model)`), as a queryset makes it."""
    names = columns(model)
    return model.from_db(using, names, row[start : start + len(names)])
