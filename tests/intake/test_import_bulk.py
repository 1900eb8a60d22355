"""The bulk path of import_billing (PostgreSQL): the same tables, counts and messages as row by row,
the first bad row found before anything is written, frozen invoices still refused."""

from __future__ import annotations

import io
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from factories import invoice_with_plan, make_request, manager

from januscaler_refunds.billing.models import Customer, Invoice, InvoiceLine, UsageRecord
from januscaler_refunds.intake import bulk_import
from januscaler_refunds.intake.importing import ImportFailed, import_directory
from januscaler_refunds.refunds import services
from januscaler_refunds.refunds.freeze import frozen_message

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]
EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
BULK_FILES = ("customers.csv", "invoices.csv", "invoice_lines.csv", "usage.csv")

CUSTOMERS = "email,name,status,identity_verified\n"
INVOICES = "number,customer_email,issued_on,kind,payment_method,currency,amount_paid,paid_at\n"
LINES = "invoice_number,line_no,category,description,amount,units,service,period_start,period_end\n"
USAGE = "invoice_number,line_no,at,units\n"


def write(folder: Path, **files: str) -> Path:
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / f"{name}.csv").write_text(text, encoding="utf-8")
    return folder


def billing_files(folder: Path, n: int = 40, *, variant: int = 0) -> Path:
    """A realistic small set: n customers, an invoice each, two lines each (one prepaid), usage."""
    customers, invoices, lines, usage = [CUSTOMERS], [INVOICES], [LINES], [USAGE]
    for i in range(n):
        email = f"Customer{i}@Example.com" if i % 7 == 0 else f"customer{i}@example.com"
        verified = ["", "yes", "no"][i % 3]
        customers.append(f" {email} ,Customer {i}{'+' * variant if i % 5 == 0 else ''},{'' if i % 4 else 'active'},{verified}\n")
        number = f"inv-2026-{i:05d}" if i % 6 == 0 else f"INV-2026-{i:05d}"
        paid = "" if i % 9 == 0 else f"2026-05-{1 + i % 27:02d}T10:00:00+05:30"
        amount = Decimal(100 + i) + (Decimal(variant) if i % 3 == 0 else 0)
        invoices.append(f"{number},{email.lower()},2026-05-{1 + i % 27:02d},{['initial', 'renewal', 'later_order'][i % 3]},"
                        f"{['card', 'bank_transfer', 'wallet', 'crypto'][i % 4]},{['usd', 'INR', 'EUR'][i % 3]},"
                        f"{amount:.2f},{paid}\n")
        lines.append(f"{number},1,plan,\"Plan, month {i}\",{amount:.2f},,meet,2026-05-01,2026-05-31\n")
        lines.append(f"{number},2,prepaid_api_credit,API credit,{30 + variant * (i % 2)}.00,{1000 * (1 + i % 3)},api,,\n")
        for day in range(1 + i % 3):
            usage.append(f"{number},2,2026-05-{10 + day:02d}T00:00:00+05:30,{(i * 37 + day + variant) % 500}\n")
    return write(folder, customers="".join(customers), invoices="".join(invoices),
                 invoice_lines="".join(lines), usage="".join(usage))


def snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every imported table by natural key (ids differ between runs; what they point at must not)."""
    return {
        "customers": sorted(Customer.objects.values_list(
            "email", "name", "status", "identity_verified", "other_emails", "external_id", "suspended_at",
            "suspension_reason", "suspended_by")),
        "invoices": sorted(Invoice.objects.values_list(
            "number", "customer__email", "issued_on", "kind", "payment_method", "currency", "amount_paid", "paid_at")),
        "lines": sorted(InvoiceLine.objects.values_list(
            "invoice__number", "line_no", "category", "description", "amount", "units", "service", "period_start",
            "period_end")),
        "usage": sorted(UsageRecord.objects.values_list(
            "invoice_line__invoice__number", "invoice_line__line_no", "at", "units", "customer__email", "service",
            "period_end")),
    }


def both_ways(folder: Path, prepare: Any = None) -> dict[str, Any]:
    """Import ``folder`` row by row and in bulk from the same starting point; each run rolled back."""
    outcome: dict[str, Any] = {}
    for bulk in (False, True):
        with transaction.atomic():
            if prepare is not None:
                prepare()
            try:
                reports = [(r.name, r.new, r.updated, r.skipped) for r in import_directory(folder, bulk=bulk)]
                outcome[bulk] = (reports, snapshot())
            except ImportFailed as failed:
                outcome[bulk] = [e for r in failed.reports for e in r.errors]
            transaction.set_rollback(True)
    return outcome


def test_bulk_and_row_by_row_give_the_same_tables_and_counts(tmp_path: Path) -> None:
    folder = billing_files(tmp_path / "a")
    outcome = both_ways(folder)
    reports, tables = outcome[True]
    assert reports == [("customers.csv", 40, 0, 0), ("invoices.csv", 40, 0, 0), ("invoice_lines.csv", 80, 0, 0),
                       ("usage.csv", 79, 0, 0)]
    assert outcome[True] == outcome[False]
    assert len(tables["usage"]) == 79 and all(row[4] for row in tables["usage"])


def test_a_re_import_with_changes_updates_and_skips_like_row_by_row(tmp_path: Path) -> None:
    first = billing_files(tmp_path / "first")
    changed = billing_files(tmp_path / "changed", variant=1)
    outcome = both_ways(changed, prepare=lambda: import_directory(first, bulk=False))
    reports, _ = outcome[True]
    assert outcome[True] == outcome[False]
    by_name = {name: (new, updated, skipped) for name, new, updated, skipped in reports}
    assert by_name["customers.csv"] == (0, 8, 32)  # names of every fifth changed
    assert by_name["invoices.csv"][0] == 0 and by_name["invoices.csv"][1] == 14
    assert by_name["usage.csv"][0] == 0
    again = both_ways(first, prepare=lambda: import_directory(first, bulk=False))
    assert again[True] == again[False]
    assert all(new == 0 and updated == 0 for _, new, updated, _ in again[True][0])


def test_the_examples_import_the_same_way_with_the_files_that_stay_row_by_row(tmp_path: Path) -> None:
    folder = tmp_path / "examples"
    shutil.copytree(EXAMPLES, folder)
    (folder / "chargebacks.csv").unlink()
    (folder / "refund_requests.csv").unlink()
    outcome = both_ways(folder)
    assert outcome[True] == outcome[False]
    assert [r[0] for r in outcome[True][0]][:3] == ["customers.csv", "violations.csv", "invoices.csv"]


BAD_ROWS = [
    ("customers", CUSTOMERS + "a@example.com,A,,\nnot-an-email,B,active,\n"),
    ("customers", CUSTOMERS + "a@example.com,,bogus,maybe\n"),
    ("customers", CUSTOMERS + "new@example.com,New,suspended,\n"),
    ("invoices", INVOICES + "INV-1,nobody@example.com,2026-05-04,initial,card,USD,1.00,\n"),
    ("invoices", INVOICES + "INV-1,asha@example.com,2026-13-04,bogus,card,XYZ,abc,2026-05-04T10:00:00\n"),
    ("invoices", INVOICES + "INV-1,asha@example.com,2026-05-04,initial,card,USD,-1.234,\n"),
    ("invoices", INVOICES + " ,,,initial,cheque,USD,,\n"),
    ("invoice_lines", LINES + "INV-2026-000101,3,not_a_category,Broken,abc,,,,\n"),
    ("invoice_lines", LINES + "INV-404,1,plan,Plan,1.00,,,,\n"),
    ("invoice_lines", LINES + "INV-2026-000101,3,prepaid_api_credit,,1.00,0,,2026-05-02,2026-05-01\n"),
    ("invoice_lines", LINES + "INV-2026-000101,3,plan,Plan,1.00,,,2026-05-02,2026-05-01\n"),
    ("invoice_lines", LINES + ",3,plan,Plan,1.00,,,,\n"),
    ("invoice_lines", LINES + "INV-2026-000101,,plan,Plan,1.00,,,,\n"),
    ("usage", USAGE + "INV-2026-000101,9,2026-05-05T00:00:00+05:30,1\n"),
    ("usage", USAGE + "INV-2026-000101,2,yesterday,1\n"),
    ("usage", USAGE + "INV-2026-000101,2,2026-05-05T00:00:00+05:30,\n"),
    ("usage", USAGE + "INV-2026-000101,x,2026-05-05T00:00:00+05:30,1\n"),
    # A key twice in one file: refused both ways, naming the first line.
    ("customers", CUSTOMERS + "a@example.com,A,,\nb@example.com,B,,\nA@example.com,A2,,\n"),
    ("invoices", INVOICES + "INV-9,asha@example.com,2026-05-04,initial,card,USD,1.00,\n"
                            "inv 9,asha@example.com,2026-05-04,initial,card,USD,2.00,\n"),
    ("invoice_lines", LINES + "INV-2026-000101,3,plan,Plan,1.00,,,,\nINV-2026-000101,3.0,plan,Plan,2.00,,,,\n"),
    ("usage", USAGE + "INV-2026-000101,2,2026-05-05T00:00:00+05:30,1\nINV-2026-000101,2,2026-05-04T18:30:00Z,2\n"),
]


@pytest.mark.parametrize(("name", "text"), BAD_ROWS)
def test_a_bad_row_gets_the_message_row_by_row_gives(tmp_path: Path, name: str, text: str) -> None:
    folder = tmp_path / "examples"
    shutil.copytree(EXAMPLES, folder)
    for other in ("chargebacks", "refund_requests"):
        (folder / f"{other}.csv").unlink()
    write(folder, **{name: text})
    outcome = both_ways(folder)
    assert isinstance(outcome[True], list) and outcome[True], outcome[True]
    assert outcome[True] == outcome[False]


def test_a_bad_last_row_is_reported_with_its_line_and_nothing_is_saved(tmp_path: Path) -> None:
    folder = billing_files(tmp_path / "a", n=300)
    with (folder / "usage.csv").open("a") as handle:
        handle.write("INV-2026-00001,2,2026-05-20,5\n")
    lines = len((folder / "usage.csv").read_text().splitlines())
    out = io.StringIO()
    with pytest.raises(CommandError, match="nothing was saved"):
        call_command("import_billing", str(folder), stdout=out, stderr=out)
    assert f"usage.csv, line {lines}: '2026-05-20' has no UTC offset" in out.getvalue()
    assert not Customer.objects.exists() and not Invoice.objects.exists()


def test_many_bad_rows_stop_after_the_first_ten(tmp_path: Path) -> None:
    rows = "".join(f"c{i}@example.com,C,bogus,\n" for i in range(50))
    folder = write(tmp_path / "a", customers=CUSTOMERS + rows)
    with pytest.raises(ImportFailed) as failed:
        import_directory(folder)
    errors = failed.value.reports[0].errors
    assert errors[0].startswith("customers.csv, line 2: status: 'bogus' is not one of")
    assert len(errors) == bulk_import.MAX_ERRORS + 1 and "stopped reading" in errors[-1]


def test_after_a_bad_first_row_the_rest_of_the_file_is_not_read(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(bulk_import, "LOOKAHEAD", 5)
    good = "".join(f"c{i}@example.com,C,,\n" for i in range(20))
    folder = write(tmp_path / "a", customers=CUSTOMERS + "first@example.com,F,bogus,\n" + good + "x,X,bogus,\n")
    with pytest.raises(ImportFailed) as failed:
        import_directory(folder)
    assert failed.value.reports[0].errors == [
        "customers.csv, line 2: status: 'bogus' is not one of active, suspended",
        "customers.csv: stopped reading 5 rows after the first bad row"]


def test_a_key_twice_in_a_file_is_refused_naming_both_lines(tmp_path: Path) -> None:
    folder = write(tmp_path / "a", customers=CUSTOMERS + "a@example.com,A,,\nb@example.com,B,,\nA@example.com,A2,,\n")
    with pytest.raises(ImportFailed) as failed:
        import_directory(folder)
    assert failed.value.reports[0].errors == [
        "customers.csv, line 4: the same email as line 2 (each key once per file)"]


def test_an_unreadable_row_is_reported(tmp_path: Path) -> None:
    folder = write(tmp_path / "a", customers=CUSTOMERS + "a@example.com,A,,,extra\n")
    with pytest.raises(ImportFailed) as failed:
        import_directory(folder)
    assert failed.value.reports[0].errors == ["customers.csv: unreadable CSV: line 2 has 5 columns, the header 4"]


def test_a_frozen_invoice_and_its_lines_are_refused_in_bulk_with_the_same_message(tmp_path: Path) -> None:
    invoice = invoice_with_plan(Decimal("100.00"), payment_method="crypto")
    request = make_request(invoice=invoice)
    approver = manager("approver")
    services.refund_request_start_review(request=request, actor=approver)
    services.refund_request_approve(request=request, actor=approver, amount=Decimal("50.00"))
    request.refresh_from_db()
    customer = invoice.customer
    same = (f"{invoice.number},{customer.email},{invoice.issued_on:%Y-%m-%d},{invoice.kind},{invoice.payment_method},"
            f"{invoice.currency},{invoice.amount_paid},{'' if invoice.paid_at is None else invoice.paid_at.isoformat()}\n")
    folder = write(tmp_path / "same", invoices=INVOICES + same)
    assert [(r.new, r.updated, r.skipped) for r in import_directory(folder)] == [(0, 0, 1)]  # unchanged: allowed
    message = frozen_message(invoice.number, request.reference)
    card = same.replace(",crypto,", ",card,")
    for files in ({"invoices": INVOICES + card},
                  {"invoice_lines": LINES + f"{invoice.number},9,setup,Setup,5.00,,,,\n"}):
        folder = write(tmp_path / next(iter(files)), **files)
        outcome = both_ways(folder)
        assert outcome[True] == outcome[False] == [f"{next(iter(files))}.csv, line 2: {message}"]
    invoice.refresh_from_db()
    assert invoice.payment_method == "crypto" and invoice.lines.count() == 1


def test_open_requests_are_evaluated_again_when_their_facts_change(tmp_path: Path) -> None:
    import datetime as dt

    from januscaler_refunds.refunds.models import RefundRequest

    invoice, other = invoice_with_plan(Decimal("100.00")), invoice_with_plan(Decimal("100.00"))
    requests = [make_request(invoice=invoice), make_request(invoice=other)]
    long_ago = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    RefundRequest.objects.filter(pk__in=[r.pk for r in requests]).update(evaluated_at=long_ago)
    folder = write(tmp_path / "a", invoice_lines=LINES + f"{invoice.number},7,setup,Setup fee,5.00,,,,\n")
    import_directory(folder)
    touched, untouched = (RefundRequest.objects.get(pk=r.pk) for r in requests)
    assert touched.evaluated_at is not None and touched.evaluated_at > long_ago
    assert untouched.evaluated_at == long_ago


def test_dry_run_in_bulk_counts_and_saves_nothing(tmp_path: Path) -> None:
    folder = billing_files(tmp_path / "a", n=5)
    out = io.StringIO()
    call_command("import_billing", str(folder), "--dry-run", stdout=out)
    assert "customers.csv: 5 new, 0 updated, 0 skipped (ok)" in out.getvalue()
    assert "usage.csv: " in out.getvalue() and "nothing was saved" in out.getvalue()
    assert not Customer.objects.exists()
    with connection.cursor() as cursor:  # the staging tables went with the rollback
        cursor.execute("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'import_stage_%'")
        assert cursor.fetchone() == (0,)
