"""The books are append-only in PostgreSQL itself: raw SQL cannot rewrite or delete them.

One row per append-only table, then a raw UPDATE of a column that records what happened and a raw
DELETE, each refused by the trigger (januscaler_refunds/db_guards.py). The operational columns a
task legitimately moves (a message's send status, an export's progress, an inbound message's
outcome) still change.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from factories import invoice_with_plan, make_request

from januscaler_refunds.billing.models import LedgerEntry
from januscaler_refunds.chargebacks.models import SuspensionEvent
from januscaler_refunds.intake.models import InboundMessage
from januscaler_refunds.refunds import services
from januscaler_refunds.refunds.models import AccountCredit, CustomerMessage, Payout, TransitionLog
from januscaler_refunds.reports.services import export_record_create

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

# table -> a column that records what happened (must never change)
IMMUTABLE_COLUMN = {
    "refunds_transitionlog": "note",
    "refunds_payout": "reference",
    "refunds_accountcredit": "note",
    "refunds_customermessage": "body",
    "intake_inboundmessage": "subject",
    "chargebacks_suspensionevent": "reason",
    "billing_ledgerentry": "description",
    "reports_exportrecord": "query_string",
}


def _approved(invoice: Any = None) -> Any:
    request = services.refund_request_start_review(request=make_request(invoice=invoice), actor=None)
    return services.refund_request_approve(request=request, actor=None, amount=Decimal("10.00"))


@pytest.fixture
def books() -> dict[str, int]:
    """One row in every append-only table, made the way the application makes it."""
    now = timezone.now()
    paid = services.refund_request_record_payout(
        request=_approved(), actor=None, method="card", reference="PSP-1", amount=Decimal("10.00")
    )
    credited = services.refund_request_grant_credit(
        request=_approved(invoice_with_plan(payment_method="crypto")), actor=None, amount=Decimal("10.00")
    )
    customer = paid.customer
    inbound = InboundMessage.objects.create(
        content_hash="a" * 64, fingerprint="b" * 64, size=1, received_at=now, outcome="triage", subject="Refund"
    )
    event = SuspensionEvent.objects.create(
        customer=customer, kind="suspended", at=now, actor_label="system", reason="Chargeback CB-1"
    )
    entry = LedgerEntry.objects.create(
        customer=customer, kind="adjustment", amount=Decimal("5.00"), currency="USD", description="fee",
        source_key="test:fee",
    )
    record = export_record_create(user=None, fmt="csv", source="command", query_string="state=paid")
    return {
        "refunds_transitionlog": TransitionLog.objects.filter(request=paid).first().pk,  # type: ignore[union-attr]
        "refunds_payout": Payout.objects.get(request=paid).pk,
        "refunds_accountcredit": AccountCredit.objects.get(request=credited).pk,
        "refunds_customermessage": CustomerMessage.objects.filter(request=paid).first().pk,  # type: ignore[union-attr]
        "intake_inboundmessage": inbound.pk,
        "chargebacks_suspensionevent": event.pk,
        "billing_ledgerentry": entry.pk,
        "reports_exportrecord": record.pk,
    }


def _sql(statement: str, params: list[Any]) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, params)


@pytest.mark.parametrize("table", sorted(IMMUTABLE_COLUMN))
def test_raw_sql_update_is_refused(books: dict[str, int], table: str) -> None:
    column = IMMUTABLE_COLUMN[table]
    with pytest.raises(IntegrityError, match=f"append_only.{table}: rows cannot be changed"):
        _sql(f"UPDATE {table} SET {column} = 'rewritten' WHERE id = %s", [books[table]])


@pytest.mark.parametrize("table", sorted(IMMUTABLE_COLUMN))
def test_raw_sql_delete_is_refused(books: dict[str, int], table: str) -> None:
    with pytest.raises(IntegrityError, match=f"append_only.{table}: rows cannot be deleted"):
        _sql(f"DELETE FROM {table} WHERE id = %s", [books[table]])
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table} WHERE id = %s", [books[table]])
        assert cursor.fetchone()[0] == 1


def test_payout_amounts_cannot_be_rewritten_through_the_orm(books: dict[str, int]) -> None:
    with pytest.raises(IntegrityError, match="append_only.refunds_payout"), transaction.atomic():
        Payout.objects.update(amount=Decimal("99999.00"))
    assert Payout.objects.get(pk=books["refunds_payout"]).amount == Decimal("10.00")


@pytest.mark.parametrize(
    ("table", "assignment"),
    [
        ("refunds_customermessage", "status = 'failed', attempts = 3, last_error = 'smtp down'"),
        ("reports_exportrecord", "status = 'completed', row_count = 7, rows_total = 7, finished_at = now()"),
        ("intake_inboundmessage", "outcome = 'request', request_id = NULL"),
    ],
)
def test_operational_columns_still_move(books: dict[str, int], table: str, assignment: str) -> None:
    _sql(f"UPDATE {table} SET {assignment} WHERE id = %s", [books[table]])


def test_an_operational_update_cannot_smuggle_an_immutable_change(books: dict[str, int]) -> None:
    with pytest.raises(IntegrityError, match="append_only.refunds_customermessage"):
        _sql(
            "UPDATE refunds_customermessage SET status = 'sent', to_email = 'attacker@example.com' WHERE id = %s",
            [books["refunds_customermessage"]],
        )
    assert CustomerMessage.objects.get(pk=books["refunds_customermessage"]).to_email != "attacker@example.com"
