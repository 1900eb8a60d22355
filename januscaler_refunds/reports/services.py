"""Writes for reports: render the refund report to CSV or XLSX and record every export.

CSV on PostgreSQL is produced by the database (``sql_export``: formatting and neutralisation in SQL,
streamed with ``COPY … TO STDOUT``); elsewhere (SQLite), and for XLSX, rows are formatted here from
``RefundReportResource``. Both CSV paths write the same bytes (asserted in tests/reports).

Formula neutralisation (CWE-1236): a text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or
a carriage return could run as a formula when the file is opened in a spreadsheet. In CSV it gets a
leading ``'``; in XLSX it is written as a text cell (with Excel's quote-prefix style), its value
unchanged. Numbers (amounts, day counts) are never touched: a refund of ``-5.00`` stays a number.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Any

from django.core.files import File
from django.db import connections, transaction
from django.db.models import QuerySet
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from januscaler_refunds.refunds.models import RefundRequest
from januscaler_refunds.reports import sql_export
from januscaler_refunds.reports.models import ExportRecord
from januscaler_refunds.reports.resources import RefundReportResource

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_FIRST = frozenset(FORMULA_PREFIXES)
PROGRESS_EVERY = 2000
CSV_BUFFER_BYTES = 64 * 1024

Progress = Callable[[int], None]
# "auto": SQL on PostgreSQL when the queryset allows it, else Python; "python" / "sql" force one path.
ENGINES = ("auto", "python", "sql")


def is_formula_like(value: str) -> bool:
    return value.startswith(FORMULA_PREFIXES)


def csv_cell(value: Any) -> str:
    """One typed report value as CSV text (hot path: dispatch on the exact type first)."""
    kind = type(value)
    if kind is str:
        return "'" + value if value[:1] in _FORMULA_FIRST else value
    if value is None:
        return ""
    if kind is Decimal:
        return f"{value:f}"
    if kind is dt.datetime:
        return value.isoformat(timespec="seconds")
    if kind is dt.date:
        return value.isoformat()
    if isinstance(value, str):
        return csv_cell(str(value))
    return str(value)


def xlsx_cell(ws: Any, value: Any) -> Any:
    """One typed report value as an XLSX cell: numbers as numbers, dates as dates, text as text."""
    if isinstance(value, str):
        cell = WriteOnlyCell(ws, value=ILLEGAL_CHARACTERS_RE.sub("", value))
        if is_formula_like(value):
            cell.data_type = "s"  # openpyxl would store "=..." as a formula
            cell.quotePrefix = True  # and Excel keeps it text even when the cell is edited
        return cell
    if isinstance(value, dt.datetime):
        # Excel has no time zones: write the Kolkata wall-clock time (the column says so in the docs).
        cell = WriteOnlyCell(ws, value=value.replace(tzinfo=None))
        cell.number_format = "yyyy-mm-dd hh:mm:ss"
        return cell
    if isinstance(value, dt.date):
        cell = WriteOnlyCell(ws, value=value)
        cell.number_format = "yyyy-mm-dd"
        return cell
    if isinstance(value, Decimal):
        cell = WriteOnlyCell(ws, value=value)
        cell.number_format = "0.00"
        return cell
    return value


@dataclass
class _Tally:
    rows: int = 0
    size: int = 0

    def __post_init__(self) -> None:
        self.digest = hashlib.sha256()

    def add(self, data: bytes) -> bytes:
        self.digest.update(data)
        self.size += len(data)
        return data


def _csv_chunks(
    resource: RefundReportResource, rows: Iterable[list[Any]], tally: _Tally, progress: Progress | None
) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(resource.get_export_headers())
    cell = csv_cell
    for values in rows:
        writer.writerow([cell(v) for v in values])
        tally.rows += 1
        if tally.rows % PROGRESS_EVERY == 0:
            if progress is not None:
                progress(tally.rows)
        if buffer.tell() >= CSV_BUFFER_BYTES:
            yield tally.add(buffer.getvalue().encode("utf-8"))
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield tally.add(buffer.getvalue().encode("utf-8"))


def _write_xlsx(
    resource: RefundReportResource, rows: Iterable[list[Any]], out: IO[bytes], tally: _Tally, progress: Progress | None
) -> None:
    wb = Workbook(write_only=True)  # rows go straight to a temp file inside openpyxl
    ws = wb.create_sheet("Refund report")
    ws.append(resource.get_export_headers())
    for values in rows:
        ws.append([xlsx_cell(ws, v) for v in values])
        tally.rows += 1
        if progress is not None and tally.rows % PROGRESS_EVERY == 0:
            progress(tally.rows)
    wb.save(out)


# --- the export record --------------------------------------------------------------------


def export_record_create(
    *,
    user: Any,
    fmt: str,
    source: str,
    query_string: str = "",
    rows_total: int | None = None,
    is_async: bool = False,
) -> ExportRecord:
    if fmt not in ExportRecord.Format.values:
        raise ValueError(f"Unknown export format {fmt!r}; use csv or xlsx.")
    authenticated = user is not None and getattr(user, "is_authenticated", False)
    return ExportRecord.objects.create(
        user=user if authenticated else None,
        actor_label=user.get_username() if authenticated else "system",
        format=fmt,
        source=source,
        query_string=query_string,
        rows_total=rows_total,
        is_async=is_async,
        status=ExportRecord.Status.PENDING if is_async else ExportRecord.Status.RUNNING,
    )


def _finish(record: ExportRecord, tally: _Tally, status: str, error: str = "") -> None:
    record.status = status
    record.row_count = tally.rows
    record.size = tally.size
    record.sha256 = tally.digest.hexdigest() if status == ExportRecord.Status.COMPLETED else ""
    record.error = error
    record.finished_at = timezone.now()
    record.save(update_fields=["status", "row_count", "size", "sha256", "error", "finished_at", "updated_at"])


def export_record_complete(*, record: ExportRecord, content: bytes, rows: int) -> ExportRecord:
    """Complete the record of an export rendered in one piece (the chargeback admin's export)."""
    tally = _Tally()
    tally.add(content)
    tally.rows = rows
    _finish(record, tally, ExportRecord.Status.COMPLETED)
    return record


def uses_sql(queryset: QuerySet[RefundRequest], engine: str = "auto") -> bool:
    """Whether the CSV of this queryset is produced in SQL (``sql_export``) or in Python."""
    if engine not in ENGINES:
        raise ValueError(f"Unknown export engine {engine!r}; use one of {', '.join(ENGINES)}.")
    if engine == "auto":
        return sql_export.supported(queryset)
    return engine == "sql"


def _csv_bytes(
    queryset: QuerySet[RefundRequest], tally: _Tally, progress: Progress | None, engine: str = "auto"
) -> Iterator[bytes]:
    """The report's CSV bytes, counted and hashed into ``tally``."""
    if not uses_sql(queryset, engine):
        resource = RefundReportResource()
        yield from _csv_chunks(resource, resource.export_rows(resource.rows(queryset)), tally, progress)
        return

    def on_rows(rows: int) -> None:
        tally.rows = rows
        if progress is not None and rows % PROGRESS_EVERY == 0:
            progress(rows)

    for chunk in sql_export.csv_chunks(queryset, on_rows=on_rows, batch_rows=PROGRESS_EVERY):
        yield tally.add(chunk)


def export_csv_unrecorded(*, queryset: QuerySet[RefundRequest], engine: str = "auto") -> Iterator[bytes]:
    """The report's CSV bytes with no ExportRecord: the same path and bytes as ``export_csv_stream``,
    for benchmarks on databases that must not be written to (``bench/export.py``)."""
    return _csv_bytes(queryset, _Tally(), None, engine)


def export_csv_stream(
    *, record: ExportRecord, queryset: QuerySet[RefundRequest], engine: str = "auto"
) -> Iterator[bytes]:
    """The report as CSV bytes, for a StreamingHttpResponse or a pipe.

    The record is completed (rows, size, sha256 of exactly the bytes yielded) when the stream ends,
    marked aborted if the consumer stops early (a cancelled download), failed on an error.
    """
    tally = _Tally()
    try:
        yield from _csv_bytes(queryset, tally, None, engine)
    except GeneratorExit:
        _finish(record, tally, ExportRecord.Status.ABORTED, "The download was interrupted.")
        raise
    except Exception as exc:
        _finish(record, tally, ExportRecord.Status.FAILED, repr(exc))
        raise
    _finish(record, tally, ExportRecord.Status.COMPLETED)


def export_write(
    *,
    record: ExportRecord,
    queryset: QuerySet[RefundRequest],
    out: IO[bytes],
    progress: Progress | None = None,
    engine: str = "auto",
) -> ExportRecord:
    """Write the report in ``record.format`` to ``out`` and complete the record.

    On the SQL path the connection is busy with the COPY while rows arrive: ``progress`` must not
    query through it (``export_run_to_storage`` reports through a connection of its own)."""
    tally = _Tally()
    try:
        if record.format == ExportRecord.Format.CSV:
            for chunk in _csv_bytes(queryset, tally, progress, engine):
                out.write(chunk)
        else:
            resource = RefundReportResource()
            rows = resource.export_rows(resource.rows(queryset))
            # openpyxl needs a seekable target; hash the finished file while copying it out.
            with tempfile.TemporaryFile() as tmp:
                _write_xlsx(resource, rows, tmp, tally, progress)
                tmp.seek(0)
                while block := tmp.read(1024 * 1024):
                    out.write(tally.add(block))
    except Exception as exc:
        _finish(record, tally, ExportRecord.Status.FAILED, repr(exc))
        raise
    _finish(record, tally, ExportRecord.Status.COMPLETED)
    return record


def export_to_temp_file(*, record: ExportRecord, queryset: QuerySet[RefundRequest]) -> IO[bytes]:
    """The report in a rewound temporary file (XLSX downloads): memory stays flat, disk holds the bytes."""
    tmp = tempfile.TemporaryFile()
    try:
        export_write(record=record, queryset=queryset, out=tmp)
    except Exception:
        tmp.close()
        raise
    tmp.seek(0)
    return tmp


def export_fail_unqueued(*, record_id: int, error: str) -> bool:
    """A queued export whose task could not be sent (broker down) is failed at once, with the reason,
    rather than left 'pending' for ever. Compare-and-set: a record a worker already claimed is kept."""
    return bool(
        ExportRecord.objects.filter(pk=record_id, status=ExportRecord.Status.PENDING).update(
            status=ExportRecord.Status.FAILED, error=error, finished_at=timezone.now(), updated_at=timezone.now()
        )
    )


def export_claim(*, record_id: int, stale_after: dt.timedelta) -> bool:
    """Compare-and-set: only one worker runs a queued export. A 'running' export whose worker has
    been silent for longer than ``stale_after`` (it died; tasks are acks_late) may be claimed again."""
    now = timezone.now()
    claimed = ExportRecord.objects.filter(pk=record_id, status=ExportRecord.Status.PENDING).update(
        status=ExportRecord.Status.RUNNING, updated_at=now
    ) or ExportRecord.objects.filter(
        pk=record_id, status=ExportRecord.Status.RUNNING, updated_at__lt=now - stale_after
    ).update(updated_at=now, row_count=0)
    return bool(claimed)


class _SideProgress:
    """Progress written through a connection of its own (autocommit), for the SQL path: the export's
    connection is busy with the COPY. Best effort: a progress write that fails or waits on a lock
    (the record updated in a caller's open transaction) is given up, never the export."""

    def __init__(self, record: ExportRecord, using: str) -> None:
        self.record_pk = record.pk
        self.using = using
        self.conn: Any = None
        self.broken = False

    def __call__(self, done: int) -> None:
        if self.broken:
            return
        try:
            if self.conn is None:
                wrapper = connections[self.using]
                self.conn = wrapper.get_new_connection(wrapper.get_connection_params())
                self.conn.autocommit = True
                self.conn.execute("SET lock_timeout = '200ms'")
            self.conn.execute(
                f"UPDATE {ExportRecord._meta.db_table} SET row_count = %s, updated_at = %s WHERE id = %s",
                (done, timezone.now(), self.record_pk),
            )
        except Exception:  # noqa: BLE001 - progress is best effort; the export goes on
            self.broken = True

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


def export_run_to_storage(*, record: ExportRecord, queryset: QuerySet[RefundRequest]) -> ExportRecord:
    """Write the report to MEDIA (reports/exports/...), reporting progress on the record as it goes."""

    def progress(done: int) -> None:
        ExportRecord.objects.filter(pk=record.pk).update(row_count=done, updated_at=timezone.now())

    side = None
    if record.format == ExportRecord.Format.CSV and uses_sql(queryset):
        side = _SideProgress(record, queryset.db)
    with tempfile.TemporaryFile() as tmp:
        try:
            export_write(record=record, queryset=queryset, out=tmp, progress=side or progress)
        finally:
            if side is not None:
                side.close()
        tmp.seek(0)
        with transaction.atomic():
            record.file.save(record.filename, File(tmp), save=False)
            record.save(update_fields=["file", "updated_at"])
    return record

