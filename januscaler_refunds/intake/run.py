"""One ingest run: what the command's loop, an IMAP poll or a webhook call reads once for all its messages.

Read once per run (a run is one ``ingest_mail`` invocation, one poll, one webhook call): the intake
settings, every policy version (a handful of rows; which one is in force is picked per message), the
business calendar (company holidays); the prepared read queries (``intake.prepared``) are compiled
once per process. A policy version or company holiday added while a run is going is seen by the
next run.

Per message the run reads, in at most two round trips on PostgreSQL:

1. ``lookup``: is the message known (same bytes or same Message-ID and body: a duplicate) or its
   Message-ID taken by other content, the invoice its subject names (with the customer), and, for
   a reply, the request its In-Reply-To/References/``RR-`` reference point to;
2. ``history``: that invoice's and its customer's history - the rows the policy engine reads for
   a new request on that invoice (``refunds.evaluation.FactRows``), which also say whether the
   invoice has an open request a reply belongs to.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.conf import settings
from django.db.models import Case, IntegerField, Q, Value, When
from django.db.models.functions import Lower, Trim

from januscaler_refunds.billing.models import (
    AbuseReport,
    Customer,
    Incident,
    Invoice,
    InvoiceLine,
    PolicyVersion,
    UsageRecord,
    Violation,
)
from januscaler_refunds.chargebacks.models import Chargeback
from januscaler_refunds.intake.models import InboundMessage
from januscaler_refunds.intake.parsing import ParsedMessage, normalize_invoice_number
from januscaler_refunds.intake.prepared import BoundQuery, PreparedQuery, fetch
from januscaler_refunds.policy.calendar import BusinessCalendar
from januscaler_refunds.refunds import evaluation
from januscaler_refunds.refunds.evaluation import ORDER
from januscaler_refunds.refunds.models import CustomerMessage, RefundRequest

# Marker values the prepared queries are compiled with (no real row has them).
_CUSTOMER = -1_000_000_001
_INVOICE = -1_000_000_002
_TEXT = ["\x00marker-1", "\x00marker-2", "\x00marker-3"]
_INVOICE_CANDIDATES = 3  # find_invoice's forms of a number: as read, normalised, compacted
REFERENCE_IN_SUBJECT = re.compile(r"(?<![A-Za-z0-9])RR-(\d{6,})(?![0-9])", re.IGNORECASE)

_INVOICE_FIELDS = [f.attname for f in Invoice._meta.concrete_fields]
_CUSTOMER_FIELDS = [f.attname for f in Customer._meta.concrete_fields]
# evaluation._fact_rows' columns, plus what intake decides with (id, requester_email).
_REQUEST_COLUMNS = [
    "reference", "invoice_id", "invoice__number", "reason", "state", "received_at",
    "payout__amount", "payout__currency", "payout__paid_at",
    "credit__amount", "credit__currency", "credit__created_at",
    "id", "requester_email",
]  # fmt: skip


@dataclass
class Lookup:
    """What round trip 1 found for one message."""

    duplicate_of: int | None  # an InboundMessage id with the same bytes or fingerprint
    message_id_taken: bool  # another stored message has this Message-ID
    invoice: Invoice | None
    threaded_request_id: int | None


class _Queries:
    """The prepared queries of a run, compiled on first use."""

    def __init__(self) -> None:
        same = Q(content_hash=_TEXT[0]) | Q(fingerprint=_TEXT[1])
        self.known = PreparedQuery(
            InboundMessage.objects.filter(same | Q(message_id=_TEXT[2]))
            .annotate(same=Case(When(same, then=Value(1)), default=Value(0), output_field=IntegerField()))
            .order_by("-same", "-received_at", "-id")
            .values("id", "same")[:1],
            content_hash=_TEXT[0],
            fingerprint=_TEXT[1],
            message_id=_TEXT[2],
        )
        self.invoice = PreparedQuery(
            Invoice.objects.filter(number__in=_TEXT)
            .order_by()
            .values(*_INVOICE_FIELDS, *(f"customer__{name}" for name in _CUSTOMER_FIELDS)),
            **{f"number{i}": text for i, text in enumerate(_TEXT)},
        )
        # The rows refunds.evaluation._fact_rows reads for a request on the invoice, the same querysets.
        self.history = [
            PreparedQuery(InvoiceLine.objects.filter(invoice=_INVOICE).order_by("line_no").values(*evaluation.LINE_COLUMNS),
                          invoice=_INVOICE),
            PreparedQuery(Chargeback.objects.filter(invoice=_INVOICE).order_by(*ORDER["chargebacks"]).values("ref", "received_at", "outcome"),
                          invoice=_INVOICE),
            PreparedQuery(Violation.objects.filter(customer=_CUSTOMER).order_by(*ORDER["violations"]).values("kind", "status", "opened_on"),
                          customer=_CUSTOMER),
            PreparedQuery(
                Invoice.objects.filter(customer=_CUSTOMER)
                .exclude(pk=_INVOICE)
                .order_by(*ORDER["other_invoices"])
                .with_lines_total()
                .values("number", "issued_on", "kind", "amount_paid", "lines_total"),  # type: ignore[misc]
                customer=_CUSTOMER,
                invoice=_INVOICE,
            ),
            PreparedQuery(
                RefundRequest.objects.filter(Q(customer=_CUSTOMER) | Q(invoice=_INVOICE)).order_by(*ORDER["other_requests"]).values(*_REQUEST_COLUMNS),
                customer=_CUSTOMER,
                invoice=_INVOICE,
            ),
            PreparedQuery(AbuseReport.objects.filter(customer=_CUSTOMER).order_by(*ORDER["abuse"]).values("ref", "received_at"),
                          customer=_CUSTOMER),
            PreparedQuery(
                UsageRecord.objects.filter(invoice_line__invoice=_INVOICE).order_by(*ORDER["usage"]).values(
                    "invoice_line__line_no", "at", "units"
                ),
                invoice=_INVOICE,
            ),
        ]


_COMPILED: dict[tuple[str, str], _Queries] = {}


class IngestRun:
    """Shared by every message of one run; see the module docstring. Not shared between threads."""

    def __init__(self) -> None:
        self.max_message_bytes: int = settings.INTAKE_MAX_MESSAGE_BYTES
        self.max_attachment_bytes: int = settings.MAX_DOCUMENT_BYTES
        self.max_stored_bytes: int = settings.INTAKE_MAX_STORED_BYTES

    @cached_property
    def queries(self) -> _Queries:
        # The compiled SQL depends only on the database's vendor: one compile per process, so a
        # webhook call (a run of one message) does not pay for it each time.
        from django.db import connection

        key = (connection.alias, connection.vendor)
        if key not in _COMPILED:
            _COMPILED[key] = _Queries()
        return _COMPILED[key]

    @cached_property
    def policy_versions(self) -> list[PolicyVersion]:
        return list(PolicyVersion.objects.all())

    @cached_property
    def calendar(self) -> BusinessCalendar:
        return evaluation.business_calendar()

    # --- round trip 1 -------------------------------------------------------------------------

    def lookup(self, parsed: ParsedMessage, *, content_hash: str, fingerprint: str) -> Lookup:
        queries = self.queries
        bound: list[BoundQuery] = [
            queries.known.bind(content_hash=content_hash, fingerprint=fingerprint, message_id=parsed.message_id)
        ]
        candidates: list[str] = []
        if parsed.invoice_number:
            candidates = invoice_number_forms(parsed.invoice_number)
            padded = (candidates * _INVOICE_CANDIDATES)[:_INVOICE_CANDIDATES]
            bound.append(queries.invoice.bind(**{f"number{i}": number for i, number in enumerate(padded)}))
        thread = _thread_queries(parsed)
        bound.extend(thread)
        results = fetch(bound)
        known = results[0][0] if results[0] else None
        invoice = None
        if candidates:
            by_number = {row["number"]: row for row in results[1]}
            row = next((by_number[number] for number in candidates if number in by_number), None)
            invoice = _invoice_from_row(row, queries.invoice.using) if row else None
        # Each thread query selects one column (a request id); the first that found one wins.
        threaded = next((next(iter(rows[0].values())) for rows in results[len(results) - len(thread) :] if rows), None)
        return Lookup(
            duplicate_of=known["id"] if known and known["same"] else None,
            message_id_taken=bool(known and not known["same"]),
            invoice=invoice,
            threaded_request_id=threaded,
        )

    # --- round trip 2 -------------------------------------------------------------------------

    def history(self, invoice: Invoice, *, reason: str) -> evaluation.FactRows:
        """The fact rows of a new request on ``invoice`` with ``reason`` (no documents, no pauses yet)."""
        queries = self.queries.history
        lines_rows, chargebacks, violations, other_invoices, other_requests, abuse, usage = fetch(
            [q.bind(invoice=invoice.pk, customer=invoice.customer_id) for q in queries]
        )
        lines = [tuple(row[name] for name in evaluation.LINE_COLUMNS) for row in lines_rows]
        incidents: list[Mapping[str, Any]] = []
        plan_lines = [line for line in lines if line[1] == InvoiceLine.Category.PLAN]
        if reason == "service_unavailability" and plan_lines:  # as evaluation._fact_rows
            services = {line[5].strip().lower() for line in plan_lines}
            incidents_qs = Incident.objects.all()
            if "" not in services:
                incidents_qs = incidents_qs.alias(service_key=Lower(Trim("service"))).filter(service_key__in=services)
            incidents = list(incidents_qs.order_by(*ORDER["incidents"]).values("ref", "service", "start", "end", "cause"))
        return evaluation.FactRows(
            lines=lines, chargebacks=chargebacks, violations=violations, other_invoices=other_invoices,
            other_requests=other_requests, abuse=abuse, usage=usage, incidents=incidents,
            document_count=0, pauses=[],
        )  # fmt: skip


def invoice_number_forms(number: str) -> list[str]:
    """The forms ``find_invoice`` tries, in its order: as read, normalised, compacted."""
    return list(dict.fromkeys([number, normalize_invoice_number(number), "".join(number.split()).upper()]))


def _invoice_from_row(row: dict[str, Any], using: str) -> Invoice:
    invoice = Invoice.from_db(using, _INVOICE_FIELDS, [row[name] for name in _INVOICE_FIELDS])
    customer = Customer.from_db(using, _CUSTOMER_FIELDS, [row[f"customer__{name}"] for name in _CUSTOMER_FIELDS])
    invoice.customer = customer
    return invoice


def _thread_queries(parsed: ParsedMessage) -> list[BoundQuery]:
    """``intake.services._threaded_request``'s lookups, in its order of preference, as request ids."""
    ids = list(dict.fromkeys(i for i in [parsed.in_reply_to, *reversed(parsed.references)] if i))
    queries: list[BoundQuery] = []
    if ids:
        queries += [
            PreparedQuery(
                RefundRequest.objects.filter(thread_message_id__in=ids).order_by("-received_at").values("id")[:1]
            ).bind(),
            PreparedQuery(
                CustomerMessage.objects.filter(message_id__in=ids).order_by("-created_at").values("request_id")[:1]
            ).bind(),
            PreparedQuery(
                InboundMessage.objects.filter(message_id__in=ids, request__isnull=False)
                .order_by("-received_at")
                .values("request_id")[:1]
            ).bind(),
        ]
    match = REFERENCE_IN_SUBJECT.search(parsed.subject or "")
    if match and (parsed.is_reply or ids):
        queries.append(
            PreparedQuery(RefundRequest.objects.filter(reference=f"RR-{match.group(1)}").values("id")[:1]).bind()
        )
    return queries

