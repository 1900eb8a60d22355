"""``export_refunds``: the refund report for scheduled use (cron, finance's scripts).

    python manage.py export_refunds --format csv --state paid --from 2026-05-01 --to 2026-05-31 -o may.csv

Same columns, streaming and neutralisation as the admin export; every run is recorded.
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from januscaler_refunds.refunds.models import Reason, State
from januscaler_refunds.reports import selectors, services
from januscaler_refunds.reports.models import ExportRecord


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"{value!r} is not a date; use YYYY-MM-DD.") from exc


class Command(BaseCommand):
    help = "Export the refund report (CSV or XLSX) with optional filters; '-' or no -o writes to stdout."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=ExportRecord.Format.values, default="csv")
        parser.add_argument("--state", action="append", choices=State.values, help="Repeat for several states.")
        parser.add_argument("--reason", action="append", choices=Reason.values, help="Repeat for several reasons.")
        parser.add_argument("--from", dest="date_from", help="Received on or after this date (Kolkata), YYYY-MM-DD.")
        parser.add_argument("--to", dest="date_to", help="Received on or before this date (Kolkata), YYYY-MM-DD.")
        parser.add_argument("-o", "--output", default="-", help="File to write; '-' (default) for stdout.")

    def handle(self, *args: Any, **options: Any) -> None:
        date_from = _date(options["date_from"]) if options["date_from"] else None
        date_to = _date(options["date_to"]) if options["date_to"] else None
        if date_from and date_to and date_to < date_from:
            raise CommandError("--to is before --from.")
        queryset = selectors.refund_requests_filtered(
            states=options["state"], reasons=options["reason"], received_from=date_from, received_to=date_to
        )
        record = services.export_record_create(
            user=None,
            fmt=options["format"],
            source=ExportRecord.Source.COMMAND,
            query_string=selectors.command_query_string(
                state=options["state"] or [], reason=options["reason"] or [],
                **{"from": options["date_from"] or "", "to": options["date_to"] or ""},
            ),
        )
        output = options["output"]
        if output == "-":
            stream = getattr(self.stdout, "_out", sys.stdout)
            binary = getattr(stream, "buffer", None)
            if binary is None:  # a text stream (e.g. call_command(stdout=StringIO())): decode once, CSV only
                if record.format != ExportRecord.Format.CSV:
                    raise CommandError("XLSX cannot be written to a text stream; use -o FILE.")
                for chunk in services.export_csv_stream(record=record, queryset=queryset):
                    stream.write(chunk.decode("utf-8"))
            else:
                services.export_write(record=record, queryset=queryset, out=binary)
                binary.flush()
        else:
            with open(output, "wb") as out:
                services.export_write(record=record, queryset=queryset, out=out)
            self.stderr.write(f"{record.row_count} rows written to {output} (sha256 {record.sha256}).")
