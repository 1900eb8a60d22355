"""Benchmark: the review queue (every filter, a deep page, each kind of search) and the review page.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_1m .venv/bin/python bench/run.py --only review_queue

Each figure is the whole request through Django's test client as a superuser (``page_figure``:
middleware, admin, template rendering), measured ``repeats`` times; its floor is the page's most
expensive SQL statement, captured from that request and executed alone in the same run. The URLs
are taken from the data (a request under review for the searches, the last received days for the
date range, the deepest page up to 500), so the module runs against any seeded database.
"""

from __future__ import annotations

import datetime as dt

from bench.common import Figure, _client, page_figure

BASE = "/admin/refunds/refundrequest/"


def queue_urls() -> list[tuple[str, str]]:
    from django.db.models import Max

    from januscaler_refunds.policy.calendar import local_date
    from januscaler_refunds.refunds.models import RefundRequest

    under_review = RefundRequest.objects.filter(state="under_review").order_by("id").select_related("invoice", "customer")
    sample = under_review[min(1000, under_review.count() - 1)]
    page = max(1, min(500, RefundRequest.objects.open().count() // 50 - 1))
    ref, number, email = sample.reference, sample.invoice.number, sample.customer.email
    last = local_date(RefundRequest.objects.aggregate(last=Max("received_at"))["last"])
    since = last - dt.timedelta(days=3)
    # Free text: part of a name shared by a few customers ("Customer 4242" finds 4242, 42420-42429, ...).
    name = "+".join(sample.customer.name.split()[:2])[:13]
    return [
        ("queue, default page (open work)", BASE),
        ("queue, all requests", BASE + "?status=all"),
        ("queue, closed", BASE + "?status=closed"),
        (f"queue, page {page}", BASE + f"?p={page}"),
        ("queue, state=under_review", BASE + "?state__exact=under_review"),
        ("queue, state=denied", BASE + "?state__exact=denied"),
        ("queue, reason=billing_error", BASE + "?reason__exact=billing_error"),
        ("queue, recommendation=deny", BASE + "?recommendation__exact=deny"),
        ("queue, deadline=overdue", BASE + "?deadline=overdue"),
        ("queue, deadline=near", BASE + "?deadline=near"),
        ("queue, deadline=ok", BASE + "?deadline=ok"),
        ("queue, deadline=paused", BASE + "?deadline=paused"),
        ("queue, payout deadline=overdue", BASE + "?payout_deadline=overdue"),
        ("queue, assignee=unassigned", BASE + "?assignee=unassigned"),
        ("queue, assignee=mine", BASE + "?assignee=mine"),
        ("queue, payment method=crypto", BASE + "?invoice__payment_method__exact=crypto"),
        ("queue, received last 3 days", BASE + f"?received_at_from={since:%Y-%m-%d}&received_at_to={last:%Y-%m-%d}"),
        ("queue, search reference exact", BASE + f"?q={ref}"),
        ("queue, search reference prefix", BASE + f"?q={ref[:-1]}"),
        ("queue, search invoice number exact", BASE + f"?q={number}"),
        ("queue, search invoice number prefix", BASE + f"?q={number[:-1]}"),
        ("queue, search customer email exact", BASE + f"?q={email}"),
        ("queue, search customer email prefix", BASE + f"?q={email.split('@')[0]}@"),
        ("queue, search customer name (trigram)", BASE + f"?q={name}"),
    ]


def review_url() -> str:
    """A paid request's review page: the longest log, messages and documents of a request."""
    from januscaler_refunds.refunds.models import RefundRequest

    paid = RefundRequest.objects.filter(state="paid").order_by("id").values_list("pk", flat=True)
    busy = paid[min(500, paid.count() - 1)]
    return f"{BASE}{busy}/change/"


def figures(repeats: int) -> list[Figure]:
    client = _client()
    return [
        *(page_figure(client, name, url, repeats) for name, url in queue_urls()),
        page_figure(client, "review page (paid request)", review_url(), repeats),
    ]
