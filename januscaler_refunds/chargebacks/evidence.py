"""The evidence pack for a dispute (section 6.2): a ZIP built on demand, never stored.

Files (``EVIDENCE_FILES``; ``manifest.json`` lists each with its SHA-256 and row count):
summary.html, invoice.html, invoice_lines.csv, usage.csv, policy/parameters.json,
policy/refund_policy.txt, communications.csv, refund_requests.csv, refund_request_log.csv.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import zipfile
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from januscaler_refunds.billing.models import InvoiceLine, PolicyVersion, UsageRecord
from januscaler_refunds.chargebacks import selectors
from januscaler_refunds.chargebacks.models import Dispute
from januscaler_refunds.formatting import plain
from januscaler_refunds.policy.calendar import end_of_day, start_of_day
from januscaler_refunds.refunds.models import CustomerMessage, RefundRequest, TransitionLog
from januscaler_refunds.reports.services import csv_cell

EVIDENCE_FILES = (
    "summary.html",
    "invoice.html",
    "invoice_lines.csv",
    "usage.csv",
    "policy/parameters.json",
    "policy/refund_policy.txt",
    "communications.csv",
    "refund_requests.csv",
    "refund_request_log.csv",
    "manifest.json",
)


def _csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> tuple[bytes, int]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    count = 0
    for row in rows:
        # Text cells are formula-neutralised exactly as in the refund report (a customer's message
        # or an invoice description starting with "=" must not run in the network's spreadsheet).
        writer.writerow(["" if v is None else (v.isoformat() if isinstance(v, dt.date) else csv_cell(v)) for v in row])
        count += 1
    return out.getvalue().encode(), count


def _usage(invoice_id: int, customer_id: int, lines: list[InvoiceLine]) -> list[UsageRecord]:
    """Usage booked on the invoice's lines, plus the customer's usage within the billed period."""
    starts = [line.period_start for line in lines if line.period_start]
    ends = [line.period_end for line in lines if line.period_end]
    in_period = Q(invoice_line__invoice_id=invoice_id)
    if starts and ends:
        in_period |= Q(customer_id=customer_id, at__gte=start_of_day(min(starts)), at__lte=end_of_day(max(ends)))
    return list(UsageRecord.objects.filter(in_period).select_related("invoice_line").order_by("at", "id"))


def policy_parameters(version: PolicyVersion | None) -> dict[str, Any]:
    if version is None:
        return {}
    fields = ["label", "effective_date", "announced_on", "material_change", "summary", "mbg_window_days",
              "claim_window_days", "review_business_days", "payout_business_days", "near_deadline_business_days",
              "pause_clock_on_info_request", "extensive_use_ratio", "sla_credit_table"]
    return {name: getattr(version, name) for name in fields}


def dispute_evidence_pack(dispute: Dispute) -> bytes:
    """Build the ZIP for one dispute: everything the network needs to judge the chargeback."""
    dispute = Dispute.objects.select_related("chargeback__invoice__customer").get(pk=dispute.pk)
    chargeback = dispute.chargeback
    invoice = chargeback.invoice
    customer = invoice.customer
    lines = list(InvoiceLine.objects.filter(invoice=invoice).order_by("line_no"))
    usage = _usage(invoice.pk, customer.pk, lines)
    # The terms the customer accepted: the version in force when the invoice was issued.
    version = selectors.policy_version_in_force(invoice.issued_on)
    requests = list(RefundRequest.objects.filter(Q(invoice=invoice) | Q(customer=customer)).select_related("invoice").order_by("received_at", "id"))
    log = list(TransitionLog.objects.filter(request__in=requests).select_related("request").order_by("at", "id"))
    messages = list(CustomerMessage.objects.filter(request__in=requests).select_related("request").order_by("created_at", "id"))
    generated_at = timezone.now()

    files: dict[str, bytes] = {}
    counts: dict[str, int] = {}

    files["invoice_lines.csv"], counts["invoice_lines.csv"] = _csv(
        ["invoice_number", "line_no", "category", "description", "amount", "currency", "units", "service",
         "period_start", "period_end"],
        ([invoice.number, li.line_no, li.category, li.description, plain(li.amount, invoice.currency), invoice.currency, li.units,
          li.service, li.period_start, li.period_end] for li in lines),
    )
    files["usage.csv"], counts["usage.csv"] = _csv(
        ["at", "period_end", "units", "service", "invoice_number", "line_no"],
        ([timezone.localtime(u.at), u.period_end and timezone.localtime(u.period_end), u.units, u.service,
          u.invoice_line.invoice.number if u.invoice_line else "", u.invoice_line.line_no if u.invoice_line else ""]
         for u in usage),
    )
    files["policy/parameters.json"] = json.dumps(policy_parameters(version), cls=DjangoJSONEncoder, indent=2).encode()
    files["policy/refund_policy.txt"] = render_to_string(
        "chargebacks/refund_policy.txt", {"version": version}
    ).encode()
    files["communications.csv"], counts["communications.csv"] = _csv(
        ["request", "at", "direction", "kind", "to_email", "subject", "status", "sent_at", "body"],
        ([m.request.reference, timezone.localtime(m.created_at), m.direction, m.kind, m.to_email, m.subject,
          m.status, m.sent_at and timezone.localtime(m.sent_at), m.body] for m in messages),
    )
    files["refund_requests.csv"], counts["refund_requests.csv"] = _csv(
        ["reference", "invoice_number", "received_at", "reason", "state", "requested_amount", "currency",
         "recommendation", "reason_codes", "decided_at", "approved_amount", "message"],
        ([r.reference, r.invoice.number, timezone.localtime(r.received_at),
          r.reason, r.state, r.requested_amount, r.currency, r.recommendation, ";".join(r.evaluation_codes or []),
          r.decided_at and timezone.localtime(r.decided_at), r.approved_amount, r.message] for r in requests),
    )
    files["refund_request_log.csv"], counts["refund_request_log.csv"] = _csv(
        ["request", "at", "transition", "from_state", "to_state", "actor", "note"],
        ([t.request.reference, timezone.localtime(t.at), t.transition, t.from_state, t.to_state, t.actor_label,
          t.note] for t in log),
    )
    context = {
        "dispute": dispute,
        "chargeback": chargeback,
        "invoice": invoice,
        "customer": customer,
        "lines": lines,
        "lines_total": sum((li.amount for li in lines), start=Decimal("0.00")),
        "version": version,
        "requests": requests,
        "earlier_requests": [r for r in requests if r.invoice_id == invoice.pk and r.received_at < chargeback.received_at],
        "usage_units": sum(u.units for u in usage),
        "message_count": len(messages),
        "counts": counts,
        "files": [name for name in EVIDENCE_FILES if name != "manifest.json"],
        "generated_at": generated_at,
        "balance": selectors.customer_balance(customer),
    }
    files["invoice.html"] = render_to_string("chargebacks/evidence_invoice.html", context).encode()
    files["summary.html"] = render_to_string("chargebacks/evidence_summary.html", context).encode()

    manifest = {
        "chargeback": chargeback.ref,
        "generated_at": generated_at,
        "files": [
            {"name": name, "sha256": hashlib.sha256(files[name]).hexdigest(), "bytes": len(files[name]),
             "rows": counts.get(name)}
            for name in EVIDENCE_FILES if name != "manifest.json"
        ],
    }
    files["manifest.json"] = json.dumps(manifest, cls=DjangoJSONEncoder, indent=2).encode()

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in EVIDENCE_FILES:
            archive.writestr(f"{chargeback.ref}/{name}", files[name])
    return buffer.getvalue()


def evidence_pack_filename(dispute: Dispute) -> str:
    return f"evidence-{dispute.chargeback.ref}.zip"
