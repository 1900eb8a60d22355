"""Re-evaluating many open requests: facts read per batch, results written per chunk.

``evaluation.load_facts`` reads one request's facts in ~10 queries; re-running 100,000 open
requests that way costs a million queries and, in one transaction, holds every row lock for
minutes (issue 14: ~100 requests/s, 3.5 GB RSS). Here a chunk of requests is locked, its facts
are read with one query per kind of fact for the whole chunk (``load_fact_rows``: a fixed number,
whatever the chunk's size), the engine runs on each, and the chunk's results are written with one
``bulk_update`` and committed before the next chunk starts. The facts are built by the same
``evaluation.build_facts`` as one-by-one evaluation, so the results are the same (tested).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import transaction
from django.db.models import Count, Q
from django.db.models.functions import Lower, Trim
from django.utils import timezone

from januscaler_refunds.billing.models import (
    AbuseReport,
    Incident,
    Invoice,
    InvoiceLine,
    UsageRecord,
    Violation,
)
from januscaler_refunds.chargebacks.models import Chargeback
from januscaler_refunds.policy.calendar import BusinessCalendar
from januscaler_refunds.policy.engine import evaluate
from januscaler_refunds.refunds import evaluation
from januscaler_refunds.refunds.documents import ACCEPTED_TYPES
from januscaler_refunds.refunds.evaluation import FactRows
from januscaler_refunds.refunds.models import (
    OPEN_STATES,
    InformationRequest,
    RefundDocument,
    RefundRequest,
)

CHUNK_SIZE = 500  # a chunk's transaction lasts well under a second on an idle core
OTHER_REQUEST_FIELDS = (
    "reference", "invoice_id", "invoice__number", "reason", "state", "received_at",
    "payout__amount", "payout__currency", "payout__paid_at",
    "credit__amount", "credit__currency", "credit__created_at",
)


def _grouped(rows: Iterable[Any], key: str) -> dict[Any, list[dict[str, Any]]]:
    groups: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        row = dict(row)
        groups[row.pop(key)].append(row)
    return groups


def load_fact_rows(requests: Sequence[RefundRequest]) -> dict[int, FactRows]:
    """The fact rows of every request in ``requests``, in a fixed number of queries (at most 10)."""
    invoice_ids = {r.invoice_id for r in requests}
    customer_ids = {r.customer_id for r in requests}
    request_ids = [r.pk for r in requests]
    lines: dict[int, list[InvoiceLine]] = defaultdict(list)
    for line in InvoiceLine.objects.filter(invoice_id__in=invoice_ids).order_by("invoice_id", "line_no"):
        lines[line.invoice_id].append(line)
    chargebacks = _grouped(
        Chargeback.objects.filter(invoice_id__in=invoice_ids).values("invoice_id", "ref", "received_at", "outcome"),
        "invoice_id",
    )
    violations = _grouped(
        Violation.objects.filter(customer_id__in=customer_ids).values("customer_id", "kind", "status", "opened_on"),
        "customer_id",
    )
    invoices = list(
        Invoice.objects.filter(customer_id__in=customer_ids)
        .with_lines_total()
        .values("customer_id", "pk", "number", "issued_on", "kind", "amount_paid", "lines_total")  # type: ignore[misc]
    )
    others = list(
        RefundRequest.objects.filter(Q(customer_id__in=customer_ids) | Q(invoice_id__in=invoice_ids))
        .values("pk", "customer_id", *OTHER_REQUEST_FIELDS)
    )
    abuse = _grouped(
        AbuseReport.objects.filter(customer_id__in=customer_ids).values("customer_id", "ref", "received_at"),
        "customer_id",
    )
    usage = _grouped(
        UsageRecord.objects.filter(invoice_line__invoice_id__in=invoice_ids).values(
            "invoice_line__invoice_id", "invoice_line__line_no", "at", "units"
        ),
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
        InformationRequest.objects.filter(request_id__in=request_ids).values("request_id", "requested_at", "answered_at"),
        "request_id",
    )
    incidents = _incidents_by_request(requests, lines)
    # Indexed by customer and invoice so each request looks at its own rows, not the whole chunk's.
    invoices_of: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in invoices:
        invoices_of[row["customer_id"]].append(row)
    requests_of_customer: dict[int, list[dict[str, Any]]] = defaultdict(list)
    requests_of_invoice: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for position, row in enumerate(others):
        row["position"] = position
        requests_of_customer[row["customer_id"]].append(row)
        requests_of_invoice[row["invoice_id"]].append(row)

    result = {}
    for request in requests:
        result[request.pk] = FactRows(
            lines=lines.get(request.invoice_id, []),
            chargebacks=chargebacks.get(request.invoice_id, []),
            violations=violations.get(request.customer_id, []),
            other_invoices=[
                {k: v for k, v in i.items() if k not in ("customer_id", "pk")}
                for i in invoices_of[request.customer_id]
                if i["pk"] != request.invoice_id
            ],
            other_requests=[
                {k: o[k] for k in OTHER_REQUEST_FIELDS}
                for o in _union(requests_of_customer[request.customer_id], requests_of_invoice[request.invoice_id])
                if o["pk"] != request.pk
            ],
            abuse=abuse.get(request.customer_id, []),
            usage=usage.get(request.invoice_id, []),
            incidents=incidents.get(request.pk, []),
            document_count=documents.get(request.pk, 0),
            pauses=pauses.get(request.pk, []),
        )
    return result


def _union(first: list[dict[str, Any]], second: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of both lists once each, in query order (the one-by-one query's OR keeps that order)."""
    seen = {row["pk"] for row in first}
    return sorted(first + [row for row in second if row["pk"] not in seen], key=lambda row: row["position"])


def _incidents_by_request(
    requests: Sequence[RefundRequest], lines: dict[int, list[InvoiceLine]]
) -> dict[int, list[dict[str, Any]]]:
    """SLA claims see the incidents of their plan lines' services (all, if a plan line names none);
    names compare case-insensitively, as ``evaluation.load_facts`` does. One query for the batch."""
    wanted: dict[int, set[str]] = {}
    for request in requests:
        plan = [line for line in lines.get(request.invoice_id, []) if line.category == InvoiceLine.Category.PLAN]
        if request.reason == "service_unavailability" and plan:
            wanted[request.pk] = {line.service.strip().lower() for line in plan}
    if not wanted:
        return {}
    every = set().union(*wanted.values())
    queryset = Incident.objects.all()
    if "" not in every:
        queryset = queryset.alias(service_key=Lower(Trim("service"))).filter(service_key__in=every)
    rows: list[dict[str, Any]] = [dict(row) for row in queryset.values("ref", "service", "start", "end", "cause")]
    return {
        pk: [row for row in rows if "" in services or row["service"].strip().lower() in services]
        for pk, services in wanted.items()
    }


def reevaluate_requests(
    ids: Iterable[int],
    *,
    chunk_size: int = CHUNK_SIZE,
    now: dt.datetime | None = None,
    calendar: BusinessCalendar | None = None,
) -> int:
    """Re-evaluate the open requests among ``ids``, one committed chunk at a time; returns how many.

    Each chunk: lock its rows (without the evaluation JSON), read the facts in a fixed number of
    queries, evaluate, write with one UPDATE. A request closed in the meantime is skipped, as
    ``evaluate_and_store`` leaves a decided request's snapshot alone.
    """
    calendar = calendar or evaluation.business_calendar()
    ordered = sorted(set(ids))
    done = 0
    for start in range(0, len(ordered), chunk_size):
        chunk = ordered[start:start + chunk_size]
        moment = now or timezone.now()
        with transaction.atomic():
            rows = [
                row
                for row in RefundRequest.objects.filter(pk__in=chunk)
                .order_by("pk")
                .select_for_update(of=("self",))
                .select_related("invoice", "customer", "policy_version")
                .defer("evaluation")
                if row.state in OPEN_STATES
            ]
            if not rows:
                continue
            facts = load_fact_rows(rows)
            for row in rows:
                result = evaluate(evaluation.build_facts(row, facts[row.pk], calendar=calendar), now=moment)
                snapshot = result.to_dict()
                snapshot["evaluated_at"] = moment.isoformat()
                evaluation.apply_result(row, result, snapshot, moment)
                row.updated_at = moment
            RefundRequest.objects.bulk_update(rows, [*evaluation.STORED_FIELDS, "updated_at"])
            done += len(rows)
    return done
