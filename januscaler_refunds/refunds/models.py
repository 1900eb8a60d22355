"""Refund requests and their life: the state machine, documents, the log, outcomes.

The state machine (django-fsm-2) owns ``RefundRequest.state``: the field is
protected, transition methods change only the row's own fields, and the
services in ``services.py`` wrap each one in lock -> check -> transition ->
save -> log -> on_commit(enqueue).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django_fsm import RETURN_VALUE, FSMField, FSMModelMixin, transition

from januscaler_refunds.billing.models import (
    MONEY,
    ZERO,
    Currency,
    Customer,
    Invoice,
    PolicyVersion,
)
from januscaler_refunds.db_checks import choice_checks


class State(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"
    UNDER_REVIEW = "under_review", "Under review"
    INFO_REQUESTED = "info_requested", "Information requested"
    APPROVED = "approved", "Approved"
    DENIED = "denied", "Denied"
    PAID = "paid", "Paid"
    CREDITED = "credited", "Credited"
    WITHDRAWN = "withdrawn", "Withdrawn"


OPEN_STATES = (State.SUBMITTED, State.UNDER_REVIEW, State.INFO_REQUESTED)
UNSETTLED_STATES = (*OPEN_STATES, State.APPROVED)
FINAL_STATES = (State.DENIED, State.PAID, State.CREDITED, State.WITHDRAWN)


class Reason(models.TextChoices):
    BILLING_ERROR = "billing_error", "Billing error"
    SERVICE_UNAVAILABILITY = "service_unavailability", "Service unavailability (SLA)"
    MONEY_BACK_GUARANTEE = "money_back_guarantee", "7-day money-back guarantee"
    OTHER = "other", "Other / dissatisfaction"


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    ADMIN = "admin", "Admin (manual intake)"
    IMPORT = "import", "Import"


class Recommendation(models.TextChoices):
    APPROVE = "approve", "Approve"
    APPROVE_PARTIALLY = "approve_partially", "Approve partially"
    DENY = "deny", "Deny"
    NEEDS_INFORMATION = "needs_information", "Needs information"
    CREDIT_AT_DISCRETION = "credit_at_discretion", "Credit at discretion"


class DeadlineStatus(models.TextChoices):
    OK = "ok", "OK"
    NEAR = "near", "Near"
    OVERDUE = "overdue", "Overdue"


class StateFieldProtected(Exception):
    """Raised when code tries to bulk-update the state field, bypassing the state machine."""


class RefundRequestQuerySet(models.QuerySet["RefundRequest"]):
    def update(self, **kwargs: Any) -> int:
        if "state" in kwargs:
            raise StateFieldProtected(
                "RefundRequest.state changes only through a transition service (refunds.services)."
            )
        return super().update(**kwargs)

    def open(self) -> RefundRequestQuerySet:
        return self.filter(state__in=OPEN_STATES)

    def unsettled(self) -> RefundRequestQuerySet:
        return self.filter(state__in=UNSETTLED_STATES)


class RefundRequest(FSMModelMixin, models.Model):
    reference = models.CharField(max_length=20, unique=True, editable=False)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="refund_requests")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="refund_requests")
    requester_email = models.EmailField(help_text="Who asked; may differ from the invoice's customer.")
    reason = models.CharField(max_length=32, choices=Reason.choices)
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.ADMIN)
    received_at = models.DateTimeField(db_index=True)
    message = models.TextField(blank=True, default="")
    requested_amount = models.DecimalField(**MONEY, null=True, blank=True)
    currency = models.CharField(max_length=3, choices=Currency.choices)
    verified_overcharge = models.DecimalField(
        **MONEY, null=True, blank=True, help_text="Billing errors: the overcharge an agent verified."
    )
    thread_message_id = models.CharField(max_length=255, blank=True, default="", db_index=True)
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="duplicates"
    )

    state = FSMField(default=State.SUBMITTED, choices=State.choices, protected=True, db_index=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_refunds"
    )
    policy_version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="refund_requests")

    # Latest stored evaluation (a snapshot; see refunds.evaluation).
    recommendation = models.CharField(max_length=24, choices=Recommendation.choices, blank=True, default="")
    refundable_amount = models.DecimalField(**MONEY, null=True, blank=True)
    evaluation_codes = models.JSONField(default=list, blank=True)
    evaluation = models.JSONField(default=dict, blank=True)
    evaluated_at = models.DateTimeField(null=True, blank=True)

    # Deadlines are stored columns so scans and the queue query them directly.
    review_due_at = models.DateTimeField(null=True, blank=True)
    payout_due_at = models.DateTimeField(null=True, blank=True)
    review_deadline_status = models.CharField(max_length=8, choices=DeadlineStatus.choices, blank=True, default="")
    payout_deadline_status = models.CharField(max_length=8, choices=DeadlineStatus.choices, blank=True, default="")
    business_days_left = models.IntegerField(null=True, blank=True)

    # Decision.
    approved_amount = models.DecimalField(**MONEY, null=True, blank=True)
    override_reason = models.TextField(blank=True, default="")
    overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decision_codes = models.JSONField(default=list, blank=True)
    decision_note = models.TextField(blank=True, default="")
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    settled_at = models.DateTimeField(null=True, blank=True)
    # The invoice as it stood when the decision was taken: payouts are checked against this, so a
    # later edit of the invoice (e.g. crypto -> card) cannot open a way to pay (issue 12, finding 4).
    decided_payment_method = models.CharField(
        max_length=16, choices=Invoice.PaymentMethod.choices, blank=True, default=""
    )
    decided_amount_paid = models.DecimalField(**MONEY, null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RefundRequestQuerySet.as_manager()

    class Meta:
        ordering = ["review_due_at", "received_at"]
        permissions = [
            ("review_refundrequest", "Can work the review queue (claim, review, request information)"),
            ("approve_refundrequest", "Can approve refund requests within the refundable amount"),
            ("approve_above_limit_refundrequest", "Can approve above the agents' approval limit"),
            ("override_refundrequest", "Can approve above the refundable amount with a written reason"),
            ("deny_refundrequest", "Can deny refund requests"),
            ("grant_credit_refundrequest", "Can grant account credits (crypto payers)"),
            ("record_payout_refundrequest", "Can record payouts and credits"),
            ("export_refundrequest", "Can export refund reports"),
        ]
        indexes = [
            # The deadline scan and the queue only look at requests still in play.
            models.Index(
                fields=["review_due_at"],
                name="refund_open_review_due",
                condition=Q(state__in=["submitted", "under_review", "info_requested"]),
            ),
            models.Index(fields=["payout_due_at"], name="refund_approved_payout_due", condition=Q(state="approved")),
            # The queue's ordering (refunds.queue.QUEUE_ORDERING): open work by default, all on request.
            models.Index(
                fields=["review_due_at", "received_at", "id"],
                name="refund_open_queue",
                condition=Q(state__in=["submitted", "under_review", "info_requested"]),
            ),
            models.Index(fields=["review_due_at", "received_at", "id"], name="refund_queue_order"),
            models.Index(fields=["invoice", "received_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(requested_amount__isnull=True) | Q(requested_amount__gte=0),
                name="refund_requested_amount_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(approved_amount__isnull=True) | Q(approved_amount__gte=0),
                name="refund_approved_amount_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(verified_overcharge__isnull=True) | Q(verified_overcharge__gte=0),
                name="refund_verified_overcharge_non_negative",
            ),
            # Approving above the refundable amount needs a recorded override reason.
            models.CheckConstraint(
                condition=Q(approved_amount__isnull=True)
                | Q(refundable_amount__isnull=True)
                | Q(approved_amount__lte=models.F("refundable_amount"))
                | ~Q(override_reason=""),
                name="refund_approved_within_refundable_or_overridden",
            ),
        ]

    def __str__(self) -> str:
        return self.reference

    # --- derived facts ---------------------------------------------------------

    @property
    def is_crypto(self) -> bool:
        return self.invoice.payment_method == Invoice.PaymentMethod.CRYPTO

    # Payouts and credits are append-only (never deleted), so one already cached on this instance
    # (Django caches it on the request when ``Payout(request=request)`` is made, as the services do)
    # proves it exists without a query; the transition checks its conditions twice.
    def has_payout(self) -> bool:
        if self._state.fields_cache.get("payout") is not None:
            return True
        return Payout.objects.filter(request=self).exists()

    def has_credit(self) -> bool:
        if self._state.fields_cache.get("credit") is not None:
            return True
        return AccountCredit.objects.filter(request=self).exists()

    # --- conditions (django-fsm) --------------------------------------------------
    # django-fsm-2 types a condition as Callable[[Model], bool], so mypy rejects these methods
    # (they take a RefundRequest) although django-fsm calls them with this instance; the
    # transitions below silence only that list-item error.

    def has_approved_amount(self) -> bool:
        return self.approved_amount is not None

    def not_crypto_paid(self) -> bool:
        return not self.is_crypto

    # --- transitions: they change only this row's own fields ------------------------

    @transition(field=state, source=State.SUBMITTED, target=State.UNDER_REVIEW,
                permission="refunds.review_refundrequest")
    def start_review(self) -> None:
        """An agent picks the request up."""

    @transition(field=state, source=State.UNDER_REVIEW, target=State.INFO_REQUESTED,
                permission="refunds.review_refundrequest")
    def request_information(self) -> None:
        """Section 4.2: we may contact the customer for more information; the review clock pauses."""

    @transition(field=state, source=State.INFO_REQUESTED, target=State.UNDER_REVIEW)
    def resume_review(self) -> None:
        """The customer answered (or an agent resumes); the review clock runs again."""

    @transition(field=state, source=State.UNDER_REVIEW, target=State.APPROVED,
                conditions=[has_approved_amount], permission="refunds.approve_refundrequest")  # type: ignore[list-item]
    def approve(self) -> None:
        """Approve ``approved_amount``; the payout clock starts (section 4.3)."""

    @transition(field=state, source=[State.UNDER_REVIEW, State.INFO_REQUESTED], target=State.DENIED,
                permission="refunds.deny_refundrequest")
    def deny(self) -> None:
        """Deny with reason codes and a message to the customer."""

    @transition(field=state, source=State.APPROVED, target=State.PAID,
                conditions=[not_crypto_paid, has_payout], permission="refunds.record_payout_refundrequest")  # type: ignore[list-item]
    def mark_paid(self) -> None:
        """Section 4.3: refunded to the original payment method; never for crypto payments."""

    @transition(field=state, source=State.APPROVED, target=State.CREDITED,
                conditions=[has_credit], permission="refunds.record_payout_refundrequest")  # type: ignore[list-item]
    def mark_credited(self) -> None:
        """Settled as an account credit (crypto payers, section 4.3)."""

    @transition(field=state, source=list(OPEN_STATES), target=State.WITHDRAWN)
    def withdraw(self) -> None:
        """The customer withdraws before a decision."""

    @transition(field=state, source=State.SUBMITTED,
                target=RETURN_VALUE(State.APPROVED, *FINAL_STATES))
    def import_history(self, target: str) -> str:
        """History from an older system lands in its recorded state (intake: history)."""
        return target


class InformationRequest(models.Model):
    """One pause of the review clock: asked on ``requested_at``, answered on ``answered_at``."""

    request = models.ForeignKey(RefundRequest, on_delete=models.CASCADE, related_name="information_requests")
    requested_at = models.DateTimeField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    missing = models.TextField(help_text="What the customer must send.")
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["requested_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["request"], condition=Q(answered_at__isnull=True), name="one_pending_information_request"
            )
        ]

    def __str__(self) -> str:
        return f"Information requested {self.requested_at:%Y-%m-%d}: {self.missing[:60]}"


def document_upload_to(instance: RefundDocument, filename: str) -> str:
    return f"documents/{instance.request.reference}/{instance.sha256[:12]}-{filename}"


class RefundDocument(models.Model):
    class Source(models.TextChoices):
        EMAIL = "email", "Email"
        ADMIN = "admin", "Admin upload"
        IMPORT = "import", "Import"

    request = models.ForeignKey(RefundRequest, on_delete=models.CASCADE, related_name="documents")
    file = models.FileField(upload_to=document_upload_to, max_length=300)
    name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.ADMIN)
    uploaded_at = models.DateTimeField(auto_now_add=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["uploaded_at"]
        constraints = [models.UniqueConstraint(fields=["request", "sha256"], name="document_unique_per_request")]

    def __str__(self) -> str:
        return self.name


class AppendOnlyError(Exception):
    """The transition log is append-only."""


class Transition(models.TextChoices):
    """The names ``TransitionLog.transition`` stores (free text there), with their labels."""

    CREATE = "create", "Logged"
    START_REVIEW = "start_review", "Review started"
    REQUEST_INFORMATION = "request_information", "Information requested"
    RESUME_REVIEW = "resume_review", "Review resumed"
    APPROVE = "approve", "Approved"
    DENY = "deny", "Denied"
    WITHDRAW = "withdraw", "Withdrawn"
    MARK_PAID = "mark_paid", "Payout recorded"
    MARK_CREDITED = "mark_credited", "Credit granted"
    CHANGE_REASON = "change_reason", "Reason changed"


class TransitionLogQuerySet(models.QuerySet["TransitionLog"]):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError("The transition log is append-only; rows cannot be updated.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("The transition log is append-only; rows cannot be deleted.")


class TransitionLog(models.Model):
    """Who moved a request from which state to which, when and why. Never changed afterwards."""

    request = models.ForeignKey(RefundRequest, on_delete=models.PROTECT, related_name="log")
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=150, help_text="User name, 'system', or 'import by <user>'.")
    transition = models.CharField(max_length=40)
    from_state = models.CharField(max_length=16, choices=State.choices, blank=True, default="")
    to_state = models.CharField(max_length=16, choices=State.choices)
    note = models.TextField(blank=True, default="")

    objects = TransitionLogQuerySet.as_manager()

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["request", "at"])]

    def __str__(self) -> str:
        return f"{self.request_id}: {self.from_state or '-'} -> {self.to_state} by {self.actor_label}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise AppendOnlyError("The transition log is append-only; rows cannot be updated.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("The transition log is append-only; rows cannot be deleted.")


class Payout(models.Model):
    """The refund to the original payment method (section 4.3). At most one per request."""

    class Method(models.TextChoices):
        CARD = "card", "Card refund"
        BANK_TRANSFER = "bank_transfer", "Bank transfer"
        WALLET = "wallet", "Wallet"
        OTHER = "other", "Other"

    request = models.OneToOneField(RefundRequest, on_delete=models.PROTECT, related_name="payout")
    method = models.CharField(max_length=16, choices=Method.choices)
    reference = models.CharField(max_length=120, help_text="The payment processor's reference.")
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, choices=Currency.choices)
    paid_at = models.DateTimeField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="payout_amount_positive")]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} ({self.reference})"


class PayoutMethodException(models.Model):
    """Section 4.3: refunds go to the invoice's original payment method. A manager may allow one
    other method for one request (say the card was closed), with the reason; finance then pays by
    it. Recorded and logged by ``refunds.services.refund_request_allow_payout_method``."""

    request = models.OneToOneField(RefundRequest, on_delete=models.PROTECT, related_name="payout_method_exception")
    method = models.CharField(max_length=16, choices=Payout.Method.choices)
    reason = models.TextField()
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    granted_at = models.DateTimeField()

    class Meta:
        constraints = [models.CheckConstraint(condition=~Q(reason=""), name="payout_method_exception_has_reason")]

    def __str__(self) -> str:
        return f"{self.request_id}: pay by {self.get_method_display()}"


class AccountCredit(models.Model):
    """An account credit instead of a payout (crypto payments, section 4.3). At most one per request."""

    request = models.OneToOneField(RefundRequest, on_delete=models.PROTECT, related_name="credit")
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, choices=Currency.choices)
    note = models.TextField(blank=True, default="")
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="credit_amount_positive")]

    def __str__(self) -> str:
        return f"credit {self.amount} {self.currency}"


class InternalNote(models.Model):
    request = models.ForeignKey(RefundRequest, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.body[:60]


class MessageKind(models.TextChoices):
    """What a customer message is (``CustomerMessage.kind``; the column keeps free text)."""

    ACKNOWLEDGEMENT = "acknowledgement", "Acknowledgement"
    INFORMATION_REQUEST = "information_request", "Information request"
    DECISION = "decision", "Decision"
    PAYOUT_CONFIRMATION = "payout_confirmation", "Payout confirmation"
    CREDIT_CONFIRMATION = "credit_confirmation", "Credit confirmation"
    REPLY = "reply", "Customer's reply"
    REQUEST = "request", "Customer's request"


class CustomerMessage(models.Model):
    """A message to or from the customer about a request: what was said and whether it went out."""

    class Direction(models.TextChoices):
        INBOUND = "in", "From customer"
        OUTBOUND = "out", "To customer"

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    request = models.ForeignKey(RefundRequest, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    kind = models.CharField(max_length=40, help_text="acknowledgement, information_request, decision, ...")
    to_email = models.CharField(max_length=254, blank=True, default="")
    subject = models.CharField(max_length=255)
    body = models.TextField()
    message_id = models.CharField(max_length=255, blank=True, default="", db_index=True)
    status = models.CharField(max_length=10, choices=Status.choices)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.get_direction_display()}: {self.subject}"

    @property
    def kind_label(self) -> str:
        labels = dict(MessageKind.choices)
        return str(labels.get(self.kind, self.kind.replace("_", " ").capitalize()))


class ApprovalLimit(models.Model):
    """The most an agent may approve without a manager, per currency (set by managers)."""

    currency = models.CharField(max_length=3, choices=Currency.choices, unique=True)
    agent_limit = models.DecimalField(**MONEY, default=ZERO)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.agent_limit} {self.currency}"


choice_checks(
    RefundRequest, "state", "reason", "currency", "recommendation", "review_deadline_status", "payout_deadline_status"
)
choice_checks(TransitionLog, "from_state", "to_state")
choice_checks(Payout, "method", "currency")
choice_checks(AccountCredit, "currency")
choice_checks(CustomerMessage, "direction", "status")
