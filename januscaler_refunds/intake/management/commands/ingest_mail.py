"""``ingest_mail PATH...``: ingest .eml files, mbox files, Maildir folders and directories of them."""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from januscaler_refunds.intake.run import IngestRun
from januscaler_refunds.intake.services import ingest_raw_message
from januscaler_refunds.intake.sources import iter_messages

LABELS = [
    ("request", "requests"),
    ("reply", "replies"),
    ("triage", "triage items"),
    ("duplicate", "duplicates (already ingested)"),
    ("errors", "errors"),
]


class Command(BaseCommand):
    help = "Ingest refund-request emails from .eml files, mbox files and Maildir folders."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("paths", nargs="+", metavar="PATH")

    def handle(self, *args: Any, paths: list[str], **options: Any) -> None:
        counts = ingest_paths(paths, stderr=self.stderr)
        self.stdout.write(", ".join(f"{counts[key]} {label}" for key, label in LABELS))
        if counts["missing"]:
            raise CommandError(f"{counts['missing']} path(s) not found")


def ingest_paths(paths: list[str], *, stderr: Any = None) -> Counter[str]:
    """Ingest every message under ``paths``; one bad message is counted, never fatal.

    Each message is its own transaction; what the messages share (policy versions, calendar,
    prepared queries) is read once for the whole run (``intake.run.IngestRun``)."""
    counts: Counter[str] = Counter()
    run = IngestRun()
    for path in paths:
        try:
            messages = iter_messages(path)
            for source in messages:
                try:
                    result = ingest_raw_message(
                        source.raw,
                        location=source.location,
                        now=timezone.now(),
                        read_error=source.error,
                        run=run,
                    )
                except Exception as exc:  # noqa: BLE001 - report and go on with the next message
                    counts["errors"] += 1
                    if stderr is not None:
                        stderr.write(f"{source.location}: {type(exc).__name__}: {exc}")
                    continue
                counts[result.outcome] += 1
        except FileNotFoundError as exc:
            counts["missing"] += 1
            if stderr is not None:
                stderr.write(str(exc))
    return counts
