"""Import/export of chargebacks (``chargebacks.csv``, docs/interfaces: ref, invoice_number, amount,
currency, network_reason, received_at, evidence_due, fee).

New rows go through ``services.chargeback_record`` exactly as an admin entry does (suspension, dispute,
fee). A chargeback is a recorded fact: importing the same row again changes nothing, and a row that
contradicts what is recorded is refused with the field that differs.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from import_export import fields, resources, widgets

from januscaler_refunds.billing.models import Invoice, normalize_invoice_number
from januscaler_refunds.chargebacks import services
from januscaler_refunds.chargebacks.models import Chargeback

# The same strict parsers as the other billing files (ISO dates, offsets required, decimal strings).
from januscaler_refunds.intake.resources import IsoDateTimeWidget, IsoDateWidget, MoneyWidget

COLUMNS = ("ref", "invoice_number", "amount", "currency", "network_reason", "received_at", "evidence_due", "fee")


class InvoiceNumberWidget(widgets.ForeignKeyWidget):
    def __init__(self) -> None:
        super().__init__(Invoice, field="number")

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> Invoice | None:
        if value in (None, ""):
            raise ValueError("invoice_number is required")
        number = normalize_invoice_number(str(value))
        invoice = Invoice.objects.filter(number=number).first()
        if invoice is None:
            raise ValueError(f"invoice {value!r} does not exist (import invoices.csv first)")
        return invoice


class ChargebackResource(resources.ModelResource):
    ref = fields.Field(attribute="ref", column_name="ref")
    invoice_number = fields.Field(attribute="invoice", column_name="invoice_number", widget=InvoiceNumberWidget())
    amount = fields.Field(attribute="amount", column_name="amount", widget=MoneyWidget())
    currency = fields.Field(attribute="currency", column_name="currency")
    network_reason = fields.Field(attribute="network_reason", column_name="network_reason")
    received_at = fields.Field(attribute="received_at", column_name="received_at", widget=IsoDateTimeWidget())
    evidence_due = fields.Field(attribute="evidence_due", column_name="evidence_due", widget=IsoDateWidget())
    fee = fields.Field(attribute="fee", column_name="fee", widget=MoneyWidget())

    class Meta:
        model = Chargeback
        import_id_fields = ("ref",)
        fields = COLUMNS
        export_order = COLUMNS
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = False

    def get_queryset(self) -> Any:
        return Chargeback.objects.select_related("invoice").order_by("received_at", "ref")

    def before_import_row(self, row: Any, **kwargs: Any) -> None:
        missing = [c for c in ("ref", "invoice_number", "amount", "currency", "received_at") if not str(row.get(c) or "").strip()]
        if missing:
            raise ValueError(f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} required")
        for column in ("ref", "currency", "network_reason"):
            if row.get(column) is not None:
                row[column] = str(row[column]).strip()
        if row.get("currency"):
            row["currency"] = row["currency"].upper()

    def skip_row(self, instance: Chargeback, original: Chargeback | None, row: Any,
                 import_validation_errors: Any = None) -> bool:
        if instance.fee is None:  # a blank fee is no fee
            instance.fee = Decimal("0.00")
        if original is None or original.pk is None:
            return False
        # Recorded facts are not rewritten by a re-import: identical rows are skipped, others refused.
        differing = [
            name for name in ("invoice_id", "amount", "currency", "network_reason", "received_at", "evidence_due", "fee")
            if getattr(instance, name) != getattr(original, name)
        ]
        if differing:
            raise ValueError(
                f"chargeback {original.ref} is already recorded and differs in {', '.join(differing)}; "
                "recorded chargebacks are not changed by import"
            )
        return True

    def save_instance(self, instance: Chargeback, is_create: bool, row: Any, **kwargs: Any) -> None:
        if not is_create:  # skip_row refused or skipped every existing row
            return
        if not self._is_using_transactions(kwargs) and self._is_dry_run(kwargs):
            return
        created = services.chargeback_record(
            invoice=instance.invoice,
            ref=instance.ref,
            amount=instance.amount,
            currency=instance.currency,
            network_reason=instance.network_reason or "",
            received_at=instance.received_at,
            evidence_due=instance.evidence_due,
            fee=instance.fee if instance.fee is not None else Decimal("0.00"),
            actor=kwargs.get("user"),
        )
        instance.pk = created.pk
        instance.suspension = created.suspension
        instance.created_at = created.created_at
