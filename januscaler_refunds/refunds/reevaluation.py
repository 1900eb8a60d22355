"""Re-evaluating many open requests: facts read per batch, results written per chunk.

``evaluation.load_facts`` reads one request's facts in ~10 queries; re-running 100,000 open
requests that way costs a million queries and, in one transaction, holds every row lock for
minutes (issue 14: ~100 requests/s, 3.5 GB RSS). Here the open requests among the ids are put in
customer order (a customer's requests share one chunk, so their customer's rows are read once), and
each chunk in its own transaction:

1. locks its rows, still open, and reads their own, invoice and customer columns as plain tuples
   (``evaluation.REQUEST_COLUMNS``; the evaluation JSON is neither locked for nor read);
2. reads every other kind of fact for the whole chunk with one query each (``load_fact_rows``: a
   fixed number, whatever the chunk's size), in the orders one-by-one evaluation uses;
3. builds the facts with the same ``evaluation.build_facts`` as one-by-one evaluation (so the
   results are the same; tested), with the policy version's facts and the calendar made once per run;
4. writes every result with one ``UPDATE ... FROM unnest(arrays)`` (PostgreSQL; ``bulk_update``
   elsewhere) and commits before the next chunk starts.

A request a person is deciding stays theirs: a transition holds its row lock (``services._locked``)
until it commits, the chunk's lock waits for it, and a request no longer open by then is skipped -
``evaluate_and_store`` likewise leaves a decided request's snapshot alone.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, DecimalField, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce, Lower, Trim
from django.utils import timezone

from januscaler_refunds.billing.models import (
    MONEY,
    ZERO,
    AbuseReport,
    Incident,
    Invoice,
    InvoiceLine,
    PolicyVersion,
    UsageRecord,
    Violation,
)
from januscaler_refunds.chargebacks.models import Chargeback
from januscaler_refunds.policy.calendar import BusinessCalendar
from januscaler_refunds.policy.engine import evaluate
from januscaler_refunds.refunds import evaluation
from januscaler_refunds.refunds.documents import ACCEPTED_TYPES
from januscaler_refunds.refunds.evaluation import (
    LINE_COLUMNS,
    ORDER,
    OTHER_REQUEST_FIELDS,
    REQUEST_COLUMNS,
    FactRows,
    RequestRow,
)
from januscaler_refunds.refunds.models import (
    OPEN_STATES,
    InformationRequest,
    RefundDocument,
    RefundRequest,
)

CHUNK_SIZE = 500  # a chunk's transaction lasts a fraction of a second on an idle core
LOOKUP_BATCH = 5_000  # ids per query when putting the requests in customer order
OTHER_INVOICE_FIELDS = ("number", "issued_on", "kind", "amount_paid", "lines_total")
_PLAN = InvoiceLine.Category.PLAN.value
_LINES_TOTAL = (
    InvoiceLine.objects.filter(invoice=OuterRef("pk")).order_by().values("invoice").annotate(total=Sum("amount"))
    .values("total")
)

# One statement writes a whole chunk: its results as one JSON array, unpacked into rows by
# jsonb_to_recordset and joined by id (one string parameter; arrays of JSON texts would be escaped
# element by element on the client). The same columns ``evaluation.evaluate_and_store`` writes.
UPDATE_SQL = """
    UPDATE refunds_refundrequest AS r
    SET evaluation = v.evaluation, evaluated_at = %s, recommendation = v.recommendation,
        refundable_amount = v.refundable_amount, evaluation_codes = v.evaluation -> 'codes',
        review_due_at = v.review_due_at, updated_at = %s
    FROM jsonb_to_recordset(%s::jsonb)
        AS v(id bigint, evaluation jsonb, recommendation text, refundable_amount numeric, review_due_at timestamptz)
    WHERE r.id = v.id
"""


def _grouped(rows: Iterable[Any], key: str) -> dict[Any, list[dict[str, Any]]]:
    groups: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:  # fresh dicts from .values(), so popping the key changes nobody else's
        groups[row.pop(key)].append(row)
    return groups


def load_fact_rows(requests: Sequence[RequestRow]) -> dict[int, FactRows]:
    """The fact rows of every request in ``requests``, in a fixed number of queries (at most 10)."""
    invoice_ids = {r.invoice_id for r in requests}
    customer_ids = {r.customer_id for r in requests}
    request_ids = [r.pk for r in requests]
    lines: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for invoice_id, *line in (
        InvoiceLine.objects.filter(invoice_id__in=invoice_ids)
        .order_by("invoice_id", "line_no")
        .values_list("invoice_id", *LINE_COLUMNS)
    ):
        lines[invoice_id].append(tuple(line))
    chargebacks = _grouped(
        Chargeback.objects.filter(invoice_id__in=invoice_ids)
        .order_by(*ORDER["chargebacks"])
        .values("invoice_id", "ref", "received_at", "outcome"),
        "invoice_id",
    )
    violations = _grouped(
        Violation.objects.filter(customer_id__in=customer_ids)
        .order_by(*ORDER["violations"])
        .values("customer_id", "kind", "status", "opened_on"),
        "customer_id",
    )
    # Each customer's invoices once, as (pk, the fields OtherInvoice takes); a request leaves out its own.
    invoices_of: dict[int, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    # lines_total as with_lines_total() sums it, but per invoice through the lines' index: the
    # join + GROUP BY that with_lines_total() makes is planned as a scan of every line at scale.
    for customer_id, pk, *values in (
        Invoice.objects.filter(customer_id__in=customer_ids)
        .order_by(*ORDER["other_invoices"])
        .annotate(lines_total=Coalesce(Subquery(_LINES_TOTAL), ZERO, output_field=DecimalField(**MONEY)))
        .values_list("customer_id", "pk", *OTHER_INVOICE_FIELDS)
    ):
        invoices_of[customer_id].append((pk, dict(zip(OTHER_INVOICE_FIELDS, values, strict=True))))
    # Other requests of the customers or on the invoices; build_facts reads them by field name, so
    # the extra pk / customer_id / position keys change nothing.
    requests_of_customer: dict[int, list[dict[str, Any]]] = defaultdict(list)
    requests_of_invoice: dict[int, list[dict[str, Any]]] = defaultdict(list)
    # The invoice number by the invoices' primary key, row by row: joined, it is planned as a scan
    # of every invoice.
    others = (
        RefundRequest.objects.filter(Q(customer_id__in=customer_ids) | Q(invoice_id__in=invoice_ids))
        .order_by(*ORDER["other_requests"])
        .annotate(number=Subquery(Invoice.objects.filter(pk=OuterRef("invoice_id")).order_by().values("number")))
        .values("pk", "customer_id", "number", *(f for f in OTHER_REQUEST_FIELDS if f != "invoice__number"))
    )
    for position, row in enumerate(others):
        row["invoice__number"] = row.pop("number")
        row["position"] = position
        requests_of_customer[row["customer_id"]].append(row)
        requests_of_invoice[row["invoice_id"]].append(row)
    abuse = _grouped(
        AbuseReport.objects.filter(customer_id__in=customer_ids)
        .order_by(*ORDER["abuse"])
        .values("customer_id", "ref", "received_at"),
        "customer_id",
    )
    usage = _grouped(
        UsageRecord.objects.filter(invoice_line__invoice_id__in=invoice_ids)
        .order_by(*ORDER["usage"])
        .values("invoice_line__invoice_id", "invoice_line__line_no", "at", "units"),
        "invoice_line__invoice_id",
    )
    documents = dict(
        RefundDocument.objects.filter(request_id__in=request_ids, content_type__in=ACCEPTED_TYPES)
        .order_by()
        .values("request_id")
        .annotate(n=Count("id"))
        .values_list("request_id", "n")
    )
    pauses = _grouped(
        InformationRequest.objects.filter(request_id__in=request_ids)
        .order_by(*ORDER["pauses"])
        .values("request_id", "requested_at", "answered_at"),
        "request_id",
    )
    incidents = _incidents_by_request(requests, lines)

    result = {}
    for request in requests:
        customer_id, invoice_id, pk = request.customer_id, request.invoice_id, request.pk
        mine = requests_of_customer[customer_id]
        # Requests on this invoice filed by another customer (rare) join the customer's, in query order.
        strangers = [o for o in requests_of_invoice[invoice_id] if o["customer_id"] != customer_id]
        if strangers:
            mine = sorted(mine + strangers, key=lambda row: row["position"])
        result[pk] = FactRows(
            lines=lines.get(invoice_id, []),
            chargebacks=chargebacks.get(invoice_id, []),
            violations=violations.get(customer_id, []),
            other_invoices=[values for invoice_pk, values in invoices_of[customer_id] if invoice_pk != invoice_id],
            other_requests=[o for o in mine if o["pk"] != pk],
            abuse=abuse.get(customer_id, []),
            usage=usage.get(invoice_id, []),
            incidents=incidents.get(pk, []),
            document_count=documents.get(pk, 0),
            pauses=pauses.get(pk, []),
        )
    return result


def _incidents_by_request(
    requests: Sequence[RequestRow], lines: dict[int, list[tuple[Any, ...]]]
) -> dict[int, list[dict[str, Any]]]:
    """SLA claims see the incidents of their plan lines' services (all, if a plan line names none);
    names compare case-insensitively, as ``evaluation.load_facts`` does. One query for the batch."""
    wanted: dict[int, set[str]] = {}
    for request in requests:
        plan = [line for line in lines.get(request.invoice_id, []) if line[1] == _PLAN]
        if request.reason == "service_unavailability" and plan:
            wanted[request.pk] = {line[5].strip().lower() for line in plan}
    if not wanted:
        return {}
    every = set().union(*wanted.values())
    queryset = Incident.objects.order_by(*ORDER["incidents"])
    if "" not in every:
        queryset = queryset.alias(service_key=Lower(Trim("service"))).filter(service_key__in=every)
    rows: list[Any] = list(queryset.values("ref", "service", "start", "end", "cause"))
    return {
        pk: [row for row in rows if "" in services or row["service"].strip().lower() in services]
        for pk, services in wanted.items()
    }


def _open_in_customer_order(ids: Iterable[int]) -> list[int]:
    """The open requests among ``ids``, ordered by customer then id, so that a customer's requests
    fall in one chunk and their customer's rows are read and built once."""
    wanted = sorted(set(ids))
    pairs: list[tuple[int, int]] = []
    for start in range(0, len(wanted), LOOKUP_BATCH):
        pairs.extend(
            RefundRequest.objects.filter(pk__in=wanted[start:start + LOOKUP_BATCH], state__in=OPEN_STATES)
            .order_by()
            .values_list("customer_id", "pk")
        )
    pairs.sort()
    return [pk for _customer, pk in pairs]


def reevaluate_requests(
    ids: Iterable[int],
    *,
    chunk_size: int = CHUNK_SIZE,
    now: dt.datetime | None = None,
    calendar: BusinessCalendar | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Re-evaluate the open requests among ``ids``, one committed chunk at a time; returns how many.

    Each chunk: lock its rows that are still open (without the evaluation JSON), read the facts in a
    fixed number of queries, evaluate, write with one UPDATE, commit; then ``progress(done so far)``.
    """
    calendar = calendar or evaluation.business_calendar()
    # One query per run: the policy versions' facts (their SLA tables parsed once, not per request).
    policies = {version.pk: evaluation.policy_facts(version) for version in PolicyVersion.objects.all()}
    ordered = _open_in_customer_order(ids)
    done = 0
    for start in range(0, len(ordered), chunk_size):
        chunk = ordered[start:start + chunk_size]
        moment = now or timezone.now()
        with transaction.atomic():
            rows = [
                RequestRow._make(values)
                for values in RefundRequest.objects.filter(pk__in=chunk, state__in=OPEN_STATES)
                .order_by("pk")
                .select_for_update(of=("self",))
                .values_list(*REQUEST_COLUMNS)
            ]
            if not rows:
                continue
            facts = load_fact_rows(rows)
            stamp = moment.isoformat()
            results = []
            for row in rows:
                result = evaluate(
                    evaluation.build_facts(
                        row, facts[row.pk], policy=policies[row.policy_version_id], calendar=calendar
                    ),
                    now=moment,
                )
                snapshot = result.to_dict()
                snapshot["evaluated_at"] = stamp
                results.append((row.pk, snapshot, result))
            _write(results, moment)
            done += len(rows)
        if progress is not None:
            progress(done)
    return done


def _write(results: list[tuple[int, dict[str, Any], Any]], moment: dt.datetime) -> None:
    """Store a chunk's results: the same values ``evaluation.evaluate_and_store`` stores."""
    if connection.vendor == "postgresql":
        document = json.dumps([
            {"id": pk, "evaluation": snapshot, "recommendation": result.recommendation,
             "refundable_amount": str(result.refundable_amount), "review_due_at": result.review_due_at.isoformat()}
            for pk, snapshot, result in results
        ])
        with connection.cursor() as cursor:
            cursor.execute(UPDATE_SQL, [moment, moment, document])
        return
    # Elsewhere (SQLite, the zero-configuration default): Django's bulk_update, slower but the same rows.
    updated = []
    for pk, snapshot, result in results:
        request = RefundRequest(pk=pk)
        evaluation.apply_result(request, result, snapshot, moment)
        request.updated_at = moment
        updated.append(request)
    RefundRequest.objects.bulk_update(updated, [*evaluation.STORED_FIELDS, "updated_at"])
