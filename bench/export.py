"""Benchmark: a 1,000,000-row refund report CSV on PostgreSQL (rows/s, peak RSS).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_reports_bench .venv/bin/python bench/export.py [ROWS]

Creates the rows in the given (throw-away) database with migrate + one INSERT ... SELECT, streams the
export to /dev/null through the same code as the admin download, and prints the figures for
BENCHMARKS.md ("Exports"). Not a test; nothing it generates is committed.
"""

from __future__ import annotations

import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "januscaler_refunds.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402


def seed(rows: int) -> None:
    from decimal import Decimal

    from januscaler_refunds.billing.models import Customer, Invoice, PolicyVersion
    from januscaler_refunds.refunds.models import RefundRequest

    RefundRequest.objects.filter(reference__startswith="BENCH-").delete()
    version = PolicyVersion.objects.order_by("effective_date").first()
    customer, _ = Customer.objects.get_or_create(email="bench@example.com", defaults={"name": "Bench Ltd"})
    invoice, _ = Invoice.objects.get_or_create(
        number="BENCH-1",
        defaults={"customer": customer, "issued_on": "2026-05-01", "payment_method": "card", "currency": "USD",
                  "amount_paid": Decimal("100.00")},
    )
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO refunds_refundrequest (reference, customer_id, invoice_id, requester_email, reason, channel,
                received_at, message, requested_amount, currency, thread_message_id, state, policy_version_id,
                recommendation, refundable_amount, evaluation_codes, evaluation, review_due_at,
                review_deadline_status, payout_deadline_status, approved_amount, override_reason, decision_codes,
                decision_note, decided_at, created_at, updated_at)
            SELECT 'BENCH-' || n, %(c)s, %(i)s, 'bench@example.com',
                (ARRAY['billing_error','service_unavailability','money_back_guarantee','other'])[1 + n %% 4],
                'import', TIMESTAMPTZ '2026-05-04 10:00+05:30' + (n %% 20000) * INTERVAL '1 minute', '', 50.00,
                'USD', '', (ARRAY['submitted','under_review','approved','denied','paid'])[1 + n %% 5], %(v)s,
                'approve_partially', 100.00, '["partial_prorated_unused"]'::jsonb, '{}'::jsonb,
                TIMESTAMPTZ '2026-05-18 23:59:59+05:30', 'ok', '', CASE WHEN n %% 5 IN (2, 4) THEN 50.00 END, '',
                CASE WHEN n %% 5 = 3 THEN '["mbg_extensive_use"]'::jsonb ELSE '[]'::jsonb END, '',
                CASE WHEN n %% 5 IN (2, 3, 4) THEN TIMESTAMPTZ '2026-05-08 12:00+05:30' END, now(), now()
            FROM generate_series(1, %(rows)s) AS n
            """,
            {"c": customer.pk, "i": invoice.pk, "v": version.pk, "rows": rows},
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE refunds_refundrequest")


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    if connection.vendor != "postgresql":
        sys.exit("Run against PostgreSQL: set DATABASE_URL=postgres://...")
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    seed(rows)
    print(f"seeded {rows:,} rows in {time.perf_counter() - started:.1f} s")

    from januscaler_refunds.refunds.models import RefundRequest
    from januscaler_refunds.reports import services

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    record = services.export_record_create(user=None, fmt="csv", source="command", query_string="bench")
    queryset = RefundRequest.objects.filter(reference__startswith="BENCH-").order_by("received_at", "id")
    started = time.perf_counter()
    size = 0
    for chunk in services.export_csv_stream(record=record, queryset=queryset):
        size += len(chunk)
    elapsed = time.perf_counter() - started
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    record.refresh_from_db()
    print(f"exported {record.row_count:,} rows, {size / 1e6:.1f} MB CSV in {elapsed:.1f} s "
          f"= {record.row_count / elapsed:,.0f} rows/s")
    print(f"peak RSS {rss_after / 1024:.0f} MB (before the export {rss_before / 1024:.0f} MB)")
    RefundRequest.objects.filter(reference__startswith="BENCH-").delete()


if __name__ == "__main__":
    main()
