"""A queryset compiled to SQL once and run many times with another primary key.

Every transition starts with the same row-lock query (``refunds.services._locked``): the request
with its invoice, customer and policy version (~90 columns) and a few subqueries. Compiling it cost
more CPU than PostgreSQL took to run it (~2 ms on the bench machine, issue 14). ``PreparedGet``
compiles the queryset once per thread and database, then for each call runs the same SQL with the
new primary key and builds the instances from the row exactly as Django's ``ModelIterable`` does
(the compiler's converters, ``select_related`` populators and annotations).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import connections, transaction
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators

M = TypeVar("M", bound=Model)
_SENTINEL = -271828  # a primary key no row has: its position in the parameters is where the pk goes


@dataclass
class _Compiled:
    sql: str
    params: tuple[Any, ...]
    pk_at: int
    compiler: Any
    init_list: list[str]
    model_fields: slice
    populators: list[Any]
    annotations: dict[str, int]
    for_update: bool


class PreparedGet(Generic[M]):
    """``PreparedGet(lambda: Model.objects.select_related(...)).get(pk)`` ~ ``queryset.get(pk=pk)``.

    ``build`` is called once per thread and database (it may look at ``connection.vendor``); the
    queryset must select model instances (no ``values()``) and take no parameters of its own that
    change between calls.
    """

    def __init__(self, build: Callable[[], QuerySet[M]], *, using: str = "default") -> None:
        self._build = build
        self._using = using
        self._local = threading.local()

    def get(self, pk: Any) -> M:
        connection = connections[self._using]
        compiled = self._compiled()
        if compiled.for_update and connection.get_autocommit():
            raise transaction.TransactionManagementError("select_for_update cannot be used outside of a transaction.")
        params = list(compiled.params)
        params[compiled.pk_at] = pk
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        model = compiled.compiler.query.model
        if not rows:
            raise model.DoesNotExist(f"{model._meta.object_name} matching query does not exist.")
        row = next(iter(compiled.compiler.results_iter([rows])))
        obj: M = model.from_db(self._using, compiled.init_list, row[compiled.model_fields])
        for populator in compiled.populators:
            populator.populate(row, obj)
        for name, position in compiled.annotations.items():
            setattr(obj, name, row[position])
        return obj

    def _compiled(self) -> _Compiled:
        compiled: _Compiled | None = getattr(self._local, "compiled", None)
        if compiled is None:
            queryset = self._build().using(self._using).filter(pk=_SENTINEL)
            compiler = queryset.query.get_compiler(using=self._using)
            sql, params = compiler.as_sql()  # also fills compiler.select, klass_info, annotation_col_map
            if list(params).count(_SENTINEL) != 1:
                raise ValueError("PreparedGet: the queryset must have no other parameter equal to the primary key's")
            select, klass_info = compiler.select, compiler.klass_info
            fields = klass_info["select_fields"]
            model_fields = slice(fields[0], fields[-1] + 1)
            compiled = _Compiled(
                sql=sql,
                params=tuple(params),
                pk_at=list(params).index(_SENTINEL),
                compiler=compiler,
                init_list=[f[0].target.attname for f in select[model_fields]],
                model_fields=model_fields,
                # django-stubs describe a later Django (a fetch_mode argument); 5.2 takes these three.
                populators=get_related_populators(klass_info, select, self._using),  # type: ignore[call-arg]
                annotations=dict(compiler.annotation_col_map or {}),
                for_update=bool(queryset.query.select_for_update),
            )
            self._local.compiled = compiled
        return compiled
