"""Read queries compiled once per ingest run and sent several to a round trip.

Ingesting one message reads a handful of small things (is it known, which invoice, that invoice's
history for the evaluation). Built as querysets per message, Django's query compiler cost more CPU
than PostgreSQL spent answering them (issue 14: ~30 queries and ~30 ms per message). Here each
query is built once, from an ordinary queryset whose varying values are *markers*; binding swaps
the markers in the compiled parameters for the message's values, so the SQL is exactly what the
queryset would send. Rows come back as dicts through the compiler's own converters (JSON, dates on
SQLite...), exactly as ``.values()`` gives them.

``fetch`` sends a list of bound queries: on PostgreSQL with client-side binding (Django's default
for psycopg 3) as one multi-statement round trip read with ``nextset()``; elsewhere (SQLite, or
``server_side_binding``) one after another, with the same results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.models import QuerySet


class PreparedQuery:
    """A ``.values()`` queryset compiled once; ``bind(**values)`` gives the SQL to send.

    ``markers`` map a name to the sample value the queryset was built with. Samples must be values
    no real row has and that appear nowhere else in the query's parameters (e.g. ``-1000000001``
    for an id, ``"\\x00marker-1"`` for a string), and the SQL's shape must not depend on them (no
    ``__in`` of a varying length); compiling checks that each occurs.
    """

    def __init__(self, queryset: QuerySet[Any], **markers: Any) -> None:
        self.using = queryset.db
        query = queryset.query
        compiler = query.get_compiler(self.using)
        self.sql, params = compiler.as_sql()
        self._params = tuple(params)
        by_sample = {sample: name for name, sample in markers.items()}
        self._slots = [
            (index, by_sample[value])
            for index, value in enumerate(self._params)
            if isinstance(value, (int, str)) and not isinstance(value, bool) and value in by_sample
        ]
        missing = set(markers) - {name for _, name in self._slots}
        if missing:
            raise ValueError(f"markers not found in the compiled query: {sorted(missing)}")
        if query.selected:
            self.names = list(query.selected)
        else:
            self.names = [*query.extra_select, *query.values_select, *query.annotation_select]
        fields = [s[0] for s in compiler.select[0 : compiler.col_count]]
        self._converters = compiler.get_converters(fields)
        self._compiler = compiler

    def bind(self, **values: Any) -> BoundQuery:
        params = list(self._params)
        for index, name in self._slots:
            params[index] = values[name]
        return BoundQuery(self, tuple(params))

    def rows(self, raw_rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
        rows: Any = raw_rows
        if self._converters:
            rows = self._compiler.apply_converters(rows, self._converters)
        names = self.names
        return [dict(zip(names, row, strict=True)) for row in rows]


@dataclass(frozen=True)
class BoundQuery:
    prepared: PreparedQuery
    params: tuple[Any, ...]


def fetch(queries: Sequence[BoundQuery]) -> list[list[dict[str, Any]]]:
    """Run ``queries`` (reads) and return each one's rows, in order; one round trip on PostgreSQL."""
    if not queries:
        return []
    connection = connections[queries[0].prepared.using]
    results = []
    with connection.cursor() as cursor:
        if len(queries) > 1 and _multi_statement(connection, cursor):
            cursor.execute(";\n".join(q.prepared.sql for q in queries), [p for q in queries for p in q.params])
            for position, query in enumerate(queries):
                if position:
                    cursor.nextset()
                results.append(query.prepared.rows(cursor.fetchall()))
            return results
        for query in queries:
            cursor.execute(query.prepared.sql, query.params)
            results.append(query.prepared.rows(cursor.fetchall()))
    return results


def _multi_statement(connection: Any, cursor: Any) -> bool:
    """psycopg 3's ClientCursor merges the parameters into the text and may send several
    statements at once; a server-side-binding cursor may not."""
    if connection.vendor != "postgresql":
        return False
    import psycopg

    return isinstance(getattr(cursor, "cursor", None), psycopg.ClientCursor)
