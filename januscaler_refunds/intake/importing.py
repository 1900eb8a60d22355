"""``import_billing DIR``: the import files present in DIR, in dependency order, all or nothing.

On PostgreSQL the high-volume billing files (customers, invoices, invoice lines, usage) take the
bulk path (``bulk_import``: checked in Python, ``COPY`` into staging tables, set-based checks and
upserts); the others, and every file on SQLite, go row by row through their django-import-export
resource. Refund requests and chargebacks always go through their services.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tablib
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string
from import_export.results import Result, RowResult
from kombu.exceptions import OperationalError as KombuOperationalError

from januscaler_refunds.billing.models import ImportJob
from januscaler_refunds.intake import bulk_import, bulk_rows
from januscaler_refunds.intake.import_report import FileReport, ImportFailed

__all__ = ["IMPORT_FILES", "FileReport", "ImportFailed", "import_directory", "import_paths", "read_csv"]
log = logging.getLogger(__name__)

# File name -> resource class (dotted, imported lazily: chargebacks belong to another app).
IMPORT_FILES: dict[str, str] = {
    "customers.csv": "januscaler_refunds.intake.resources.CustomerResource",
    "violations.csv": "januscaler_refunds.intake.resources.ViolationResource",
    "invoices.csv": "januscaler_refunds.intake.resources.InvoiceResource",
    "invoice_lines.csv": "januscaler_refunds.intake.resources.InvoiceLineResource",
    "usage.csv": "januscaler_refunds.intake.resources.UsageResource",
    "incidents.csv": "januscaler_refunds.intake.resources.IncidentResource",
    "abuse_reports.csv": "januscaler_refunds.intake.resources.AbuseReportResource",
    "company_holidays.csv": "januscaler_refunds.intake.resources.CompanyHolidayResource",
    "refund_requests.csv": "januscaler_refunds.intake.resources.RefundRequestResource",
    "chargebacks.csv": "januscaler_refunds.chargebacks.resources.ChargebackResource",
}


def read_csv(path: Path) -> tablib.Dataset:
    # utf-8-sig: a byte-order mark written by spreadsheet programs is not part of the first header.
    text = path.read_text(encoding="utf-8-sig")
    return tablib.Dataset().load(text, format="csv")


def row_errors(result: Result, file_name: str, resource: Any = None) -> list[str]:
    """``file, line N: reason`` for every failed row; the header is line 1, the first data row line 2."""
    columns = {f.attribute: f.column_name for f in resource.fields.values() if f.attribute} if resource else {}
    messages: list[str] = []
    for error in result.base_errors:
        messages.append(f"{file_name}: {error.error}")
    for number, errors in result.row_errors():
        for error in errors:
            messages.append(f"{file_name}, line {number + 1}: {error.error}")
    for invalid in result.invalid_rows:
        reasons = []
        for column, texts in invalid.error_dict.items():
            joined = " ".join(str(t) for t in texts)
            reasons.append(joined if column == "__all__" else f"{columns.get(column, column)}: {joined}")
        messages.append(f"{file_name}, line {invalid.number + 1}: {'; '.join(reasons)}")
    return messages


def import_file(
    resource_path: str, path: Path, *, user: Any = None, dry_run: bool = False
) -> tuple[Result, FileReport]:
    resource_class = import_string(resource_path)
    kwargs = {"base_dir": path.parent} if "base_dir" in resource_class.__init__.__code__.co_varnames else {}
    resource = resource_class(**kwargs)
    dataset = read_csv(path)
    result = resource.import_data(
        dataset, dry_run=dry_run, use_transactions=True, rollback_on_validation_errors=True, user=user
    )
    report = FileReport(
        name=path.name,
        new=result.totals[RowResult.IMPORT_TYPE_NEW],
        updated=result.totals[RowResult.IMPORT_TYPE_UPDATE],
        skipped=result.totals[RowResult.IMPORT_TYPE_SKIP],
        errors=row_errors(result, path.name, resource),
    )
    return result, report


def import_directory(
    directory: Path, *, user: Any = None, dry_run: bool = False, bulk: bool | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> list[FileReport]:
    """Import every known file present in ``directory``; any error rolls all of them back.

    Raises ImportFailed (with every file's report) when a row failed; nothing is saved then.
    """
    paths = {name: directory / name for name in IMPORT_FILES if (directory / name).is_file()}
    return import_paths(paths, user=user, dry_run=dry_run, bulk=bulk, progress=progress)


def import_paths(
    paths: dict[str, Path], *, user: Any = None, dry_run: bool = False, bulk: bool | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> list[FileReport]:
    """Import the files ``{import file name: path}`` in dependency order, all or nothing.

    ``bulk``: None takes the bulk path where it exists (PostgreSQL), False forces row by row.
    ``progress(file name, rows read)`` is called while the bulk path reads a file.
    """
    use_bulk = bulk_import.available() if bulk is None else bulk
    ordered = [(name, paths[name]) for name in IMPORT_FILES if name in paths]
    reports: list[FileReport] = []
    with transaction.atomic():
        batch = bulk_import.BulkImport(progress=progress) if use_bulk else None
        if batch is not None:
            # Every value of every bulk file first, then what needs the database: a bad row is
            # reported before anything is written, wherever it is.
            for name, path in ordered:
                if bulk_rows.handles(name, path):
                    batch.stage(name, path)
            for name in batch.staged:
                batch.check(name)
        for name, path in ordered:
            if batch is not None and name in batch.staged:
                reports.append(batch.apply(name))
                continue
            resource_path = IMPORT_FILES[name]
            try:
                _, report = import_file(resource_path, path, user=user, dry_run=False)
            except ImportError as exc:
                report = FileReport(name=name, errors=[f"{name}: cannot load {resource_path}: {exc}"])
            except (UnicodeDecodeError, tablib.InvalidDimensions, ValueError) as exc:
                report = FileReport(name=name, errors=[f"{name}: unreadable CSV: {exc}"])
            reports.append(report)
            if report.errors:
                # Later files depend on this one; stop here and save nothing.
                transaction.set_rollback(True)
                raise ImportFailed(reports)
        if batch is not None:
            batch.close()
        if dry_run:
            transaction.set_rollback(True)
    return reports


# --- admin imports run by the worker (billing.ImportJob) ---------------------------------------------

# A job still "running" this long after it started lost its worker; a redelivered task takes it over.
IMPORT_JOB_STALE = dt.timedelta(hours=1)


def import_file_name_for(resource_class: type) -> str | None:
    """The ``import_billing`` file an admin's resource imports (``customers.csv`` ...), or None."""
    dotted = f"{resource_class.__module__}.{resource_class.__qualname__}"
    return next((name for name, path in IMPORT_FILES.items() if path == dotted), None)


def import_job_create(*, user: Any, import_file: str, upload: Any, rows_total: int) -> ImportJob:
    """Store the upload and queue its import once this transaction commits."""
    from januscaler_refunds.intake.tasks import run_import_job

    job = ImportJob(user=user, import_file=import_file, original_name=upload.name[:255], rows_total=rows_total)
    job.upload.save(f"{import_file.removesuffix('.csv')}-{timezone.now():%Y%m%d-%H%M%S}.csv", upload, save=False)
    job.save()

    def enqueue() -> None:
        try:
            run_import_job.delay(job.pk)
        except (KombuOperationalError, OSError):
            # Broker unreachable: say so on the job rather than leave it queued for ever.
            ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.PENDING).update(
                status=ImportJob.Status.FAILED, finished_at=timezone.now(),
                errors="The import could not be queued: the background service is unreachable. Upload it again later.",
            )

    transaction.on_commit(enqueue)
    return job


def _progress_recorder(job_id: int) -> Callable[[str, int], None] | None:
    """Progress goes through a second connection: the import's own transaction is not visible yet.

    SQLite allows one writer, so there the job shows "running" until it ends.
    """
    if connection.vendor != "postgresql":
        return None

    def record(name: str, rows: int) -> None:
        side = connections.create_connection(DEFAULT_DB_ALIAS)
        try:
            with side.cursor() as cursor:
                cursor.execute("UPDATE billing_importjob SET rows_done = %s WHERE id = %s", [rows, job_id])
        finally:
            side.close()

    return record


def import_job_run(*, job_id: int) -> ImportJob | None:
    """Import a queued job's file, all or nothing; safe to run twice (a compare-and-set claims it)."""
    now = timezone.now()
    claimed = ImportJob.objects.filter(
        Q(status=ImportJob.Status.PENDING) | Q(status=ImportJob.Status.RUNNING, started_at__lt=now - IMPORT_JOB_STALE),
        pk=job_id,
    ).update(status=ImportJob.Status.RUNNING, started_at=now, rows_done=0)
    if not claimed:
        return None
    job = ImportJob.objects.select_related("user").get(pk=job_id)
    result: dict[str, Any] = {"status": ImportJob.Status.COMPLETED, "errors": ""}
    with tempfile.TemporaryDirectory(prefix="import-job-") as folder:
        # The bulk path reads a named file; the stored upload may live in any storage.
        path = Path(folder) / job.import_file
        with job.upload.open("rb") as source, path.open("wb") as target:
            shutil.copyfileobj(source, target)
        try:
            (report,) = import_paths({job.import_file: path}, user=job.user, progress=_progress_recorder(job.pk))
            result.update(new=report.new, updated=report.updated, skipped=report.skipped,
                          rows_done=report.new + report.updated + report.skipped)
        except ImportFailed as failed:
            result.update(status=ImportJob.Status.FAILED, errors="\n".join(e for r in failed.reports for e in r.errors))
        except Exception as exc:  # noqa: BLE001 - whatever stopped it, the user sees it on the job
            log.exception("import job %s failed", job_id)
            result.update(status=ImportJob.Status.FAILED, errors=f"The import stopped: {exc}. Nothing was saved.")
    ImportJob.objects.filter(pk=job_id).update(finished_at=timezone.now(), **result)
    job.refresh_from_db()
    return job
