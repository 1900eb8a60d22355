"""The refund report: one django-import-export resource, the single definition of its columns.

Columns and their order are a public interface (shared/interfaces.md, docs/reports.md); add new
columns only after ``payout_deadline_met``.

The resource reads ``values()`` rows, not model instances: one SQL query with joins for customer,
invoice, policy version, assignee, payout and credit (no N+1), streamed with
``iterator(chunk_size=2000)`` so memory stays flat however many rows there are. Cells come out as
typed Python values (``Decimal``, ``int``, ``date``, aware ``datetime``, ``str`` or ``None``); the
writers in ``services.py`` turn them into CSV text or XLSX cells and neutralise formulas.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from import_export import fields, resources

from januscaler_refunds.policy.calendar import KOLKATA, BusinessCalendar
from januscaler_refunds.refunds.evaluation import business_calendar
from januscaler_refunds.refunds.models import RefundRequest, State

CHUNK_SIZE = 2000

# States reached by a decision (approve or deny). Their reason codes are the decision's codes.
DECIDED_STATES = frozenset({State.APPROVED, State.DENIED, State.PAID, State.CREDITED})
SETTLED_STATES = frozenset({State.PAID, State.CREDITED})

# What the one query selects; every column is computed from these keys.
ROW_VALUES = (
    "id",
    "reference",
    "received_at",
    "customer__name",
    "customer__email",
    "invoice__number",
    "invoice__issued_on",
    "invoice__payment_method",
    "reason",
    "state",
    "recommendation",
    "evaluation_codes",
    "decision_codes",
    "policy_version__label",
    "requested_amount",
    "refundable_amount",
    "approved_amount",
    "payout__amount",
    "credit__amount",
    "currency",
    "assignee__username",
    "review_due_at",
    "decided_at",
    "payout_due_at",
    "settled_at",
)

Row = dict[str, Any]


def _local(moment: dt.datetime | None) -> dt.datetime | None:
    return None if moment is None else moment.astimezone(KOLKATA)


def _local_date(moment: dt.datetime | None) -> dt.date | None:
    return None if moment is None else moment.astimezone(KOLKATA).date()


def _met(done_at: dt.datetime | None, due_at: dt.datetime | None) -> str:
    if done_at is None or due_at is None:
        return ""
    return "yes" if done_at <= due_at else "no"


class RefundReportResource(resources.Resource):
    """The refund report. ``export()`` gives a tablib Dataset (small exports, tests); the admin view,
    the task and the command use ``rows()`` to stream."""

    reference = fields.Field(attribute="reference", column_name="reference")
    received_at = fields.Field(column_name="received_at")
    customer_name = fields.Field(attribute="customer__name", column_name="customer_name")
    customer_email = fields.Field(attribute="customer__email", column_name="customer_email")
    invoice_number = fields.Field(attribute="invoice__number", column_name="invoice_number")
    invoice_date = fields.Field(attribute="invoice__issued_on", column_name="invoice_date")
    payment_method = fields.Field(attribute="invoice__payment_method", column_name="payment_method")
    reason = fields.Field(attribute="reason", column_name="reason")
    state = fields.Field(attribute="state", column_name="state")
    recommendation = fields.Field(attribute="recommendation", column_name="recommendation")
    reason_codes = fields.Field(column_name="reason_codes")
    policy_version = fields.Field(attribute="policy_version__label", column_name="policy_version")
    requested_amount = fields.Field(attribute="requested_amount", column_name="requested_amount")
    refundable_amount = fields.Field(attribute="refundable_amount", column_name="refundable_amount")
    approved_amount = fields.Field(attribute="approved_amount", column_name="approved_amount")
    settled_amount = fields.Field(column_name="settled_amount")
    currency = fields.Field(attribute="currency", column_name="currency")
    assignee = fields.Field(attribute="assignee__username", column_name="assignee")
    review_due = fields.Field(column_name="review_due")
    decided_at = fields.Field(column_name="decided_at")
    business_days_to_decision = fields.Field(column_name="business_days_to_decision")
    review_deadline_met = fields.Field(column_name="review_deadline_met")
    payout_due = fields.Field(column_name="payout_due")
    settled_at = fields.Field(column_name="settled_at")
    payout_deadline_met = fields.Field(column_name="payout_deadline_met")

    class Meta:
        export_order = (
            "reference",
            "received_at",
            "customer_name",
            "customer_email",
            "invoice_number",
            "invoice_date",
            "payment_method",
            "reason",
            "state",
            "recommendation",
            "reason_codes",
            "policy_version",
            "requested_amount",
            "refundable_amount",
            "approved_amount",
            "settled_amount",
            "currency",
            "assignee",
            "review_due",
            "decided_at",
            "business_days_to_decision",
            "review_deadline_met",
            "payout_due",
            "settled_at",
            "payout_deadline_met",
        )

    def __init__(self, *, calendar: BusinessCalendar | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._calendar = calendar
        self._days_cache: dict[tuple[dt.date, dt.date], int] = {}
        self._getters: list[Callable[[Row], Any]] | None = None

    # --- the queryset --------------------------------------------------------------

    def get_queryset(self) -> QuerySet[RefundRequest]:
        return RefundRequest.objects.order_by("received_at", "id")

    def rows(self, queryset: QuerySet[RefundRequest] | None = None) -> Iterator[Row]:
        """The report's source rows, streamed: one query, ``CHUNK_SIZE`` rows in memory at a time."""
        qs = self.get_queryset() if queryset is None else queryset
        return qs.values(*ROW_VALUES).iterator(chunk_size=CHUNK_SIZE)

    def iter_queryset(self, queryset: Any) -> Iterator[Row]:
        # _fields is set by values()/values_list(); a plain model queryset can be re-read as rows.
        # It is private, so django-stubs does not declare it.
        if (
            isinstance(queryset, QuerySet)
            and queryset.model is RefundRequest
            and not queryset._fields  # type: ignore[attr-defined]
        ):
            return self.rows(queryset)
        return iter(queryset)

    # --- cells -------------------------------------------------------------------------

    def export_field(self, field: fields.Field, instance: Any, **kwargs: Any) -> Any:
        # Typed values, not the widgets' strings: the writer decides how a number or date is shown.
        method = getattr(self, f"dehydrate_{self.get_field_name(field)}", None)
        return method(instance) if method is not None else field.get_value(instance)

    def export_resource(self, instance: Any, selected_fields: Any = None, **kwargs: Any) -> list[Any]:
        if selected_fields:
            return super().export_resource(instance, selected_fields, **kwargs)
        if self._getters is None:  # resolve the per-column accessors once, not once per cell
            self._getters = [self._getter(field) for field in self.get_export_fields()]
        return [get(instance) for get in self._getters]

    def _getter(self, field: fields.Field) -> Callable[[Row], Any]:
        method = getattr(self, f"dehydrate_{self.get_field_name(field)}", None)
        if method is not None:
            return method  # type: ignore[no-any-return]
        key = field.attribute
        return lambda row: row.get(key)

    def export_rows(self, rows: Iterable[Row]) -> Iterator[list[Any]]:
        for row in rows:
            yield self.export_resource(row)

    @property
    def calendar(self) -> BusinessCalendar:
        if self._calendar is None:
            self._calendar = business_calendar()
        return self._calendar

    def business_days(self, start: dt.date, end: dt.date) -> int:
        key = (start, end)
        days = self._days_cache.get(key)
        if days is None:
            days = self._days_cache[key] = self.calendar.business_days_between(start, end)
        return days

    def dehydrate_received_at(self, row: Row) -> dt.datetime | None:
        return _local(row["received_at"])

    def dehydrate_reason_codes(self, row: Row) -> str:
        # A decided request reports the codes its decision named (what the customer was told);
        # an open or withdrawn one the latest evaluation's codes.
        codes = row["decision_codes"] if row["state"] in DECIDED_STATES else row["evaluation_codes"]
        return ";".join(codes or ())

    def dehydrate_settled_amount(self, row: Row) -> Decimal | None:
        payout = row["payout__amount"]
        return payout if payout is not None else row["credit__amount"]

    def dehydrate_review_due(self, row: Row) -> dt.date | None:
        return _local_date(row["review_due_at"])

    def dehydrate_decided_at(self, row: Row) -> dt.datetime | None:
        return _local(row["decided_at"])

    def dehydrate_business_days_to_decision(self, row: Row) -> int | None:
        if row["state"] not in DECIDED_STATES or row["decided_at"] is None:
            return None
        return self.business_days(_local_date(row["received_at"]), _local_date(row["decided_at"]))  # type: ignore[arg-type]

    def dehydrate_review_deadline_met(self, row: Row) -> str:
        if row["state"] not in DECIDED_STATES:
            return ""  # open: not yet known; withdrawn: no review was owed
        return _met(row["decided_at"], row["review_due_at"])

    def dehydrate_payout_due(self, row: Row) -> dt.date | None:
        return _local_date(row["payout_due_at"])

    def dehydrate_settled_at(self, row: Row) -> dt.datetime | None:
        return _local(row["settled_at"])

    def dehydrate_payout_deadline_met(self, row: Row) -> str:
        if row["state"] not in SETTLED_STATES:
            return ""  # approved and not yet paid, or never approved
        return _met(row["settled_at"], row["payout_due_at"])
