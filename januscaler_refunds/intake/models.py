"""Every message that reaches the billing mailbox, once, and the triage list for those no rule could place.

An ``InboundMessage`` row is written for each distinct message before anything else is decided, so a
message is never lost: whatever happens next (a new request, a reply on a request, a triage item) is
recorded on that row as its ``outcome``. Re-ingesting the same message is a no-op, decided by two
unique keys (see ``intake.services.message_fingerprint``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from januscaler_refunds.billing.models import Invoice
from januscaler_refunds.refunds.models import RefundRequest


def raw_upload_to(instance: InboundMessage, filename: str) -> str:
    return f"inbound/{instance.content_hash[:2]}/{instance.content_hash}.eml"


class InboundMessage(models.Model):
    class Outcome(models.TextChoices):
        REQUEST = "request", "New refund request"
        REPLY = "reply", "Reply on a request"
        TRIAGE = "triage", "Triage"

    class Source(models.TextChoices):
        FILE = "file", "File / mbox / Maildir"
        IMAP = "imap", "IMAP mailbox"
        WEBHOOK = "webhook", "Inbound webhook"
        ADMIN = "admin", "Admin"

    # Keys: the exact bytes, and the message as its author sent it (Message-ID + body), so a copy that
    # gained trace headers or CRLF line endings on another route is still recognised.
    content_hash = models.CharField(
        max_length=64, unique=True, help_text="sha256 of the raw bytes."
    )
    fingerprint = models.CharField(max_length=64, unique=True)
    message_id = models.CharField(max_length=998, blank=True, default="", db_index=True)
    raw = models.FileField(upload_to=raw_upload_to, max_length=200, blank=True)
    size = models.PositiveBigIntegerField()
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.FILE)
    location = models.CharField(
        max_length=1000, blank=True, default="", help_text="Where it was read from."
    )
    received_at = models.DateTimeField(help_text="When we ingested it.")
    sent_at = models.DateTimeField(null=True, blank=True, help_text="The Date header, if readable.")

    subject = models.CharField(max_length=1000, blank=True, default="")
    from_address = models.CharField(max_length=320, blank=True, default="")
    from_name = models.CharField(max_length=300, blank=True, default="")
    in_reply_to = models.CharField(max_length=998, blank=True, default="")
    references = models.JSONField(default=list, blank=True)
    invoice_number = models.CharField(
        max_length=64, blank=True, default="", help_text="As read from the subject."
    )
    automated_kind = models.CharField(max_length=32, blank=True, default="")
    body_text = models.TextField(blank=True, default="")
    attachments = models.JSONField(
        default=list,
        blank=True,
        help_text="name, type, size, sha256 and why rejected, per attachment.",
    )

    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    request = models.ForeignKey(
        RefundRequest,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="inbound_messages",
    )
    error = models.TextField(blank=True, default="")
    defects = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["outcome", "received_at"])]

    def __str__(self) -> str:
        return f"{self.from_address or '?'}: {self.subject[:80] or '(no subject)'}"


class TriageItem(models.Model):
    """A message no rule could place, waiting for an agent to attach it or discard it."""

    class Reason(models.TextChoices):
        NO_INVOICE_NUMBER = "no_invoice_number", "No invoice number in the subject"
        UNKNOWN_INVOICE = "unknown_invoice", "Invoice number not found"
        AUTOMATED = "automated", "Automated mail (bounce, auto-reply, list)"
        UNPARSEABLE = "unparseable", "Could not be parsed"
        TOO_LARGE = "too_large", "Message too large"
        NO_SENDER = "no_sender", "No usable sender address"
        REFUSED = "refused", "Refused by a rule"
        REPLY_TO_CLOSED = "reply_to_closed", "Reply on a closed request"
        MESSAGE_ID_REUSED = "message_id_reused", "Message-ID seen before with other content"
        READ_ERROR = "read_error", "Could not be read from its source"
        INTERNAL_ERROR = "internal_error", "Unexpected error"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ATTACHED = "attached", "Attached"
        DISCARDED = "discarded", "Discarded"

    message = models.OneToOneField(InboundMessage, on_delete=models.PROTECT, related_name="triage")
    reason = models.CharField(max_length=32, choices=Reason.choices)
    detail = models.TextField(blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    request = models.ForeignKey(
        RefundRequest,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The request it was attached to.",
    )
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["created_at"], name="triage_open_created", condition=Q(status="open")
            ),
        ]
        permissions = [("resolve_triageitem", "Can attach or discard triage items")]

    def __str__(self) -> str:
        return f"{self.get_reason_display()}: {self.message}"


class RefundRequestImport(RefundRequest):
    """Refund requests as the import sees them: a separate admin entry with its own import permission."""

    class Meta:
        proxy = True
        verbose_name = "refund request import"
        verbose_name_plural = "refund request imports"
        permissions = [("import_refundrequestimport", "Can import refund requests (refund_requests.csv)")]


class MailboxHealth(models.Model):
    """How polling one IMAP mailbox is going: the failures, the back-off, and whether managers know.

    One row per mailbox (``user@host/folder``). A poll that fails records why and waits longer before
    the next attempt; a mailbox that disappeared or a login the server refuses (the password was
    changed) alerts the managers once per failing spell, so the intake never stops silently.
    """

    class Problem(models.TextChoices):
        NONE = "", "None"
        MISSING_MAILBOX = "missing_mailbox", "Mailbox not found on the server"
        LOGIN_REFUSED = "login_refused", "Login refused (password changed or account locked)"
        UNREACHABLE = "unreachable", "Server unreachable"
        PROTOCOL = "protocol", "Unexpected server answer"

    mailbox = models.CharField(max_length=500, unique=True)
    problem = models.CharField(max_length=20, choices=Problem.choices, blank=True, default="")
    detail = models.TextField(blank=True, default="")
    consecutive_failures = models.PositiveIntegerField(default=0)
    failing_since = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text="Polls before this are skipped (back-off after failures)."
    )
    last_success_at = models.DateTimeField(null=True, blank=True)
    alerted_at = models.DateTimeField(
        null=True, blank=True, help_text="When managers were told about the current failing spell."
    )

    class Meta:
        verbose_name = "mailbox health"
        verbose_name_plural = "mailbox health"

    def __str__(self) -> str:
        return f"{self.mailbox}: {self.get_problem_display() if self.problem else 'OK'}"
