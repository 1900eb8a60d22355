"""Imports obey the console's rules (issue 12, findings 2 and 3; docs/access.md).

History rows go through the services' guards or are refused row by row with line and reason, and
nothing is half-imported. References: imported ones live outside the generator's ``RR-`` namespace,
and the next generated reference comes from a database sequence, never from the last row.
"""

from __future__ import annotations

import io
import re
from decimal import Decimal
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest
import tablib
from django.core.management import CommandError, call_command
from factories import InvoiceLineFactory, invoice_with_plan, kolkata, make_request, manager

from januscaler_refunds.billing.models import Invoice
from januscaler_refunds.intake import services as intake
from januscaler_refunds.intake.resources import RefundRequestResource
from januscaler_refunds.refunds.models import Payout, RefundRequest

pytestmark = pytest.mark.django_db

HEADER = ("reference,invoice_number,customer_email,reason,received_at,requested_amount,currency,message,documents,"
          "state,decided_at,approved_amount,paid_amount")


def csv_row(invoice, *, state="paid", approved="10.00", paid="10.00", reference="", extra=""):  # type: ignore[no-untyped-def]
    return (f"{reference},{invoice.number},{invoice.customer.email},money_back_guarantee,2026-05-06T10:00:00+05:30,"
            f"10.00,{invoice.currency},history,,{state},2026-05-08T10:00:00+05:30,{approved},{paid}{extra}")


def admin_import(text: str, user):  # type: ignore[no-untyped-def]
    """What the admin's import does: the resource with the importing user, rolled back on any bad row."""
    dataset = tablib.Dataset().load(text, format="csv")
    return RefundRequestResource().import_data(dataset, dry_run=False, use_transactions=True,
                                               rollback_on_validation_errors=True, user=user)


def row_errors(result) -> list[str]:  # type: ignore[no-untyped-def]
    messages = [" ".join(map(str, e.messages)) for row in result.invalid_rows for e in [row.error]]
    messages += [str(e.error) for _, errors in result.row_errors() for e in errors]
    return messages


def cli_import(tmp_path: Path, text: str) -> str:
    (tmp_path / "refund_requests.csv").write_text(text)
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_billing", str(tmp_path), stdout=out, stderr=out)
    return out.getvalue()


# --- finding 2: history import skips every money rule -------------------------------------------


def test_a_manager_cannot_import_a_paid_request_with_a_payout_above_the_approved_amount() -> None:
    invoice = invoice_with_plan(Decimal("100.00"), currency="INR")
    result = admin_import(f"{HEADER}\n{csv_row(invoice, approved='10.00', paid='99999.00')}\n", manager())
    assert result.has_validation_errors() or result.has_errors()
    assert not RefundRequest.objects.exists() and not Payout.objects.exists()


def test_an_importing_user_cannot_approve_and_pay_the_same_request() -> None:
    invoice = invoice_with_plan(Decimal("100.00"))
    result = admin_import(f"{HEADER}\n{csv_row(invoice, approved='10.00', paid='10.00')}\n", manager())
    assert any("both approve and settle" in m for m in row_errors(result)), row_errors(result)
    assert not RefundRequest.objects.exists()


def test_the_importer_may_import_an_approved_request_and_is_recorded_as_its_approver() -> None:
    importer = manager()
    invoice = invoice_with_plan(Decimal("100.00"))
    result = admin_import(f"{HEADER}\n{csv_row(invoice, state='approved', approved='10.00', paid='')}\n", importer)
    assert not result.has_validation_errors() and not result.has_errors(), row_errors(result)
    request = RefundRequest.objects.get()
    assert request.state == "approved" and request.decided_by == importer
    assert request.decided_payment_method == "card" and request.decided_amount_paid == Decimal("100.00")


def test_the_cli_refuses_an_approved_amount_above_what_the_invoice_paid_naming_line_and_rule(tmp_path: Path) -> None:
    invoice = invoice_with_plan(Decimal("10.00"))
    out = cli_import(tmp_path, f"{HEADER}\n{csv_row(invoice, state='approved', approved='9999999.00', paid='')}\n")
    assert "refund_requests.csv, line 2" in out
    assert "refundable amount" in out or "paid on invoice" in out
    assert not RefundRequest.objects.exists()


def test_the_cli_refuses_a_crypto_invoice_imported_as_paid(tmp_path: Path) -> None:
    invoice = invoice_with_plan(Decimal("50.00"), payment_method="crypto")
    out = cli_import(tmp_path, f"{HEADER}\n{csv_row(invoice, approved='10.00', paid='10.00')}\n")
    assert "refund_requests.csv, line 2" in out and "section 4.3" in out
    assert not RefundRequest.objects.exists()


def test_a_crypto_invoice_may_be_imported_as_credited_by_the_system(tmp_path: Path) -> None:
    invoice = invoice_with_plan(Decimal("50.00"), payment_method="crypto")
    (tmp_path / "refund_requests.csv").write_text(f"{HEADER}\n{csv_row(invoice, state='credited')}\n")
    call_command("import_billing", str(tmp_path), stdout=io.StringIO())
    request = RefundRequest.objects.get()
    assert request.state == "credited" and request.credit.amount == Decimal("10.00")


def test_above_the_refundable_amount_needs_an_override_reason(tmp_path: Path) -> None:
    invoice = invoice_with_plan(Decimal("100.00"))
    # A third-party licence is never refundable: 100.00 is, 150.00 was paid; approving 120.00 overrides.
    InvoiceLineFactory(invoice=invoice, line_no=2, category="third_party_license", amount=Decimal("50.00"))
    Invoice.objects.filter(pk=invoice.pk).update(amount_paid=Decimal("150.00"))
    late = csv_row(invoice, state="approved", approved="120.00", paid="")
    out = cli_import(tmp_path, f"{HEADER}\n{late}\n")
    assert "override" in out and not RefundRequest.objects.exists()

    (tmp_path / "refund_requests.csv").write_text(f"{HEADER},override_reason\n{late},Goodwill agreed by phone\n")
    call_command("import_billing", str(tmp_path), stdout=io.StringIO())
    request = RefundRequest.objects.get()
    assert request.override_reason == "Goodwill agreed by phone"


def test_one_bad_row_saves_nothing_of_the_file() -> None:
    good, bad = invoice_with_plan(Decimal("100.00")), invoice_with_plan(Decimal("100.00"), payment_method="crypto")
    text = f"{HEADER}\n{csv_row(good, state='submitted', approved='', paid='')}\n{csv_row(bad, state='paid')}\n"
    result = admin_import(text, None)
    assert result.has_validation_errors() or result.has_errors()
    assert not RefundRequest.objects.exists()


# --- finding 3: one imported reference stops all intake -----------------------------------------


@pytest.mark.parametrize("reference", ["RR-12", "RR-PROBE-6", "rr-000001"])
def test_an_imported_reference_in_the_generators_namespace_is_refused(reference: str) -> None:
    invoice = invoice_with_plan()
    result = admin_import(f"{HEADER}\n{csv_row(invoice, state='submitted', approved='', paid='', reference=reference)}\n",
                          None)
    assert any("RR- prefix" in m for m in row_errors(result)), row_errors(result)
    assert not RefundRequest.objects.exists()


def _mail(invoice) -> bytes:  # type: ignore[no-untyped-def]
    msg = EmailMessage()
    msg["From"] = invoice.customer.email
    msg["To"] = "billing@januscaler.com"
    msg["Subject"] = f"Refund Request: {invoice.number}"
    msg["Date"] = format_datetime(kolkata(2026, 5, 6))
    msg["Message-ID"] = f"<{invoice.number}@client.example>"
    msg.set_content("Please refund, the product did not work for us.")
    return msg.as_bytes()


@pytest.mark.parametrize("odd", ["RR-12", "RR-PROBE-6", "LEGACY-9"])
def test_manual_and_email_intake_keep_working_whatever_the_newest_reference_is(odd: str) -> None:
    """Issue 12, finding 3. Rows like these exist in databases imported before the fix; the old
    ``_next_reference`` read the newest row and collided with RR-000001 (or RR-000013) forever."""
    first = make_request()
    for _ in range(12):
        make_request()
    # Stored as an older import left it (no validation then), so it is the newest row.
    RefundRequest.objects.filter(pk=make_request().pk).update(reference=odd)

    manual = make_request()
    emailed = intake.ingest_raw_message(_mail(invoice_with_plan()), location="test",
                                        now=kolkata(2026, 5, 7))
    assert emailed.request is not None, emailed
    generated = [manual.reference, emailed.request.reference]
    assert all(re.fullmatch(r"RR-\d{6}", ref) for ref in generated), generated
    assert len({first.reference, *generated}) == 3


def test_the_next_reference_comes_from_the_database_not_from_the_last_row() -> None:
    a = make_request()
    RefundRequest.objects.filter(pk=a.pk).update(reference="RR-999998")
    b = make_request()
    # A sequence keeps counting from where it was; the old code would have answered RR-999999.
    assert b.reference != "RR-999999" and re.fullmatch(r"RR-\d{6}", b.reference)


def test_a_legacy_reference_is_kept_in_its_own_namespace() -> None:
    invoice = invoice_with_plan()
    result = admin_import(
        f"{HEADER}\n{csv_row(invoice, state='submitted', approved='', paid='', reference='LEGACY-7')}\n", None)
    assert not result.has_validation_errors(), row_errors(result)
    assert RefundRequest.objects.get().reference == "LEGACY-7"
    assert make_request().reference.startswith("RR-")

