"""``import_billing DIR [--dry-run]``: billing data from CSV files, all-or-nothing (docs/intake.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from januscaler_refunds.intake.importing import FileReport, ImportFailed, import_directory


class Command(BaseCommand):
    help = "Import customers, invoices, usage, incidents, ... and refund requests from the CSV files in DIR."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("directory", metavar="DIR")
        parser.add_argument("--dry-run", action="store_true", help="Check and count, then roll everything back.")
        parser.add_argument("--user", help="User name recorded as the importer (transition log: 'import by <user>').")

    def handle(self, *args: Any, directory: str, dry_run: bool, user: str | None, **options: Any) -> None:
        folder = Path(directory)
        if not folder.is_dir():
            raise CommandError(f"{folder} is not a directory")
        importer = None
        if user:
            try:
                importer = get_user_model().objects.get_by_natural_key(user)
            except get_user_model().DoesNotExist as exc:
                raise CommandError(f"no user {user!r}") from exc
        try:
            reports = import_directory(folder, user=importer, dry_run=dry_run)
        except ImportFailed as failed:
            self._print(failed.reports)
            for report in failed.reports:
                for error in report.errors:
                    self.stderr.write(error)
            raise CommandError("Import failed; nothing was saved.") from None
        if not reports:
            raise CommandError(f"No import files in {folder} (expected e.g. customers.csv, invoices.csv).")
        self._print(reports)
        if dry_run:
            self.stdout.write("Dry run: nothing was saved.")

    def _print(self, reports: list[FileReport]) -> None:
        for report in reports:
            status = "FAILED" if report.errors else "ok"
            self.stdout.write(
                f"{report.name}: {report.new} new, {report.updated} updated, {report.skipped} skipped ({status})"
            )
