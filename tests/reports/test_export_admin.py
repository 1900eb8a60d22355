"""The admin export: exactly the queue's filtered and searched rows, managers only, always recorded."""

from __future__ import annotations

import csv
import hashlib
import io
from typing import Any

import pytest
import time_machine
from factories import CustomerFactory, invoice_with_plan, kolkata, make_request
from openpyxl import load_workbook
from reports.helpers import denied_request, paid_request

from januscaler_refunds.refunds.models import RefundRequest
from januscaler_refunds.reports.models import ExportRecord

URL = "/admin/reports/export/refunds/"


@pytest.fixture
def queue(a_manager: Any, a_finance: Any) -> dict[str, RefundRequest]:
    with time_machine.travel(kolkata(2026, 5, 12, 12), tick=False):
        return {
            "paid": paid_request(manager=a_manager, finance=a_finance, received_at=kolkata(2026, 5, 6)),
            "denied": denied_request(manager=a_manager, received_at=kolkata(2026, 5, 7)),
            "billing": make_request(
                reason="billing_error",
                invoice=invoice_with_plan(customer=CustomerFactory(name="Zebra Billing Ltd")),
                received_at=kolkata(2026, 5, 8),
            ),
            "other": make_request(reason="other", received_at=kolkata(2026, 5, 11)),
        }


def _csv(response: Any) -> tuple[bytes, list[dict[str, str]]]:
    body = b"".join(response.streaming_content)
    return body, list(csv.DictReader(io.StringIO(body.decode("utf-8"))))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # A bare export is every request; the queue page's export links carry the status it shows
        # (refunds.admin_filters.OpenClosedFilter), so "status=open" exports the default worklist.
        ("", {"paid", "denied", "billing", "other"}),
        ("status=open", {"billing", "other"}),
        ("status=all", {"paid", "denied", "billing", "other"}),
        ("status=closed", {"paid", "denied"}),
        ("state__exact=denied", {"denied"}),
        ("reason__exact=billing_error", {"billing"}),
        ("reason__exact=other", {"other"}),
        ("q=Zebra", {"billing"}),
        ("state__exact=submitted&reason__exact=other", {"other"}),
        ("received_at_from=2026-05-08&received_at_to=2026-05-11", {"billing", "other"}),
    ],
)
def test_export_contains_exactly_the_filtered_queue(
    client: Any, a_manager: Any, queue: dict[str, RefundRequest], query: str, expected: set[str]
) -> None:
    client.force_login(a_manager)
    response = client.get(f"{URL}?{query}&format=csv")
    assert response.status_code == 200
    _, rows = _csv(response)
    assert sorted(r["reference"] for r in rows) == sorted(queue[k].reference for k in expected)


@pytest.mark.django_db
def test_export_matches_the_changelist_for_the_same_query(client: Any, a_manager: Any, queue: Any) -> None:
    client.force_login(a_manager)
    # The queue page shows open requests unless told otherwise; its export links always carry
    # that ``status`` (tests/console/test_console_queue.py), so compare with it spelled out.
    query = "reason__exact=money_back_guarantee&q=customer&status=all"
    page = client.get(f"/admin/refunds/refundrequest/?{query}")
    shown = {r.reference for r in page.context["cl"].queryset}
    _, rows = _csv(client.get(f"{URL}?{query}&format=csv"))
    assert {r["reference"] for r in rows} == shown


@pytest.mark.django_db
def test_agent_cannot_export(client: Any, an_agent: Any, queue: Any) -> None:
    client.force_login(an_agent)
    assert client.get(f"{URL}?format=csv").status_code == 403
    assert client.get(f"{URL}?format=xlsx").status_code == 403
    assert not ExportRecord.objects.exists()


@pytest.mark.django_db
def test_csv_export_is_recorded_with_the_sha256_of_its_bytes(client: Any, a_manager: Any, queue: Any) -> None:
    client.force_login(a_manager)
    body, rows = _csv(client.get(f"{URL}?state__exact=paid&format=csv"))
    record = ExportRecord.objects.get()
    assert record.user == a_manager
    assert record.format == "csv" and record.status == "completed" and record.source == "admin"
    assert record.query_string == "state__exact=paid"
    assert record.row_count == len(rows) == 1
    assert record.sha256 == hashlib.sha256(body).hexdigest()
    assert record.size == len(body)


@pytest.mark.django_db
def test_xlsx_export_is_recorded_and_readable(client: Any, a_manager: Any, queue: Any) -> None:
    client.force_login(a_manager)
    response = client.get(f"{URL}?status=all&reason__exact=money_back_guarantee&format=xlsx")
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    sheet = load_workbook(io.BytesIO(body)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "reference" and len(rows) == 3
    record = ExportRecord.objects.get()
    assert record.format == "xlsx" and record.row_count == 2
    assert record.sha256 == hashlib.sha256(body).hexdigest()


@pytest.mark.django_db
def test_bad_format_is_refused(client: Any, a_manager: Any) -> None:
    client.force_login(a_manager)
    assert client.get(f"{URL}?format=pdf").status_code == 400
