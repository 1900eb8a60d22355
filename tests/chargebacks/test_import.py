"""chargebacks.csv: the example file round-trips, a re-import changes nothing, bad rows name why."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest
import tablib
from factories import InvoiceFactory, kolkata, make_request

from januscaler_refunds.billing.models import Customer, LedgerEntry
from januscaler_refunds.chargebacks.models import Chargeback, Dispute, SuspensionEvent, WebhookEvent
from januscaler_refunds.chargebacks.resources import COLUMNS, ChargebackResource

pytestmark = pytest.mark.django_db
EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "chargebacks.csv"


@pytest.fixture
def invoices():  # type: ignore[no-untyped-def]
    """The invoices docs/examples/invoices.csv names, and the request that comes before CB-2026-0001."""
    bala = InvoiceFactory(number="INV-2026-000102", currency="INR", amount_paid=Decimal("4999.00"),
                          customer__email="bala@example.com", issued_on=kolkata(2026, 5, 1).date())
    asha = InvoiceFactory(number="INV-2026-000101", currency="USD", amount_paid=Decimal("130.00"),
                          customer__email="asha@example.com")
    make_request(invoice=bala, received_at=kolkata(2026, 5, 6, 11, 15))
    return bala, asha


def load(text: str) -> tablib.Dataset:
    return tablib.Dataset().load(text, format="csv")


def import_text(text: str, dry_run: bool = False):  # type: ignore[no-untyped-def]
    return ChargebackResource().import_data(load(text), dry_run=dry_run, use_transactions=True,
                                            rollback_on_validation_errors=True)


def test_the_example_file_round_trips(invoices, django_capture_on_commit_callbacks) -> None:
    text = EXAMPLE.read_text()
    with django_capture_on_commit_callbacks(execute=True):
        result = import_text(text)
    assert not result.has_errors() and not result.has_validation_errors()
    assert result.totals["new"] == 2

    spared, suspended = Chargeback.objects.order_by("ref")
    assert spared.suspension == "spared" and suspended.suspension == "suspended"
    assert Customer.objects.get(email="asha@example.com").status == "suspended"
    assert Dispute.objects.count() == 2
    assert spared.dispute.evidence_due.isoformat() == "2026-05-22"

    exported = ChargebackResource().export().csv
    assert list(csv.DictReader(io.StringIO(exported))) == list(csv.DictReader(io.StringIO(text)))
    assert exported.splitlines()[0] == ",".join(COLUMNS)


def test_a_reimport_changes_nothing(invoices) -> None:
    text = EXAMPLE.read_text()
    import_text(text)
    counts = (Chargeback.objects.count(), LedgerEntry.objects.count(), SuspensionEvent.objects.count(),
              WebhookEvent.objects.count())
    result = import_text(text)
    assert not result.has_errors()
    assert result.totals["skip"] == 2 and result.totals["new"] == 0 and result.totals["update"] == 0
    assert (Chargeback.objects.count(), LedgerEntry.objects.count(), SuspensionEvent.objects.count(),
            WebhookEvent.objects.count()) == counts
    assert sorted(LedgerEntry.objects.values_list("source_key", "amount")) == [
        ("chargeback:CB-2026-0001:fee", Decimal("1500.00")), ("chargeback:CB-2026-0002:fee", Decimal("15.00"))]


def test_a_dry_run_saves_nothing(invoices) -> None:
    result = import_text(EXAMPLE.read_text(), dry_run=True)
    assert result.totals["new"] == 2
    assert not Chargeback.objects.exists() and not LedgerEntry.objects.exists()
    assert Customer.objects.get(email="asha@example.com").status == "active"


HEADER = ",".join(COLUMNS)


@pytest.mark.parametrize(
    ("row", "says"),
    [
        ("CB-X,INV-NOPE,1.00,USD,,2026-05-12T10:00:00+05:30,,", "INV-NOPE"),
        ("CB-X,INV-2026-000101,1.00,USD,,2026-05-12T10:00:00,,", "no UTC offset"),
        ("CB-X,INV-2026-000101,1.00,EUR,,2026-05-12T10:00:00+05:30,,", "is in USD"),
        ("CB-X,INV-2026-000101,abc,USD,,2026-05-12T10:00:00+05:30,,", "not a decimal amount"),
        ("CB-2026-0002,INV-2026-000101,99.00,USD,,2026-05-15T09:30:00+05:30,,15.00", "differs in amount"),
    ],
)
def test_bad_rows_are_refused_and_say_why(invoices, row: str, says: str) -> None:
    import_text(EXAMPLE.read_text())
    result = import_text(f"{HEADER}\n{row}\n")
    messages = [str(e.error) for _, errors in result.row_errors() for e in errors]
    messages += [str(v) for invalid in result.invalid_rows for v in invalid.error_dict.values()]
    assert any(says in m for m in messages), messages
    assert not Chargeback.objects.filter(ref="CB-X").exists()


def test_a_blank_fee_is_no_fee_and_reimports_cleanly(invoices) -> None:
    text = f"{HEADER}\nCB-NOFEE,INV-2026-000101,10.00,USD,,2026-05-12T10:00:00+05:30,,\n"
    assert import_text(text).totals["new"] == 1
    result = import_text(text)
    assert not result.has_errors() and result.totals["skip"] == 1
    assert Chargeback.objects.get(ref="CB-NOFEE").fee == 0
    assert not LedgerEntry.objects.filter(source_key__startswith="chargeback:CB-NOFEE").exists()


def test_a_row_without_received_at_is_refused(invoices) -> None:
    result = import_text(f"{HEADER}\nCB-NODATE,INV-2026-000101,10.00,USD,,,,\n")
    messages = [str(e.error) for _, errors in result.row_errors() for e in errors]
    assert any("received_at is required" in m for m in messages), messages
