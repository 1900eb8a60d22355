"""The queue at a million requests: open work by default, index-backed search, cheap pages.

Three things make the review queue cost the same at 1,000 and at 1,000,000 requests:

* **What is shown by default** is open work (``admin_filters.OpenClosedFilter``, parameter
  ``status``: ``open`` when absent on the queue page, ``closed``, ``all``), ordered by ``(review_due_at, received_at, id)`` — the columns of the
  partial index ``refund_open_queue`` (and of ``refund_queue_order`` for the other views), so the
  first page is the first 50 index entries, not a sort of every row.
* **Search is exact-token first**: an address searches customer and requester emails, a reference
  searches references, anything else shaped like a number searches invoice numbers and references;
  each is an equality or a prefix (``LIKE 'x%'`` on a ``varchar_pattern_ops`` index). Only free text
  (a customer name) falls back to a substring match, served on PostgreSQL by a pg_trgm GIN index.
* **Pages** count exactly only when the count is cheap: ``EstimatedCountPaginator`` asks the planner
  for the row estimate first and counts exactly only below ``EXACT_COUNT_LIMIT``; a page's rows are
  found by an index-only ``OFFSET`` over ids (a "deferred join"), then only those 50 rows are joined.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any, cast

from django.core.exceptions import EmptyResultSet
from django.core.paginator import Page, Paginator
from django.db import connections
from django.db.models import DateField, Q, QuerySet, TimeField
from django.db.models.lookups import IContains
from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import conditional_escape

from januscaler_refunds.billing.models import Customer, Invoice, normalize_invoice_number
from januscaler_refunds.deadlines import readtime
from januscaler_refunds.refunds.models import RefundRequest

# Above this planner estimate, the queue shows "about N" instead of counting every row.
EXACT_COUNT_LIMIT = 10_000
# The default ordering; the index refund_open_queue / refund_queue_order has these columns.
QUEUE_ORDERING = ["review_due_at", "received_at", "id"]

_REFERENCE = re.compile(r"^RR-\d*$", re.IGNORECASE)
# A prefix matching more customers or invoices than this shows the first ones (say so in the help).
SEARCH_MATCH_LIMIT = 1000
_TOKEN = re.compile(r"^[#\w./-]*\d[\w./-]*$")


def _ids(queryset: QuerySet[Any]) -> list[int]:
    # Resolved up front (one small query), so the queue's condition is "column = ANY(ids)" that an
    # index answers, not a sub-select that PostgreSQL cannot combine with the other branch of the OR.
    return list(queryset.values_list("pk", flat=True)[:SEARCH_MATCH_LIMIT])


def search_q(term: str) -> Q:
    """The condition for one search term: exact-token lookups first, free text last."""
    term = term.strip()
    if not term:
        return Q()
    if "@" in term:
        # Addresses are stored lower-case by intake and import; a prefix finds a whole domain user.
        address = term.lower()
        customers = _ids(Customer.objects.filter(email__startswith=address))
        return Q(customer_id__in=customers) | Q(requester_email__startswith=address)
    if _REFERENCE.match(term):
        return Q(reference__startswith=term.upper())
    if _TOKEN.match(term):
        invoices = _ids(Invoice.objects.filter(number__startswith=normalize_invoice_number(term)))
        return Q(invoice_id__in=invoices) | Q(reference__startswith=term.upper())
    # Free text: a customer's name (pg_trgm index billing_customer_name_trgm on PostgreSQL).
    return Q(customer_id__in=_ids(Customer.objects.filter(name__name_contains=term)))


class NameContains(IContains):
    """``icontains`` that the trigram index serves: ``name ILIKE '%term%'`` on PostgreSQL.

    Django writes ``icontains`` as ``UPPER(name::text) LIKE UPPER(…)``, an expression the GIN index
    on ``name`` cannot answer: every name search read all customers (0.46 s at 100k customers;
    ILIKE through the index: 25 ms). Elsewhere (SQLite) it is the ordinary ``icontains``.
    """

    lookup_name = "name_contains"

    def as_postgresql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs_sql, lhs_params = self.process_lhs(compiler, connection)
        rhs_sql, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs_sql}::text ILIKE {rhs_sql}", [*lhs_params, *rhs_params]

    def as_sql(self, compiler: Any, connection: Any) -> Any:
        return IContains(self.lhs, self.rhs).as_sql(compiler, connection)


Customer._meta.get_field("name").register_lookup(NameContains)


def search(queryset: QuerySet[RefundRequest], search_term: str) -> QuerySet[RefundRequest]:
    """Each address or number must match; input with words in it is one free-text name."""
    terms = search_term.split()
    if not terms:
        return queryset
    if len(terms) > 1 and not all(_TOKEN.match(t) or "@" in t for t in terms):
        # Words with free text among them: one name substring ("Acme Cloud", "Customer 202").
        return queryset.filter(search_q(" ".join(terms)))
    for term in terms:
        queryset = queryset.filter(search_q(term))
    return queryset


def estimated_count(queryset: QuerySet[Any]) -> int | None:
    """The planner's row estimate for ``queryset`` (PostgreSQL), or None where there is none."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    try:
        sql, params = queryset.order_by().values("pk").query.sql_with_params()
    except EmptyResultSet:  # e.g. a search that matched no customer: nothing to count
        return 0
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


class EstimatedCountPaginator(Paginator):
    """Counts exactly only when the planner expects few rows; pages by a deferred join."""

    approximate = False
    exact = False  # set for searches: their few rows are counted exactly, without asking the planner

    @cached_property
    def count(self) -> int:  # type: ignore[override]
        queryset = cast(QuerySet[Any], self.object_list)
        estimate = None if self.exact else estimated_count(queryset)
        if estimate is not None and estimate > EXACT_COUNT_LIMIT:
            self.approximate = True
            return estimate
        return int(queryset.count())

    def page(self, number: Any) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        queryset = cast(QuerySet[Any], self.object_list)
        if connections[queryset.db].vendor == "postgresql":
            # The OFFSET walks index entries (ids only), then only this page's rows are joined.
            ids = queryset.values("pk")[bottom:top]
            return Page(queryset.filter(pk__in=ids), number, self)
        return Page(queryset[bottom:top], number, self)

    def validate_number(self, number: Any) -> int:
        try:
            return super().validate_number(number)
        except Exception:  # noqa: BLE001 - an estimate may undercount the last page; show it anyway
            if self.approximate:
                return max(1, int(number))
            raise


def request_clock(request: HttpRequest) -> readtime.DeadlineClock:
    """One deadline clock (its queries) per page view, shared by the deadline filter and the rows."""
    clock = getattr(request, "_queue_clock", None)
    if clock is None:
        clock = readtime.deadline_clock()
        request._queue_clock = clock  # type: ignore[attr-defined]
    return clock


def cache_unfold_result_headers() -> None:
    """Compute the list's column headers once per page instead of once per row.

    unfold's ``items_for_result`` calls ``result_headers(cl)`` for every row (550 header
    computations for a 50-row, 11-column queue page: about a third of the page's Python time at
    1M requests, issue 14). The headers depend only on the changelist, so keep them on it. The
    dicts are only read, so sharing them between rows is safe.
    """
    from unfold.templatetags import unfold_list

    original = unfold_list.result_headers
    if getattr(original, "cached_per_changelist", False):
        return

    def result_headers(cl: Any) -> Any:
        cached = getattr(cl, "_cached_result_headers", None)
        if cached is None:
            cached = list(original(cl))
            cl._cached_result_headers = cached
        return iter(cached)

    result_headers.cached_per_changelist = True  # type: ignore[attr-defined]
    unfold_list.result_headers = result_headers


# --- rows without a template per cell ---------------------------------------------------------

_PK_SLOT = "__jc_row_pk__"


def _column_kind(cl: Any, name: str) -> str | None:
    """"field" (a model column), "method" (a ModelAdmin display method), or None (anything else)."""
    try:
        field = cl.lookup_opts.get_field(name)
    except Exception:  # noqa: BLE001 - FieldDoesNotExist: not a model column
        field = None
    if field is not None:
        return "field" if not field.is_relation and not field.auto_created else None
    attr = getattr(cl.model_admin, name, None)
    if attr is None or not callable(attr):
        return None
    if any(getattr(attr, flag, False) for flag in ("boolean", "label", "header", "dropdown")):
        return None  # unfold decorates these cells itself; leave them to it
    return "method"


def fast_rows(cl: Any) -> list[list[str]] | None:
    """Each row's cells as unfold's ``items_for_result`` writes them, built from per-page parts.

    unfold computes the link, the CSS classes and the header label of every cell of every row
    (about 45 % of the queue's Python time after its label badges became plain HTML, issue 14).
    Only the values differ between rows, so the rest is built once per page and the values are
    dropped in. Returns None (use unfold's path) for any column this does not know how to draw,
    for editable lists and popups; ``tests/refunds/test_queue_rows.py`` compares both outputs.
    """
    from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
    from django.contrib.admin.utils import quote
    from django.utils.html import format_html
    from django.utils.safestring import mark_safe
    from django.utils.translation import gettext
    from unfold.templatetags import unfold_list
    from unfold.utils import display_for_field, display_for_value

    if getattr(cl, "formset", None) or cl.is_popup or cl.to_field or cl.list_display_links is None:
        return None
    admin = cl.model_admin
    empty = admin.get_empty_value_display()
    headers = list(unfold_list.result_headers(cl))
    links = cl.list_display_links or [name for name in cl.list_display if name != "action_checkbox"][:1]
    sample_url = add_preserved_filters(
        {"preserved_filters": cl.preserved_filters, "opts": cl.opts},
        reverse(f"admin:{cl.opts.app_label}_{cl.opts.model_name}_change", args=(_PK_SLOT,),
                current_app=admin.admin_site.name),
    )
    columns: list[tuple[str, Any, str, str, str]] = []  # kind, getter, before, before (dates), after
    first_link = True
    for index, name in enumerate(cl.list_display):
        if name == "action_checkbox":
            kind = "method"
            classes = " ".join(unfold_list.CHECKBOX_CLASSES)
        else:
            kind = _column_kind(cl, name) or ""
            classes = " ".join([f"field-{unfold_list._coerce_field_name(name, index)}", *unfold_list.ROW_CLASSES])
        if not kind:
            return None
        getter = cl.lookup_opts.get_field(name) if kind == "field" else getattr(admin, name)
        if kind == "field" and isinstance(getter, DateField | TimeField):
            classes += " nowrap"
        if name in links:
            tag = "th" if first_link else "td"
            first_link = False
            parts = [(tag, mark_safe(c), headers[index]["text"], sample_url, " ".join(unfold_list.LINK_CLASSES))
                     for c in (classes, classes + " nowrap")]
            before, dated = (format_html('<{} class="{}" data-label="{}"><a href="{}" class="{}" >', *p) for p in parts)
            after = f"</a></{tag}>"
        else:
            label = headers[index]["text"] if index else gettext("Select record")
            before, dated = (format_html('<td class="{}" data-label="{}">', mark_safe(c), label)
                             for c in (classes, classes + " nowrap"))
            after = "</td>"
        columns.append((kind, getter, str(before), str(dated), after))

    rows: list[list[str]] = []
    for result in cl.result_list:
        pk = str(quote(result.pk))
        cells: list[str] = []
        for kind, getter, start, start_dated, end in columns:
            if kind == "field":
                value = display_for_field(getattr(result, getter.attname), getter, empty)
            else:
                raw = getter(result)
                if isinstance(raw, dt.date | dt.time):  # unfold keeps dates and times on one line
                    start = start_dated
                value = display_for_value(raw, empty)
            cells.append(mark_safe(start.replace(_PK_SLOT, pk) + conditional_escape(value) + end))
        rows.append(cells)
    return rows


def use_fast_rows() -> None:
    """Let a changelist that has ``fast_rows`` draw its rows itself (the queue; see above)."""
    from unfold.templatetags import unfold_list

    original = unfold_list.results
    if getattr(original, "uses_fast_rows", False):
        return

    def results(cl: Any) -> Any:
        rows = fast_rows(cl) if getattr(cl, "draws_rows_fast", False) else None
        if rows is None:
            yield from original(cl)
            return
        for result, cells in zip(cl.result_list, rows, strict=True):
            yield unfold_list.UnfoldResultList(result, None, cells)

    results.uses_fast_rows = True  # type: ignore[attr-defined]
    unfold_list.results = results
