"""The refund report produced in SQL (``reports.sql_export``, PostgreSQL) is byte for byte the report the
Python writer produces, on data chosen to break formatting; every export entry point takes that path
with its own filters."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zoneinfo
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from factories import agent, kolkata

from januscaler_refunds.billing.models import CompanyHoliday, Customer, Invoice, PolicyVersion
from januscaler_refunds.policy.calendar import KOLKATA
from januscaler_refunds.refunds.models import AccountCredit, Payout, RefundRequest
from januscaler_refunds.reports import selectors, services, sql_export
from januscaler_refunds.reports.models import ExportRecord

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

NAMES = [
    '=HYPERLINK("http://evil","x")', "+1+2", "-2+3", "@SUM(A1:A9)", "\tTabbed", "\rReturned", "\r\nBoth",
    'Acme, "Ltd"', "line one\nline two", "cr\rinside", "Zoë Ümlaut 日本語 🧾", "  spaced  ", "'quoted", "",
    "a\\b back\\slash", "trailing comma,", '"', "-", "=",
]
EMAILS = ["=cmd@example.com", "+tag@example.com", "@handle@example.com", "-x@example.com", "zoë@例え.jp"]
ZONES = ["UTC", "America/New_York", "Asia/Tokyo", "Asia/Kolkata", "Pacific/Chatham", "America/St_Johns"]
STATES = ["submitted", "under_review", "info_requested", "approved", "denied", "paid", "credited", "withdrawn"]
CODES: list[list[str]] = [
    [], ["partial_prorated_unused"], ["mbg_extensive_use", "=evil", "with, comma"], ["-starts"],
    ['has "quote"'], ["back\\slash", "x"], ["new\nline"], ["ünï", "日本"], [""], ["", "a"], ["@at"],
]


def _moment(i: int) -> dt.datetime:
    zone = zoneinfo.ZoneInfo(ZONES[i % len(ZONES)])
    base = dt.datetime(2026, 1, 1, 0, 0, 0, tzinfo=dt.UTC) + dt.timedelta(days=i * 3, hours=i * 7, minutes=i * 13)
    return base.astimezone(zone).replace(microsecond=(i * 123457) % 1_000_000)


@pytest.fixture
def awkward(db: Any) -> list[RefundRequest]:
    """Requests whose every column is awkward in some row; returned in the report's order."""
    version = PolicyVersion.objects.get()
    PolicyVersion.objects.filter(pk=version.pk).update(label='=v1, "2025"')
    CompanyHoliday.objects.create(date=dt.date(2026, 2, 3), name="Offsite")  # a Tuesday
    User = get_user_model()
    users = [None, agent("@lice"), agent("-bob"), agent("zoë")]
    customers = [
        Customer.objects.create(name=name, email=f"c{i}-" + EMAILS[i % len(EMAILS)]) if i % 5 else
        Customer.objects.create(name=name, email=EMAILS[(i // 5) % len(EMAILS)] + f".{i}")
        for i, name in enumerate(NAMES)
    ]
    requests = []
    for i in range(len(NAMES) * 3):
        customer = customers[i % len(customers)]
        invoice = Invoice.objects.create(
            number=["=INV", "+1", "INV,2", 'INV"3', "INV\n4", "Ü-5", "-6"][i % 7] + f"-{i}", customer=customer,
            issued_on=dt.date(2025, 12, 1) + dt.timedelta(days=i), payment_method="card", currency="USD",
            amount_paid=Decimal("100.00"),
        )
        state = STATES[i % len(STATES)]
        decided = state in ("approved", "denied", "paid", "credited", "withdrawn")
        received = _moment(i)
        requests.append(RefundRequest.objects.create(
            reference=f"RR-{i:05d}" if i % 4 else f"=RR-{i}", customer=customer, invoice=invoice,
            requester_email=customer.email, reason=["billing_error", "money_back_guarantee", "other"][i % 3],
            received_at=received, currency="USD", policy_version=version, state=state,
            recommendation=["approve", "", "deny", "approve_partially"][i % 4],
            requested_amount=None if i % 5 == 0 else Decimal(f"{i}.{i % 100:02d}"),
            refundable_amount=None if i % 6 == 0 else Decimal(f"-{i}.50") if i % 2 else Decimal("0.00"),
            approved_amount=Decimal("10.00") if state in ("approved", "paid", "credited") else None,
            override_reason="awkward data" if state in ("approved", "paid", "credited") else "",
            evaluation_codes=CODES[i % len(CODES)], decision_codes=CODES[(i + 3) % len(CODES)],
            review_due_at=None if i % 9 == 0 else received + dt.timedelta(days=i % 20),
            decided_at=received + dt.timedelta(days=i % 23, seconds=59, microseconds=999_999) if decided else None,
            payout_due_at=received + dt.timedelta(days=12) if state in ("approved", "paid", "credited") else None,
            settled_at=received + dt.timedelta(days=i % 17) if state in ("paid", "credited") else None,
            assignee=users[i % len(users)],
        ))
    for r in requests:
        if r.state == "paid":
            Payout.objects.create(request=r, method="card", reference="ch", amount=Decimal("10.00"), currency="USD",
                                  paid_at=r.settled_at)
        elif r.state == "credited":
            AccountCredit.objects.create(request=r, amount=Decimal("7.25"), currency="USD")
    # Moments before Kolkata's offset settled at +05:30 (1945), and one exactly on a second.
    RefundRequest.objects.filter(pk=requests[1].pk).update(received_at=dt.datetime(1944, 6, 1, 3, 4, 5, tzinfo=dt.UTC))
    RefundRequest.objects.filter(pk=requests[2].pk).update(received_at=dt.datetime(2026, 3, 1, 0, 0, tzinfo=KOLKATA))
    assert User.objects.count() >= 3
    return list(RefundRequest.objects.order_by("received_at", "id"))


def _both(queryset: Any) -> tuple[bytes, bytes]:
    python = b"".join(services.export_csv_unrecorded(queryset=queryset, engine="python"))
    sql = b"".join(services.export_csv_unrecorded(queryset=queryset, engine="sql"))
    return sql, python


def test_sql_csv_is_byte_identical_to_the_python_csv(awkward: list[RefundRequest]) -> None:
    queryset = selectors.refund_requests_filtered()
    assert services.uses_sql(queryset)
    sql, python = _both(queryset)
    assert sql == python
    text = sql.decode("utf-8")
    # The data was awkward where it should be: neutralised, quoted, multi-line, negative, far zones.
    assert '"\'=HYPERLINK(""http://evil"",""x"")"' in text
    for cell in ["'+1+2", "'@SUM(A1:A9)", ",'\tTabbed,", '"\'\rReturned"', '"line one\nline two"',
                 "Zoë Ümlaut 日本語 🧾", ",-1.50,", "+05:30", ",1944-06-01T09:34:05+06:30,", "'=v1", "'@lice", "'-bob",
                 ",'=cmd@example.com", "mbg_extensive_use;=evil;with, comma\"", ",'-starts,"]:
        assert cell in text, cell
    assert text.count("\r\n") > len(awkward)  # rows end with CRLF, some cells hold their own
    # Both line-end routes: a batch with a newline inside a cell, and batches without.
    for batch in (1, 2, 7):
        chunks = list(sql_export.csv_chunks(queryset, batch_rows=batch))
        assert b"".join(chunks) == python


def test_filtered_querysets_are_byte_identical(awkward: list[RefundRequest]) -> None:
    cases = [
        selectors.refund_requests_filtered(states=["denied", "paid"]),
        selectors.refund_requests_filtered(reasons=["other"], received_from=dt.date(2026, 1, 10)),
        selectors.refund_requests_filtered(received_from=dt.date(2026, 2, 1), received_to=dt.date(2026, 3, 31)),
        RefundRequest.objects.filter(customer__name__contains=",").order_by("-received_at", "id"),
        RefundRequest.objects.order_by("review_due_at", "received_at", "id")[3:11],
        RefundRequest.objects.filter(pk__in=[]),  # can match nothing: the header alone
    ]
    for queryset in cases:
        sql, python = _both(queryset)
        assert sql == python, str(queryset.query) if queryset.query.where else queryset
    assert _both(RefundRequest.objects.filter(pk__in=[]))[0].count(b"\r\n") == 1


def test_business_days_count_public_and_company_holidays(awkward: list[RefundRequest]) -> None:
    # 2026-01-23 (Fri) to 2026-02-03 (Tue): Jan 26 is Republic Day, Feb 3 the company's holiday.
    request = next(r for r in awkward if r.state == "denied")
    RefundRequest.objects.filter(pk=request.pk).update(received_at=kolkata(2026, 1, 23), decided_at=kolkata(2026, 2, 3, 18))
    queryset = RefundRequest.objects.filter(pk=request.pk)
    sql, python = _both(queryset)
    assert sql == python
    (row,) = csv.DictReader(io.StringIO(sql.decode(), newline=""))
    assert row["business_days_to_decision"] == "5"  # 27, 28, 29, 30 Jan and 2 Feb


def test_admin_export_with_filters_and_search_is_exactly_the_filtered_queue(
    client: Any, a_manager: Any, awkward: list[RefundRequest], settings: Any
) -> None:
    settings.EXPORT_ASYNC_THRESHOLD_ROWS = 1_000
    client.force_login(a_manager)
    target = next(r for r in awkward if r.state == "denied" and "@" in r.customer.email)
    url = f"/admin/reports/export/refunds/?status=all&state__exact=denied&q={target.customer.email}&format=csv"
    response = client.get(url)
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    expected = [r for r in awkward if r.state == "denied" and r.customer_id == target.customer_id]
    assert expected and body.count(b"\r\n") >= len(expected) + 1
    # The same changelist queryset through the Python writer gives the same bytes.
    from django.test import RequestFactory

    request = RequestFactory().get(url)
    request.user = a_manager
    queryset = selectors.queue_changelist(request).queryset
    assert services.uses_sql(queryset)
    assert b"".join(services.export_csv_unrecorded(queryset=queryset, engine="python")) == body
    assert {r.reference for r in queryset} == {r.reference for r in expected}
    record = ExportRecord.objects.latest("id")
    assert record.status == "completed" and record.row_count == len(expected)


def test_command_filters_take_the_sql_path(awkward: list[RefundRequest], tmp_path: Any) -> None:
    target = tmp_path / "r.csv"
    call_command("export_refunds", "--state", "paid", "--state", "denied", "--from", "2026-01-05", "--to", "2026-06-30",
                 "-o", str(target))
    queryset = selectors.refund_requests_filtered(
        states=["paid", "denied"], received_from=dt.date(2026, 1, 5), received_to=dt.date(2026, 6, 30)
    )
    expected = b"".join(services.export_csv_unrecorded(queryset=queryset, engine="python"))
    assert target.read_bytes() == expected
    record = ExportRecord.objects.latest("id")
    assert record.status == "completed" and record.row_count == queryset.count() > 0
    # stdout as text (call_command with a StringIO) takes the same bytes, decoded.
    out = io.StringIO()
    call_command("export_refunds", "--state", "paid", "--state", "denied", "--from", "2026-01-05",
                 "--to", "2026-06-30", stdout=out)
    assert out.getvalue().encode("utf-8") == expected


def test_queued_export_writes_the_sql_bytes_and_records_them(awkward: list[RefundRequest], a_manager: Any) -> None:
    record = services.export_record_create(user=a_manager, fmt="csv", source="admin", is_async=True,
                                           query_string="status=all&reason__exact=other")
    from januscaler_refunds.reports.tasks import run_export

    run_export(record.pk)
    record.refresh_from_db()
    queryset = selectors.queue_queryset_for(user=a_manager, query_string=record.query_string)
    expected = b"".join(services.export_csv_unrecorded(queryset=queryset, engine="python"))
    with record.file.open("rb") as f:
        assert f.read() == expected
    import hashlib

    assert record.status == "completed" and record.sha256 == hashlib.sha256(expected).hexdigest()
    assert record.row_count == queryset.count() > 0 and record.size == len(expected)


def test_an_abandoned_download_is_recorded_and_leaves_the_connection_usable(
    awkward: list[RefundRequest], a_manager: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(services, "PROGRESS_EVERY", 2)  # small batches: the COPY is still running
    record = services.export_record_create(user=a_manager, fmt="csv", source="admin")
    stream = services.export_csv_stream(record=record, queryset=selectors.refund_requests_filtered())
    first = next(stream)
    assert first.startswith(b"reference,received_at,")
    stream.close()
    record.refresh_from_db()
    assert record.status == "aborted" and 0 < record.row_count < len(awkward)
    assert RefundRequest.objects.count() == len(awkward)  # the connection still answers


def test_querysets_sql_cannot_express_take_the_python_path(awkward: list[RefundRequest]) -> None:
    queryset = RefundRequest.objects.order_by("received_at", "id").distinct()
    assert not services.uses_sql(queryset)
    record = services.export_record_create(user=None, fmt="csv", source="command")
    body = b"".join(services.export_csv_stream(record=record, queryset=queryset))
    assert body == b"".join(services.export_csv_unrecorded(queryset=queryset.order_by("received_at", "id"), engine="sql"))
    with pytest.raises(ValueError, match="engine"):
        services.uses_sql(queryset, "fast")
