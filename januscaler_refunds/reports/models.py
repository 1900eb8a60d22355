"""Every refund-report export leaves a row here: who, when, which filter, how many rows, which bytes."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from januscaler_refunds.db_checks import choice_checks


class ExportRecord(models.Model):
    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "XLSX"

    class Source(models.TextChoices):
        ADMIN = "admin", "Admin queue"
        COMMAND = "command", "export_refunds command"
        MODEL = "model", "Admin export of a model (e.g. chargebacks)"

    class Status(models.TextChoices):
        PENDING = "pending", "Queued"
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        ABORTED = "aborted", "Aborted (download interrupted)"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=150, help_text="User name, or 'system' for scheduled runs.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=8, choices=Source.choices)
    query_string = models.TextField(
        blank=True, default="", help_text="The queue's filter and search (admin) or the command's options."
    )
    format = models.CharField(max_length=4, choices=Format.choices)
    is_async = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    rows_total = models.PositiveIntegerField(null=True, blank=True, help_text="Rows expected (async exports).")
    row_count = models.PositiveIntegerField(default=0, help_text="Rows written so far; the total once completed.")
    size = models.PositiveBigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, default="")
    file = models.FileField(upload_to="reports/exports/", max_length=300, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The worker claims queued exports; the exports page lists a user's own.
            models.Index(fields=["status"], name="export_unfinished", condition=Q(status__in=["pending", "running"])),
            models.Index(fields=["user", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_format_display()} export #{self.pk} by {self.actor_label} ({self.status})"

    @property
    def progress_percent(self) -> int | None:
        if self.status == self.Status.COMPLETED:
            return 100
        if not self.rows_total:
            return None
        return min(100, int(self.row_count * 100 / self.rows_total))

    @property
    def filename(self) -> str:
        return f"refund-report-{self.created_at:%Y%m%d-%H%M%S}-{self.pk}.{self.format}"


choice_checks(ExportRecord, "status")
