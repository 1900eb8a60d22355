"""The billing domain: who paid what, for which service, and what happened to it.

These rows are facts the policy engine judges a refund request against. They
come from other systems through imports (``import_billing``) or the admin.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q, Sum
from django.db.models.functions import Coalesce

from januscaler_refunds.db_checks import choice_checks
from januscaler_refunds.policy.versions import AnnouncementTooLate, check_announcement

MONEY: dict[str, Any] = {"max_digits": 14, "decimal_places": 2}
ZERO = Decimal("0.00")


class Currency(models.TextChoices):
    INR = "INR", "INR – Indian rupee"
    USD = "USD", "USD – US dollar"
    EUR = "EUR", "EUR – Euro"
    GBP = "GBP", "GBP – Pound sterling"
    JPY = "JPY", "JPY – Japanese yen"
    SGD = "SGD", "SGD – Singapore dollar"
    AED = "AED", "AED – UAE dirham"


class Customer(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"

    email = models.EmailField(unique=True, help_text="Primary contact and the import key.")
    name = models.CharField(max_length=200)
    other_emails = models.JSONField(
        default=list, blank=True, help_text="Further contact addresses that may file requests."
    )
    external_id = models.CharField(max_length=64, blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    suspended_at = models.DateTimeField(null=True, blank=True)
    suspension_reason = models.TextField(blank=True, default="")
    suspended_by = models.CharField(
        max_length=150, blank=True, default="", help_text="User name, or 'system' for automatic suspension."
    )
    # None: never requested; False: requested and still pending; True: verified.
    identity_verified = models.BooleanField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["external_id"], condition=~Q(external_id=""), name="customer_external_id_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"

    @property
    def all_emails(self) -> list[str]:
        return [self.email.lower(), *(e.lower() for e in self.other_emails or [])]


class Violation(models.Model):
    class Kind(models.TextChoices):
        TOS = "tos", "Terms of service"
        AUP = "aup", "Acceptable use policy"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="violations")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    opened_on = models.DateField()
    resolved_on = models.DateField(null=True, blank=True)
    note = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-opened_on"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "kind", "opened_on"], name="violation_natural_key")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} violation ({self.status}) of {self.customer_id}"


class InvoiceQuerySet(models.QuerySet["Invoice"]):
    def with_lines_total(self) -> InvoiceQuerySet:
        return self.annotate(
            lines_total=Coalesce(Sum("lines__amount"), ZERO, output_field=models.DecimalField(**MONEY))
        )


class Invoice(models.Model):
    class Kind(models.TextChoices):
        INITIAL = "initial", "Initial purchase"
        RENEWAL = "renewal", "Renewal"
        LATER_ORDER = "later_order", "Later order"

    class PaymentMethod(models.TextChoices):
        CARD = "card", "Card"
        BANK_TRANSFER = "bank_transfer", "Bank transfer"
        WALLET = "wallet", "Wallet"
        CRYPTO = "crypto", "Cryptocurrency"
        OTHER = "other", "Other"

    number = models.CharField(max_length=64, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="invoices")
    issued_on = models.DateField()
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.INITIAL)
    payment_method = models.CharField(max_length=16, choices=PaymentMethod.choices)
    currency = models.CharField(max_length=3, choices=Currency.choices)
    amount_paid = models.DecimalField(**MONEY, default=ZERO, validators=[MinValueValidator(ZERO)])
    paid_at = models.DateTimeField(null=True, blank=True)

    objects = InvoiceQuerySet.as_manager()

    class Meta:
        ordering = ["-issued_on", "number"]
        indexes = [models.Index(fields=["customer", "issued_on"])]
        constraints = [
            models.CheckConstraint(condition=Q(amount_paid__gte=0), name="invoice_amount_paid_non_negative")
        ]

    def __str__(self) -> str:
        return self.number

    def save(self, *args: object, **kwargs: object) -> None:
        self.number = normalize_invoice_number(self.number)
        super().save(*args, **kwargs)  # type: ignore[arg-type]


def normalize_invoice_number(value: str) -> str:
    """Invoice numbers are stored upper-case without spaces or a leading '#'."""
    return "".join(value.split()).lstrip("#").upper()


class InvoiceLine(models.Model):
    class Category(models.TextChoices):
        PLAN = "plan", "Plan / subscription"
        PREPAID_API_CREDIT = "prepaid_api_credit", "Prepaid API credit"
        USAGE_FEE = "usage_fee", "Usage-based fee"
        THIRD_PARTY_LICENSE = "third_party_license", "Third-party software licence"
        PAYMENT_GATEWAY_FEE = "payment_gateway_fee", "Payment-gateway fee"
        SETUP = "setup", "Setup"
        ONBOARDING = "onboarding", "Onboarding"
        CUSTOM_DEVELOPMENT = "custom_development", "Custom development"
        OTHER = "other", "Other"

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    line_no = models.PositiveIntegerField()
    category = models.CharField(max_length=24, choices=Category.choices)
    description = models.CharField(max_length=255)
    amount = models.DecimalField(**MONEY, validators=[MinValueValidator(ZERO)])
    units = models.PositiveBigIntegerField(null=True, blank=True, help_text="Prepaid API units bought.")
    service = models.CharField(max_length=64, blank=True, default="")
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["invoice", "line_no"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "line_no"], name="invoice_line_natural_key"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="invoice_line_amount_non_negative"),
            models.CheckConstraint(
                condition=Q(period_start__isnull=True)
                | Q(period_end__isnull=True)
                | Q(period_end__gte=models.F("period_start")),
                name="invoice_line_period_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.invoice.number} #{self.line_no} {self.description}"

    def clean(self) -> None:
        if self.category == self.Category.PREPAID_API_CREDIT and not self.units:
            raise ValidationError({"units": "A prepaid API credit line needs the number of units bought."})


class UsageRecord(models.Model):
    """API units consumed; for prepaid credit lines they are counted against the line."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="usage")
    invoice_line = models.ForeignKey(
        InvoiceLine, on_delete=models.CASCADE, related_name="usage", null=True, blank=True
    )
    service = models.CharField(max_length=64, blank=True, default="")
    at = models.DateTimeField(help_text="Start of the usage period.")
    period_end = models.DateTimeField(null=True, blank=True)
    units = models.PositiveBigIntegerField()

    class Meta:
        ordering = ["at"]
        indexes = [models.Index(fields=["invoice_line", "at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice_line", "at"],
                condition=Q(invoice_line__isnull=False),
                name="usage_line_at_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.units} units at {self.at:%Y-%m-%d %H:%M}"


class Incident(models.Model):
    class Cause(models.TextChoices):
        JANUSCALER = "januscaler", "Januscaler"
        THIRD_PARTY = "third_party", "Third party"
        FORCE_MAJEURE = "force_majeure", "Force majeure"

    ref = models.CharField(max_length=64, unique=True)
    service = models.CharField(max_length=64)
    start = models.DateTimeField()
    end = models.DateTimeField()
    cause = models.CharField(max_length=16, choices=Cause.choices)
    description = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-start"]
        indexes = [models.Index(fields=["service", "start"])]
        constraints = [models.CheckConstraint(condition=Q(end__gte=models.F("start")), name="incident_ordered")]

    def __str__(self) -> str:
        return f"{self.ref} {self.service} ({self.cause})"


class AbuseReport(models.Model):
    ref = models.CharField(max_length=64, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="abuse_reports")
    received_at = models.DateTimeField()
    summary = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return self.ref


class CompanyHoliday(models.Model):
    """A day the billing team does not work; it is not a business day (section 4.2)."""

    date = models.DateField(unique=True)
    name = models.CharField(max_length=120)

    class Meta:
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.name}"


def default_sla_credit_table() -> list[list[str]]:
    """Availability lower bound (percent) -> share of the plan lines, edges inclusive."""
    return [["99.9", "0"], ["99.0", "0.10"], ["95.0", "0.25"], ["0", "0.50"]]


class PolicyVersion(models.Model):
    """A version of the Refund Policy and the parameters the engine applies under it (section 7)."""

    label = models.CharField(max_length=32, unique=True)
    effective_date = models.DateField(unique=True)
    announced_on = models.DateField()
    material_change = models.BooleanField(
        default=True, help_text="Material changes must be announced at least 7 days before they take effect."
    )
    summary = models.TextField(blank=True, default="")
    mbg_window_days = models.PositiveSmallIntegerField(default=7)
    claim_window_days = models.PositiveSmallIntegerField(
        default=15, help_text="Filing window for billing errors and SLA claims."
    )
    review_business_days = models.PositiveSmallIntegerField(default=10)
    payout_business_days = models.PositiveSmallIntegerField(default=10)
    near_deadline_business_days = models.PositiveSmallIntegerField(default=2)
    pause_clock_on_info_request = models.BooleanField(default=True)
    extensive_use_ratio = models.DecimalField(max_digits=5, decimal_places=4, default=Decimal("0.25"))
    sla_credit_table = models.JSONField(default=default_sla_credit_table)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-effective_date"]

    def __str__(self) -> str:
        return f"{self.label} (from {self.effective_date:%Y-%m-%d})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # The announcement rule holds however the row is saved (admin, import, shell).
        check_announcement(self.effective_date, self.announced_on, self.material_change)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        try:
            check_announcement(self.effective_date, self.announced_on, self.material_change)
        except AnnouncementTooLate as exc:
            raise ValidationError({"announced_on": str(exc)}) from exc
        try:
            rows = [(Decimal(str(a)), Decimal(str(s))) for a, s in self.sla_credit_table]
        except Exception as exc:  # noqa: BLE001 - any malformed cell is the same user error
            raise ValidationError({"sla_credit_table": f"Rows must be [availability, share] pairs: {exc}"}) from exc
        if not rows or any(not (0 <= s <= 1) for _, s in rows):
            raise ValidationError({"sla_credit_table": "Shares must be between 0 and 1."})


class LedgerEntry(models.Model):
    """A charge or payment on a customer's account balance (e.g. chargeback dispute fees, section 6.3)."""

    class Kind(models.TextChoices):
        CHARGEBACK_FEE = "chargeback_fee", "Chargeback fee"
        DISPUTE_COST = "dispute_cost", "Dispute cost"
        PAYMENT = "payment", "Payment"
        ADJUSTMENT = "adjustment", "Adjustment"

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="ledger")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    amount = models.DecimalField(**MONEY, help_text="Positive adds to what the customer owes.")
    currency = models.CharField(max_length=3, choices=Currency.choices)
    description = models.CharField(max_length=255)
    source_key = models.CharField(
        max_length=120, unique=True, help_text="Idempotency key: the same charge is never booked twice."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # PROTECT, not SET_NULL: the ledger is append-only (db_guards), so who booked it stays.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "ledger entries"

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.currency}"


class ImportJob(models.Model):
    """An admin import too large for a web request (``IMPORT_ASYNC_ROWS``), run by the worker.

    The uploaded file is stored; ``intake.tasks.run_import_job`` imports it all or nothing and
    records the progress, the counts, or the errors (file, line, reason) the user who started it sees.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Queued"
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed (nothing was saved)"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    import_file = models.CharField(max_length=64, help_text="Imported as this file of import_billing.")
    original_name = models.CharField(max_length=255, blank=True, default="")
    upload = models.FileField(upload_to="imports/", max_length=300)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    rows_total = models.PositiveIntegerField(default=0, help_text="Data rows in the file.")
    rows_done = models.PositiveIntegerField(default=0, help_text="Rows checked so far.")
    new = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    errors = models.TextField(blank=True, default="", help_text="One line each: file, line, reason.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "created_at"])]

    def __str__(self) -> str:
        return f"{self.import_file} import #{self.pk} ({self.get_status_display()})"

    @property
    def progress_percent(self) -> int:
        if self.status == self.Status.COMPLETED:
            return 100
        return min(99, int(self.rows_done * 100 / self.rows_total)) if self.rows_total else 0


choice_checks(Customer, "status")
choice_checks(Invoice, "kind", "payment_method", "currency")
choice_checks(InvoiceLine, "category")
choice_checks(Incident, "cause")
choice_checks(LedgerEntry, "kind", "currency")
choice_checks(ImportJob, "status")
