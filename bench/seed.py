"""Seed a throw-away PostgreSQL database with N refund requests and their history, in SQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_1m .venv/bin/python bench/seed.py [N]

Default N is 1,000,000. Distributions per N requests (shares follow issue 14):
  customers N/10 (each with about ten invoices and ten requests), invoices N, lines ~2.5 N,
  transition log rows ~2.71 N, customer messages ~1.5 N, documents 0.3 N, 200 incidents, 20 agents;
  40 % of requests open (15 % submitted, 20 % under review, 5 % information requested), received
  in the last 15 days; the rest decided over three years.

Every row is made by ``INSERT ... SELECT generate_series`` (no Python loop over rows). Rows fall into
20 *shapes* (``n % 20``: reason, invoice kind, payment method, lines, amounts, days between invoice
and request). The evaluation is real: the policy engine runs through ``refunds.evaluation`` on one
sample request of each shape, and its JSON, recommendation, refundable amount and codes are copied
to every request of that shape (identity and absolute dates inside the JSON are the sample's).

The database must hold nothing but migrations' reference data: the seeded tables are truncated.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "januscaler_refunds.settings")

SEEDED_TABLES = [
    "refunds_transitionlog",
    "refunds_customermessage",
    "refunds_refunddocument",
    "refunds_internalnote",
    "refunds_informationrequest",
    "refunds_payout",
    "refunds_accountcredit",
    "refunds_refundrequest",
    "billing_usagerecord",
    "billing_invoiceline",
    "billing_invoice",
    "billing_incident",
    "billing_customer",
]
SHAPES = 20
SERVICES = ["Compute", "Storage", "Inference API", "Vector DB", "CDN"]

# Per shape (n % 20): reason, invoice kind, payment method, amount paid, days from invoice to request.
SHAPE_SQL = """
    CREATE TEMP TABLE bench_shape AS
    SELECT s AS shape,
        CASE WHEN s < 7 THEN 'money_back_guarantee' WHEN s < 13 THEN 'billing_error'
             WHEN s < 17 THEN 'service_unavailability' ELSE 'other' END AS reason,
        (ARRAY['initial','renewal','later_order','initial','initial'])[1 + s %% 5] AS kind,
        (ARRAY['card','card','bank_transfer','wallet','crypto','card','card','bank_transfer','card','other'])[1 + s %% 10]
            AS payment_method,
        (ARRAY['USD','INR','EUR','USD','GBP','INR','USD'])[1 + s %% 7] AS currency,
        (49 + s * 37.5)::numeric(14,2) AS amount_paid,
        1 + (s * 3) %% 19 AS age_days,
        CASE WHEN s %% 3 = 0 THEN NULL ELSE (10 + s * 4.25)::numeric(14,2) END AS requested
    FROM generate_series(0, %(shapes)s - 1) AS s
"""

STATE_SQL = """
    CASE WHEN k < 15 THEN 'submitted' WHEN k < 35 THEN 'under_review' WHEN k < 40 THEN 'info_requested'
         WHEN k < 45 THEN 'approved' WHEN k < 65 THEN 'denied' WHEN k < 90 THEN 'paid'
         WHEN k < 93 THEN 'credited' ELSE 'withdrawn' END
"""


REQUESTS_SQL = """
            INSERT INTO refunds_refundrequest (id, reference, customer_id, invoice_id, requester_email, reason, channel,
                received_at, message, requested_amount, currency, thread_message_id, state, policy_version_id,
                assignee_id, recommendation, refundable_amount, evaluation_codes, evaluation, evaluated_at,
                review_due_at, review_deadline_status, payout_due_at, payout_deadline_status, approved_amount,
                override_reason, decision_codes, decision_note, decided_at, settled_at, created_at, updated_at,
                decided_payment_method)
            SELECT r.n, 'RR-' || lpad(r.n::text, 8, '0'), r.customer_id, r.n,
                'customer' || r.customer_id || '@example' || (r.customer_id %% 97) || '.com', s.reason,
                CASE WHEN r.n %% 2 = 0 THEN 'email' WHEN r.n %% 5 = 1 THEN 'import' ELSE 'admin' END,
                r.received_at, 'Please refund invoice INV-' || lpad(r.n::text, 8, '0') || '; reason ' || s.reason,
                s.requested, s.currency, CASE WHEN r.n %% 2 = 0 THEN '<req-' || r.n || '@mail.example.com>' ELSE '' END,
                r.state, %(v)s,
                CASE WHEN r.state IN ('under_review', 'info_requested') OR r.k %% 3 = 0
                     THEN (%(agents)s::int[])[1 + r.n %% 20] END,
                coalesce(e.recommendation, ''), e.refundable, coalesce(e.codes, '[]'::jsonb),
                coalesce(e.evaluation, '{}'::jsonb), CASE WHEN e.shape IS NOT NULL THEN r.received_at END,
                r.received_at + interval '14 days', '',
                CASE WHEN r.state = 'approved' THEN r.received_at + interval '20 days' END, '',
                CASE WHEN r.state IN ('approved', 'paid', 'credited') THEN least(coalesce(e.refundable, 0), coalesce(s.requested, e.refundable, 0)) END,
                '', CASE WHEN r.state = 'denied' THEN '["mbg_outside_window"]'::jsonb ELSE '[]'::jsonb END,
                CASE WHEN r.state = 'denied' THEN 'Outside the guarantee window.' ELSE '' END,
                CASE WHEN r.state IN ('approved', 'denied', 'paid', 'credited') THEN r.received_at + interval '3 days' END,
                CASE WHEN r.state IN ('paid', 'credited') THEN r.received_at + interval '8 days' END,
                r.received_at, r.received_at + interval '8 days',
                ''  -- the decision's snapshot of the invoice's method (refunds 0005); Django's default
            FROM bench_req r JOIN bench_shape s USING (shape) LEFT JOIN bench_eval e USING (shape)
    WHERE r.n BETWEEN %(first)s AND %(last)s
"""


def _exec(cursor: object, sql: str, params: dict[str, object] | None = None, label: str = "") -> None:
    started = time.perf_counter()
    cursor.execute(sql, params or {})  # type: ignore[attr-defined]
    if label:
        print(f"  {label}: {time.perf_counter() - started:.1f} s", flush=True)


def seed(n: int, *, verbose: bool = True) -> dict[str, int]:
    """Seed ``n`` requests into the default database (PostgreSQL); returns the row counts."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from januscaler_refunds.billing.models import PolicyVersion

    if connection.vendor != "postgresql":
        raise RuntimeError("bench.seed needs PostgreSQL (COPY / INSERT ... SELECT)")
    version = PolicyVersion.objects.order_by("effective_date").first()
    if version is None:
        raise RuntimeError("no policy version: run migrations first")
    customers = max(n // 10, 1)
    p = {"n": n, "c": customers, "v": version.pk, "shapes": SHAPES}
    User = get_user_model()
    agents = []
    for i in range(20):
        user, _ = User.objects.get_or_create(username=f"bench-agent-{i:02d}", defaults={"is_staff": True})
        agents.append(user.pk)
    p["agents"] = agents
    lbl = (lambda s: s) if verbose else (lambda s: "")
    with transaction.atomic(), connection.cursor() as cur:
        # The rows are generated consistent; skipping the per-row FK triggers makes the load several
        # times faster (superuser only, this transaction only).
        cur.execute("SET LOCAL session_replication_role = replica")
        cur.execute("TRUNCATE " + ", ".join(SEEDED_TABLES) + " RESTART IDENTITY CASCADE")
        cur.execute(SHAPE_SQL, p)
        _exec(cur, """
            INSERT INTO billing_customer (id, email, name, other_emails, external_id, status, suspension_reason,
                suspended_by, identity_verified, created_at)
            SELECT c, 'customer' || c || '@example' || (c %% 97) || '.com', 'Customer ' || c || ' Ltd',
                CASE WHEN c %% 10 = 0 THEN jsonb_build_array('billing' || c || '@example.net') ELSE '[]'::jsonb END,
                'EXT-' || c, CASE WHEN c %% 500 = 0 THEN 'suspended' ELSE 'active' END, '', '',
                CASE WHEN c %% 7 = 0 THEN true END, now() - interval '4 years'
            FROM generate_series(1, %(c)s) AS c""", p, lbl("customers"))
        # Request n is about invoice n; both take their dates from the request's received_at.
        _exec(cur, """
            CREATE TEMP TABLE bench_req AS
            SELECT *, CASE WHEN state IN ('submitted', 'under_review', 'info_requested')
                THEN now() - ((n::bigint * 13) %% (15 * 1440)) * interval '1 minute'
                ELSE now() - interval '15 days' - ((n::bigint * 7) %% (3 * 365 * 1440)) * interval '1 minute'
                END AS received_at
            FROM (SELECT *, """ + STATE_SQL + """ AS state FROM (
                SELECT n, n %% %(shapes)s AS shape, (n / %(shapes)s) %% 100 AS k,
                    1 + (n::bigint * 7919) %% %(c)s AS customer_id
                FROM generate_series(1, %(n)s) AS n) AS a) AS b""", p, lbl("request plan"))
        cur.execute("ANALYZE bench_req")
        _exec(cur, """
            INSERT INTO billing_invoice (id, number, customer_id, issued_on, kind, payment_method, currency,
                amount_paid, paid_at)
            SELECT r.n, 'INV-' || lpad(r.n::text, 8, '0'), r.customer_id,
                ((r.received_at AT TIME ZONE 'Asia/Kolkata') - s.age_days * interval '1 day')::date,
                s.kind, s.payment_method, s.currency, s.amount_paid, r.received_at - s.age_days * interval '1 day'
            FROM bench_req r JOIN bench_shape s USING (shape)""", p, lbl("invoices"))
        # 2 or 3 lines (2.5 on average): the plan, then usage or prepaid credit, then a setup fee.
        _exec(cur, """
            INSERT INTO billing_invoiceline (invoice_id, line_no, category, description, amount, units, service,
                period_start, period_end)
            SELECT i.id, l,
                CASE l WHEN 1 THEN 'plan' WHEN 2 THEN CASE WHEN i.id %% 4 = 0 THEN 'prepaid_api_credit' ELSE 'usage_fee' END
                       ELSE 'setup' END,
                CASE l WHEN 1 THEN 'Plan ' || (ARRAY['Starter','Growth','Scale'])[1 + i.id %% 3]
                       WHEN 2 THEN 'Usage' ELSE 'Setup' END,
                round(i.amount_paid * CASE l WHEN 1 THEN 0.6 WHEN 2 THEN 0.3 ELSE 0.1 END, 2),
                CASE WHEN l = 2 AND i.id %% 4 = 0 THEN 100000 END,
                CASE WHEN l = 3 THEN '' ELSE (ARRAY['Compute','Storage','Inference API','Vector DB','CDN'])[1 + i.id %% 5] END,
                CASE WHEN l = 1 THEN i.issued_on END, CASE WHEN l = 1 THEN i.issued_on + 30 END
            FROM billing_invoice i CROSS JOIN generate_series(1, 3) AS l
            WHERE l < 3 OR i.id %% 2 = 0""", p, lbl("invoice lines"))
        _exec(cur, """
            INSERT INTO billing_incident (ref, service, start, "end", cause, description)
            SELECT 'INC-' || i, (ARRAY['Compute','Storage','Inference API','Vector DB','CDN'])[1 + i %% 5],
                now() - i * interval '5 days', now() - i * interval '5 days' + (1 + i %% 9) * interval '1 hour',
                (ARRAY['januscaler','januscaler','third_party','force_majeure'])[1 + i %% 4], 'Seeded incident'
            FROM generate_series(1, 200) AS i""", p, lbl("incidents"))
        cur.execute("CREATE TEMP TABLE bench_eval (shape int, evaluation jsonb, recommendation text,"
                    " refundable numeric, codes jsonb)")
        cur.execute(REQUESTS_SQL, {**p, "first": 1, "last": SHAPES})
        _evaluate_shapes(cur, verbose=verbose)
        _exec(cur, REQUESTS_SQL, {**p, "first": SHAPES + 1, "last": n}, lbl("requests"))
        cur.execute("""
            UPDATE refunds_refundrequest r SET evaluation = e.evaluation, recommendation = e.recommendation,
                refundable_amount = e.refundable, evaluation_codes = e.codes, evaluated_at = r.received_at
            FROM bench_eval e WHERE r.id <= %(shapes)s AND e.shape = r.id %% %(shapes)s""", p)
        cur.execute("ANALYZE billing_customer, billing_invoice, billing_invoiceline, refunds_refundrequest")
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET LOCAL session_replication_role = replica")
        # The log: created (all), start_review (all but submitted), request_information, the decision,
        # the settlement. 2.71 rows per request on average.
        _exec(cur, """
            INSERT INTO refunds_transitionlog (request_id, at, actor_id, actor_label, transition, from_state, to_state, note)
            SELECT r.id, r.received_at + t.step * interval '1 day', CASE WHEN t.step = 0 THEN NULL ELSE r.assignee_id END,
                CASE WHEN t.step = 0 THEN 'system' ELSE 'bench-agent-' || lpad((r.id %% 20)::text, 2, '0') END,
                t.name, t.src, t.dst, ''
            FROM refunds_refundrequest r
            JOIN (VALUES
                (0, 'create', '', 'submitted', ARRAY['submitted','under_review','info_requested','approved','denied','paid','credited','withdrawn']),
                (1, 'start_review', 'submitted', 'under_review', ARRAY['under_review','info_requested','approved','denied','paid','credited']),
                (1, 'withdraw', 'submitted', 'withdrawn', ARRAY['withdrawn']),
                (2, 'request_information', 'under_review', 'info_requested', ARRAY['info_requested']),
                (2, 'approve', 'under_review', 'approved', ARRAY['approved','paid','credited']),
                (2, 'deny', 'under_review', 'denied', ARRAY['denied']),
                (5, 'mark_paid', 'approved', 'paid', ARRAY['paid']),
                (5, 'mark_credited', 'approved', 'credited', ARRAY['credited'])
            ) AS t(step, name, src, dst, states) ON r.state = ANY(t.states)""", p, lbl("transition log"))
        _exec(cur, """
            INSERT INTO refunds_customermessage (request_id, direction, kind, to_email, subject, body, message_id, status,
                attempts, last_error, created_at, sent_at)
            SELECT r.id, 'out', 'acknowledgement', r.requester_email, 'We received your refund request ' || r.reference,
                'Dear customer, we received your request ' || r.reference || ' about invoice INV-'
                    || lpad(r.id::text, 8, '0') || '. We decide within 10 business days.',
                '<ack-' || r.id || '@refunds.example.com>', 'sent', 1, '', r.received_at, r.received_at
            FROM refunds_refundrequest r
            UNION ALL
            SELECT r.id, 'in', 'request', '', 'Refund for INV-' || lpad(r.id::text, 8, '0'), r.message,
                r.thread_message_id, 'received', 0, '', r.received_at, NULL
            FROM refunds_refundrequest r WHERE r.channel = 'email'""", p, lbl("messages"))
        _exec(cur, """
            INSERT INTO refunds_refunddocument (request_id, file, name, content_type, size, sha256, source, uploaded_at)
            SELECT r.id, 'documents/' || r.reference || '/' || substr(md5(r.id::text), 1, 12) || '-invoice.pdf',
                'invoice.pdf', 'application/pdf', 20000 + r.id %% 50000, md5(r.id::text) || md5(r.reference),
                CASE WHEN r.channel = 'email' THEN 'email' ELSE 'admin' END, r.received_at
            FROM refunds_refundrequest r WHERE r.id %% 10 < 3""", p, lbl("documents"))
        for table, seq_col in (("billing_customer", "id"), ("billing_invoice", "id"), ("refunds_refundrequest", "id")):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{seq_col}'), (SELECT max(id) FROM {table}))")
        cur.execute("ANALYZE")
        counts = {}
        for table in SEEDED_TABLES:
            cur.execute(f"SELECT count(*) FROM {table}")
            counts[table] = cur.fetchone()[0]
    # The rows were loaded with triggers off (replica role): the dashboard's day figures, kept by
    # triggers in normal operation, are recomputed from the seeded requests once.
    from januscaler_refunds.reports import aggregates

    started = time.perf_counter()
    aggregates.rebuild()
    if verbose:
        print(f"  day figures rebuilt: {time.perf_counter() - started:.1f} s")
    return counts


def _evaluate_shapes(cur: Any, *, verbose: bool) -> None:
    """Run the real engine on one request per shape (ids 1..20); keep its result in ``bench_eval``."""
    import json

    from januscaler_refunds.refunds import evaluation
    from januscaler_refunds.refunds.models import RefundRequest

    started = time.perf_counter()
    calendar = evaluation.business_calendar()
    rows = []
    samples = RefundRequest.objects.select_related("invoice", "customer", "policy_version").filter(pk__lte=SHAPES)
    for sample in samples:
        result = evaluation.run_evaluation(sample, calendar=calendar)
        snapshot = result.to_dict()
        rows.append((sample.pk % SHAPES, json.dumps(snapshot), result.recommendation, result.refundable_amount,
                     json.dumps(snapshot["codes"])))
    cur.executemany("INSERT INTO bench_eval VALUES (%s, %s, %s, %s, %s)", rows)
    cur.execute("SELECT avg(length(evaluation::text))::int FROM bench_eval")
    size = cur.fetchone()[0]
    if verbose:
        print(f"  evaluations: the engine on {len(rows)} shapes, ~{size} bytes of JSON each: "
              f"{time.perf_counter() - started:.1f} s", flush=True)


def main() -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    if connection.vendor != "postgresql":
        sys.exit("Run against PostgreSQL: set DATABASE_URL=postgres://...")
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    counts = seed(n)
    print(f"seeded in {time.perf_counter() - started:.0f} s:", ", ".join(f"{t} {c:,}" for t, c in counts.items()))
    with connection.cursor() as cur:
        cur.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        print("database size", cur.fetchone()[0])


if __name__ == "__main__":
    main()
