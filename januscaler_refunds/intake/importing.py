"""``import_billing DIR``: the import files present in DIR, in dependency order, all or nothing.

On PostgreSQL the high-volume billing files (customers, invoices, invoice lines, usage) take the
bulk path (``bulk_import``: checked in Python, ``COPY`` into staging tables, set-based checks and
upserts); the others, and every file on SQLite, go row by row through their django-import-export
resource. Refund requests and chargebacks always go through their services.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import tablib
from django.db import transaction
from django.utils.module_loading import import_string
from import_export.results import Result, RowResult

from januscaler_refunds.intake import bulk_import, bulk_rows
from januscaler_refunds.intake.import_report import FileReport, ImportFailed

__all__ = ["IMPORT_FILES", "FileReport", "ImportFailed", "import_directory", "import_paths", "read_csv"]

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
