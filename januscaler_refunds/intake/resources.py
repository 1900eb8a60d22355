"""django-import-export resources for the billing-data import (columns: docs/intake.md, interfaces.md).

Every resource upserts by its natural key and skips rows that would change nothing, so importing the
same file twice writes nothing the second time. Values are strict: ISO dates, ISO 8601 date-times
with an offset, decimal strings; a value that does not parse is a row error naming the column.
Refund requests never get their state assigned: rows go through ``refunds.services``.
"""

from __future__ import annotations

import datetime as dt
import mimetypes
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Model, Q
from django.utils import timezone
from import_export import fields, resources, widgets
from import_export.results import Error

from januscaler_refunds.billing.models import (
    AbuseReport,
    CompanyHoliday,
    Customer,
    Incident,
    Invoice,
    InvoiceLine,
    UsageRecord,
    Violation,
    normalize_invoice_number,
)
from januscaler_refunds.refunds import services
from januscaler_refunds.refunds.freeze import frozen_message, invoice_deciding_reference
from januscaler_refunds.refunds.models import (
    FINAL_STATES,
    Channel,
    Reason,
    RefundDocument,
    RefundRequest,
    State,
)

# --- widgets -------------------------------------------------------------------------------------


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


class IsoDateWidget(widgets.Widget):
    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> dt.date | None:
        if _blank(value):
            return None
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value).strip())
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from exc

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> str:
        return value.isoformat() if value else ""


class IsoDateTimeWidget(widgets.Widget):
    """ISO 8601 with an offset (``2026-05-06T10:00:00+05:30``); a time without a zone is refused."""

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> dt.datetime | None:
        if _blank(value):
            return None
        if isinstance(value, dt.datetime):
            parsed = value
        else:
            try:
                parsed = dt.datetime.fromisoformat(str(value).strip())
            except ValueError as exc:
                raise ValueError(f"{value!r} is not an ISO 8601 date-time") from exc
        if parsed.tzinfo is None:
            raise ValueError(f"{value!r} has no UTC offset (write e.g. 2026-05-06T10:00:00+05:30)")
        return parsed

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> str:
        return timezone.localtime(value).isoformat() if value else ""


class MoneyWidget(widgets.Widget):
    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> Decimal | None:
        if _blank(value):
            return None
        try:
            amount = Decimal(str(value).strip())
        except InvalidOperation as exc:
            raise ValueError(f"{value!r} is not a decimal amount") from exc
        if not amount.is_finite():
            raise ValueError(f"{value!r} is not a decimal amount")
        return amount

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> str:
        return "" if value is None else f"{value:.2f}"


class YesNoBlankWidget(widgets.Widget):
    """``yes`` / ``no`` / blank for a nullable boolean (identity verification: never requested)."""

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> bool | None:
        if _blank(value):
            return None
        text = str(value).strip().lower()
        if text in ("yes", "true", "1"):
            return True
        if text in ("no", "false", "0"):
            return False
        raise ValueError(f"{value!r} is not yes, no or blank")

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> str:
        return "" if value is None else ("yes" if value else "no")


class ChoiceWidget(widgets.CharWidget):
    def __init__(self, choices: list[str], *, blank: bool = False) -> None:
        super().__init__()
        self.choices = choices
        self.blank = blank

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> str:
        text = "" if value is None else str(value).strip()
        if text == "" and self.blank:
            return ""
        if text not in self.choices:
            raise ValueError(f"{text!r} is not one of {', '.join(self.choices)}")
        return text


class CustomerByEmailWidget(widgets.ForeignKeyWidget):
    def __init__(self) -> None:
        super().__init__(Customer, "email")

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> Customer | None:
        if _blank(value):
            raise ValueError("a customer email is required")
        email = str(value).strip().lower()
        customer = Customer.objects.filter(email__iexact=email).first()
        if customer is None:
            raise ValueError(f"no customer with email {email} (import customers.csv first)")
        return customer


class InvoiceByNumberWidget(widgets.ForeignKeyWidget):
    def __init__(self) -> None:
        super().__init__(Invoice, "number")

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> Invoice | None:
        if _blank(value):
            raise ValueError("an invoice number is required")
        number = normalize_invoice_number(str(value))
        invoice = Invoice.objects.select_related("customer").filter(number=number).first()
        if invoice is None:
            raise ValueError(f"no invoice {number} (import invoices.csv first)")
        return invoice


class InvoiceLineWidget(widgets.ForeignKeyWidget):
    """The line named by two columns, ``invoice_number`` and ``line_no``."""

    def __init__(self) -> None:
        super().__init__(InvoiceLine)

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> InvoiceLine | None:
        if _blank(value):
            raise ValueError("an invoice number is required")
        number = normalize_invoice_number(str(value))
        line_no = (row or {}).get("line_no")
        try:
            line_no_int = int(str(line_no).strip())
        except (TypeError, ValueError) as exc:
            raise ValueError(f"line_no {line_no!r} is not a whole number") from exc
        line = InvoiceLine.objects.select_related("invoice").filter(invoice__number=number, line_no=line_no_int).first()
        if line is None:
            raise ValueError(f"invoice {number} has no line {line_no_int} (import invoice_lines.csv first)")
        return line

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> str:
        return value.invoice.number if value else ""


# --- resources ------------------------------------------------------------------------------------


class NaturalKeyResource(resources.ModelResource):
    """Upsert by natural key, skip unchanged rows (and count them), validate like a form would."""

    class Meta:
        abstract = True
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True
        use_transactions = True
        # Imports must not guess: only the documented columns are read.

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()
        self.options = kwargs

    def import_data(self, dataset: Any, *args: Any, rollback_on_validation_errors: bool = True, **kwargs: Any) -> Any:
        """One bad row rolls the whole file back (admin, ``import_billing`` and the ``import`` command)."""
        result = super().import_data(dataset, *args, rollback_on_validation_errors=rollback_on_validation_errors, **kwargs)
        if "user" not in kwargs:
            # django-import-export's ``import`` command reports only errors, not invalid rows: show
            # each invalid row there as an error with its line number, so it exits non-zero.
            columns = {f.attribute: f.column_name for f in self.fields.values() if f.attribute}
            for invalid in result.invalid_rows:
                reasons = "; ".join(
                    f"{columns.get(k, k)}: {' '.join(map(str, v))}" for k, v in invalid.error_dict.items()
                )
                # result.row_errors() numbers rows by their position in result.rows (all rows are
                # there: report_skipped), so the error goes on that row's result.
                if 0 < invalid.number <= len(result.rows):
                    result.rows[invalid.number - 1].errors.append(Error(ValueError(reasons), number=invalid.number))
        return result

    # A file may name a key once (the bulk path, intake.bulk_import, refuses a repeat the same way):
    # the words naming the key in the message; blank: no such rule for this file.
    key_words = ""

    def file_key(self, row: Any) -> tuple[Any, ...] | None:
        return None

    def before_import(self, dataset: Any, **kwargs: Any) -> None:
        self.changed_customers: set[int] = set()
        self.changed_services: set[str] = set()
        self.seen_keys: dict[tuple[Any, ...], int] = {}

    def get_or_init_instance(self, instance_loader: Any, row: Any) -> Any:
        key = self.file_key(row) if self.key_words else None
        if key is not None:
            line = getattr(self, "row_number", 0) + 1
            first = self.seen_keys.setdefault(key, line)
            if first != line:
                raise ValidationError(f"the same {self.key_words} as line {first} (each key once per file)")
        return super().get_or_init_instance(instance_loader, row)

    def after_save_instance(self, instance: Any, row: Any, **kwargs: Any) -> None:
        customer_id = getattr(instance, "customer_id", None) or (instance.pk if isinstance(instance, Customer) else None)
        if isinstance(instance, InvoiceLine):
            customer_id = instance.invoice.customer_id
        if customer_id:
            self.changed_customers.add(customer_id)
        if isinstance(instance, Incident):
            self.changed_services.add(instance.service)

    def after_import(self, dataset: Any, result: Any, **kwargs: Any) -> None:
        super().after_import(dataset, result, **kwargs)
        # Facts changed: open requests they can affect are evaluated again (as the billing admin does).
        customers: set[int] = getattr(self, "changed_customers", set())
        changed: set[str] = getattr(self, "changed_services", set())
        if kwargs.get("dry_run") or result.has_errors() or result.has_validation_errors() or not (customers or changed):
            return
        affected = RefundRequest.objects.open().filter(customer_id__in=customers)
        if changed:
            affected = RefundRequest.objects.open().filter(
                Q(customer_id__in=customers) | Q(reason=Reason.SERVICE_UNAVAILABILITY, invoice__lines__service__in=changed)
            )
        if affected.exists():
            services.reevaluate_open_requests(customer_ids=customers, services_changed=changed)

    def before_import_row(self, row: Any, **kwargs: Any) -> None:
        self.row_number = kwargs.get("row_number", 0)
        # Surrounding spaces in a CSV cell are never meaningful.
        for key, value in list(row.items()):
            if isinstance(value, str):
                row[key] = value.strip()


class CustomerResource(NaturalKeyResource):
    email = fields.Field(attribute="email", column_name="email")
    name = fields.Field(attribute="name", column_name="name")
    status = fields.Field(
        attribute="status", column_name="status", widget=ChoiceWidget(Customer.Status.values), default="active"
    )
    identity_verified = fields.Field(
        attribute="identity_verified", column_name="identity_verified", widget=YesNoBlankWidget()
    )

    class Meta(NaturalKeyResource.Meta):
        model = Customer
        import_id_fields = ("email",)
        fields = ("email", "name", "status", "identity_verified")

    key_words = "email"

    def file_key(self, row: Any) -> tuple[Any, ...] | None:
        return (row.get("email"),)

    def before_import_row(self, row: Any, **kwargs: Any) -> None:
        super().before_import_row(row, **kwargs)
        row["email"] = (row.get("email") or "").lower()
        if not row.get("status"):
            row["status"] = "active"

    def get_instance(self, instance_loader: Any, row: Any) -> Customer | None:
        return Customer.objects.filter(email__iexact=row.get("email") or "").first()

    def import_instance(self, instance: Customer, row: Any, **kwargs: Any) -> None:
        recorded = instance.status if instance.pk is not None else None
        super().import_instance(instance, row, **kwargs)
        # Suspension changes only through the chargeback services (section 6: suspend on a chargeback,
        # lift with "Reinstate"), which stamp suspended_at and log a SuspensionEvent. A file never
        # changes it: for a known customer the recorded status wins (a re-import of an older file that
        # still says "active" is not an error), and a new customer cannot arrive suspended.
        if recorded is not None:
            instance.status = recorded
        elif instance.status != Customer.Status.ACTIVE:
            raise ValidationError(
                {"status": "a new customer is imported as active; a suspension is recorded only by a chargeback "
                           "(chargebacks.csv or the chargeback admin)"}
            )


class ViolationResource(NaturalKeyResource):
    customer_email = fields.Field(attribute="customer", column_name="customer_email", widget=CustomerByEmailWidget())
    kind = fields.Field(attribute="kind", column_name="kind", widget=ChoiceWidget(Violation.Kind.values))
    status = fields.Field(attribute="status", column_name="status", widget=ChoiceWidget(Violation.Status.values))
    opened_on = fields.Field(attribute="opened_on", column_name="opened_on", widget=IsoDateWidget())

    class Meta(NaturalKeyResource.Meta):
        model = Violation
        import_id_fields = ("customer_email", "kind", "opened_on")
        fields = ("customer_email", "kind", "status", "opened_on")


class FrozenInvoiceGuard:
    """A row that would change a frozen invoice or its lines is refused (refunds.freeze).

    Called only for rows that change something: an identical re-import is still skipped.
    """

    def before_save_instance(self, instance: Any, row: Any, **kwargs: Any) -> None:
        if isinstance(instance, Invoice):
            invoice_id, number = instance.pk, instance.number
        else:
            invoice_id, number = instance.invoice_id, instance.invoice.number
        reference = invoice_deciding_reference(invoice_id)
        if reference:
            raise ValidationError(frozen_message(number, reference))
        super().before_save_instance(instance, row, **kwargs)  # type: ignore[misc]


class InvoiceResource(FrozenInvoiceGuard, NaturalKeyResource):
    number = fields.Field(attribute="number", column_name="number")
    customer_email = fields.Field(attribute="customer", column_name="customer_email", widget=CustomerByEmailWidget())
    issued_on = fields.Field(attribute="issued_on", column_name="issued_on", widget=IsoDateWidget())
    kind = fields.Field(attribute="kind", column_name="kind", widget=ChoiceWidget(Invoice.Kind.values))
    payment_method = fields.Field(
        attribute="payment_method", column_name="payment_method", widget=ChoiceWidget(Invoice.PaymentMethod.values)
    )
    currency = fields.Field(attribute="currency", column_name="currency")
    amount_paid = fields.Field(attribute="amount_paid", column_name="amount_paid", widget=MoneyWidget())
    paid_at = fields.Field(attribute="paid_at", column_name="paid_at", widget=IsoDateTimeWidget())

    class Meta(NaturalKeyResource.Meta):
        model = Invoice
        import_id_fields = ("number",)
        fields = (
            "number", "customer_email", "issued_on", "kind", "payment_method", "currency", "amount_paid", "paid_at",
        )  # fmt: skip

    key_words = "number"

    def file_key(self, row: Any) -> tuple[Any, ...] | None:
        return (row.get("number"),)

    def before_import_row(self, row: Any, **kwargs: Any) -> None:
        super().before_import_row(row, **kwargs)
        row["number"] = normalize_invoice_number(row.get("number") or "")
        row["currency"] = (row.get("currency") or "").upper()


class InvoiceLineResource(FrozenInvoiceGuard, NaturalKeyResource):
    invoice_number = fields.Field(attribute="invoice", column_name="invoice_number", widget=InvoiceByNumberWidget())
    line_no = fields.Field(attribute="line_no", column_name="line_no", widget=widgets.IntegerWidget())
    category = fields.Field(
        attribute="category", column_name="category", widget=ChoiceWidget(InvoiceLine.Category.values)
    )
    description = fields.Field(attribute="description", column_name="description")
    amount = fields.Field(attribute="amount", column_name="amount", widget=MoneyWidget())
    units = fields.Field(attribute="units", column_name="units", widget=widgets.IntegerWidget())
    service = fields.Field(attribute="service", column_name="service")
    period_start = fields.Field(attribute="period_start", column_name="period_start", widget=IsoDateWidget())
    period_end = fields.Field(attribute="period_end", column_name="period_end", widget=IsoDateWidget())

    class Meta(NaturalKeyResource.Meta):
        model = InvoiceLine
        import_id_fields = ("invoice_number", "line_no")
        fields = (
            "invoice_number", "line_no", "category", "description", "amount", "units", "service",
            "period_start", "period_end",
        )  # fmt: skip

    key_words = "invoice_number and line_no"

    def file_key(self, row: Any) -> tuple[Any, ...] | None:
        try:
            return normalize_invoice_number(row.get("invoice_number") or ""), int(Decimal(row.get("line_no") or ""))
        except (InvalidOperation, ValueError):
            return None  # the line_no error is reported instead


class UsageResource(NaturalKeyResource):
    """``usage.csv``: units consumed on a prepaid line; the customer and service come from the line."""

    invoice_number = fields.Field(attribute="invoice_line", column_name="invoice_number", widget=InvoiceLineWidget())
    line_no = fields.Field(column_name="line_no", readonly=True)
    at = fields.Field(attribute="at", column_name="at", widget=IsoDateTimeWidget())
    units = fields.Field(attribute="units", column_name="units", widget=widgets.IntegerWidget())

    class Meta(NaturalKeyResource.Meta):
        model = UsageRecord
        import_id_fields = ("invoice_number", "at")
        fields = ("invoice_number", "line_no", "at", "units")

    key_words = "invoice_number, line_no and at"

    def file_key(self, row: Any) -> tuple[Any, ...] | None:
        try:
            at = IsoDateTimeWidget().clean(row.get("at"))
            return normalize_invoice_number(row.get("invoice_number") or ""), int(row.get("line_no") or ""), at
        except ValueError:
            return None  # the row's own error is reported instead

    def dehydrate_line_no(self, record: UsageRecord) -> str:
        return str(record.invoice_line.line_no) if record.invoice_line is not None else ""

    def before_save_instance(self, instance: UsageRecord, row: Any, **kwargs: Any) -> None:
        line = instance.invoice_line
        assert line is not None  # InvoiceLineWidget refuses a row without an existing line
        instance.customer = line.invoice.customer
        instance.service = instance.service or line.service

    def import_instance(self, instance: UsageRecord, row: Any, **kwargs: Any) -> None:
        super().import_instance(instance, row, **kwargs)
        # full_clean needs the customer, which follows from the line.
        if not instance.customer_id and instance.invoice_line is not None:
            instance.customer = instance.invoice_line.invoice.customer


class IncidentResource(NaturalKeyResource):
    ref = fields.Field(attribute="ref", column_name="ref")
    service = fields.Field(attribute="service", column_name="service")
    start = fields.Field(attribute="start", column_name="start", widget=IsoDateTimeWidget())
    end = fields.Field(attribute="end", column_name="end", widget=IsoDateTimeWidget())
    cause = fields.Field(attribute="cause", column_name="cause", widget=ChoiceWidget(Incident.Cause.values))

    class Meta(NaturalKeyResource.Meta):
        model = Incident
        import_id_fields = ("ref",)
        fields = ("ref", "service", "start", "end", "cause")

    def before_save_instance(self, instance: Incident, row: Any, **kwargs: Any) -> None:
        if instance.start and instance.end and instance.end < instance.start:
            raise ValidationError({"end": "end is before start"})


class AbuseReportResource(NaturalKeyResource):
    ref = fields.Field(attribute="ref", column_name="ref")
    customer_email = fields.Field(attribute="customer", column_name="customer_email", widget=CustomerByEmailWidget())
    received_at = fields.Field(attribute="received_at", column_name="received_at", widget=IsoDateTimeWidget())

    class Meta(NaturalKeyResource.Meta):
        model = AbuseReport
        import_id_fields = ("ref",)
        fields = ("ref", "customer_email", "received_at")


class CompanyHolidayResource(NaturalKeyResource):
    date = fields.Field(attribute="date", column_name="date", widget=IsoDateWidget())
    name = fields.Field(attribute="name", column_name="name")

    class Meta(NaturalKeyResource.Meta):
        model = CompanyHoliday
        import_id_fields = ("date",)
        fields = ("date", "name")


# --- refund requests --------------------------------------------------------------------------------

HISTORY_STATES = [State.SUBMITTED, State.APPROVED, *FINAL_STATES]


class RefundRequestResource(NaturalKeyResource):
    """``refund_requests.csv``: requests from other channels or an older system.

    A row is created through ``refund_request_create`` (channel ``import``, no acknowledgement); a
    row in a final state then goes through ``refund_request_import_history``, which applies the
    console's money rules and logs "import by <user>"; a row they refuse is an invalid row naming the
    rule, and the file is rolled back. An existing reference is never changed: the row is skipped. A
    new reference must not use the generator's ``RR-`` prefix (``refunds.references``). A blank reference
    is assigned, and a second import of the same row (same invoice, requester and received_at) finds
    the request it made the first time. ``documents`` are ``;``-separated paths relative to
    ``base_dir`` (the CSV's folder), which must stay inside it.
    """

    reference = fields.Field(attribute="reference", column_name="reference")
    invoice_number = fields.Field(attribute="invoice", column_name="invoice_number", widget=InvoiceByNumberWidget())
    customer_email = fields.Field(attribute="requester_email", column_name="customer_email")
    reason = fields.Field(attribute="reason", column_name="reason", widget=ChoiceWidget(Reason.values))
    received_at = fields.Field(attribute="received_at", column_name="received_at", widget=IsoDateTimeWidget())
    requested_amount = fields.Field(attribute="requested_amount", column_name="requested_amount", widget=MoneyWidget())
    currency = fields.Field(attribute="currency", column_name="currency")
    message = fields.Field(attribute="message", column_name="message")
    documents = fields.Field(column_name="documents", readonly=True)
    state = fields.Field(column_name="state", readonly=True)
    decided_at = fields.Field(column_name="decided_at", readonly=True)
    approved_amount = fields.Field(column_name="approved_amount", readonly=True)
    paid_amount = fields.Field(column_name="paid_amount", readonly=True)
    # Optional: why an approved amount above the refundable amount was allowed (as in the console).
    override_reason = fields.Field(attribute="override_reason", column_name="override_reason", readonly=True)

    class Meta(NaturalKeyResource.Meta):
        model = RefundRequest
        import_id_fields = ("reference",)
        clean_model_instances = False  # the services validate; the state is theirs to set
        fields = (
            "reference", "invoice_number", "customer_email", "reason", "received_at", "requested_amount",
            "currency", "message", "documents", "state", "decided_at", "approved_amount", "paid_amount",
            "override_reason",
        )  # fmt: skip

    def __init__(self, *, base_dir: str | Path | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Without a folder (the admin's upload) there is nothing a path could safely point to.
        self.base_dir = Path(base_dir).resolve() if base_dir is not None else None

    # export
    def dehydrate_documents(self, request: RefundRequest) -> str:
        return ";".join(d.name for d in request.documents.all()) if request.pk else ""

    def dehydrate_state(self, request: RefundRequest) -> str:
        return request.state

    def dehydrate_decided_at(self, request: RefundRequest) -> str:
        return timezone.localtime(request.decided_at).isoformat() if request.decided_at else ""

    def dehydrate_approved_amount(self, request: RefundRequest) -> str:
        return "" if request.approved_amount is None else f"{request.approved_amount:.2f}"

    def dehydrate_paid_amount(self, request: RefundRequest) -> str:
        settled = getattr(request, "payout", None) or getattr(request, "credit", None)
        return f"{settled.amount:.2f}" if request.pk and settled else ""

    # import
    def before_import_row(self, row: Any, **kwargs: Any) -> None:
        super().before_import_row(row, **kwargs)
        row["customer_email"] = (row.get("customer_email") or "").lower()
        row["currency"] = (row.get("currency") or "").upper()

    def get_instance(self, instance_loader: Any, row: Any) -> RefundRequest | None:
        reference = (row.get("reference") or "").strip()
        if reference:
            return RefundRequest.objects.filter(reference=reference).first()
        received_at = IsoDateTimeWidget().clean(row.get("received_at"))
        if received_at is None:
            # received_at is NOT NULL, so no existing request can match a row without one.
            return None
        number = normalize_invoice_number(row.get("invoice_number") or "")
        return RefundRequest.objects.filter(
            invoice__number=number,
            requester_email=row.get("customer_email") or "",
            received_at=received_at,
            channel=Channel.IMPORT,
        ).first()

    def skip_row(self, instance: Model, original: Model | None, row: Any, import_validation_errors: Any = None) -> bool:
        # An existing request is history: re-importing it changes nothing.
        return instance.pk is not None and not import_validation_errors

    def save_instance(self, instance: RefundRequest, is_create: bool, row: Any, **kwargs: Any) -> None:
        if not is_create:
            return
        state = (row.get("state") or "").strip() or State.SUBMITTED
        errors: dict[str, str] = {}
        if state not in HISTORY_STATES:
            errors["state"] = f"{state!r} cannot be imported; use one of {', '.join(HISTORY_STATES)}"
        if not instance.requester_email or "@" not in instance.requester_email:
            errors["customer_email"] = "a requester email is required"
        if instance.received_at is None:
            errors["received_at"] = "received_at is required"
        if len(instance.reference or "") > 20:
            errors["reference"] = "at most 20 characters"
        try:
            decided_at = IsoDateTimeWidget().clean(row.get("decided_at"))
            approved = MoneyWidget().clean(row.get("approved_amount"))
            paid = MoneyWidget().clean(row.get("paid_amount"))
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc
        uploads = self._documents(row.get("documents") or "", errors)
        if errors:
            raise ValidationError(errors)
        actor = kwargs.get("user")
        if kwargs.get("dry_run") and not kwargs.get("using_transactions"):
            return
        try:
            request = services.refund_request_create(
                invoice=instance.invoice,
                reason=instance.reason,
                received_at=instance.received_at,
                requester_email=instance.requester_email,
                channel=Channel.IMPORT,
                message=instance.message or "",
                requested_amount=instance.requested_amount,
                currency=instance.currency or None,
                actor=actor,
                documents=uploads,
                reference=instance.reference or None,
                acknowledge=False,
            )
            if state != State.SUBMITTED:
                services.refund_request_import_history(
                    request=request,
                    actor=actor,
                    target=state,
                    decided_at=decided_at,
                    approved_amount=approved,
                    paid_amount=paid,
                    override_reason=row.get("override_reason") or "",
                )
        except services.TransitionRefused as exc:
            raise ValidationError(exc.message) from exc
        instance.pk = request.pk
        instance.reference = request.reference

    def _documents(self, value: str, errors: dict[str, str]) -> list[services.DocumentUpload]:
        uploads = []
        for item in (part.strip() for part in value.split(";")):
            if not item:
                continue
            if self.base_dir is None:
                errors["documents"] = "documents can only be imported with import_billing DIR (paths next to the CSV)"
                continue
            path = (self.base_dir / item).resolve()
            if not path.is_relative_to(self.base_dir):
                errors["documents"] = f"{item} is outside the import folder"
                continue
            if not path.is_file():
                errors["documents"] = f"{item} not found next to the CSV"
                continue
            uploads.append(
                services.DocumentUpload(
                    name=path.name,
                    content=path.read_bytes(),
                    content_type=mimetypes.guess_type(path.name)[0] or "application/octet-stream",
                    source=RefundDocument.Source.IMPORT,
                )
            )
        return uploads
