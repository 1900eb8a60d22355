"""Background exports: large queue exports are written to MEDIA by a worker."""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task

from januscaler_refunds.reports import selectors, services
from januscaler_refunds.reports.models import ExportRecord

logger = logging.getLogger(__name__)


# A million-row export takes about a minute; the limit leaves room for much slower databases.
EXPORT_TIME_LIMIT = 60 * 60


@shared_task(name="reports.run_export", acks_late=True, time_limit=EXPORT_TIME_LIMIT, soft_time_limit=EXPORT_TIME_LIMIT - 60)
def run_export(record_id: int) -> None:
    """Write one queued export. Safe to run twice: a compare-and-set claims the record, so a second
    delivery of the same task finds it already running (or done) and returns."""
    stale_after = dt.timedelta(seconds=EXPORT_TIME_LIMIT)
    if not services.export_claim(record_id=record_id, stale_after=stale_after):
        logger.info("export %s already claimed or finished", record_id)
        return
    record = ExportRecord.objects.select_related("user").get(pk=record_id)
    queryset = selectors.queue_queryset_for(user=record.user, query_string=record.query_string)
    services.export_run_to_storage(record=record, queryset=queryset)


@shared_task(name="reports.fold_day_figures")
def fold_day_figures() -> str:
    """Fold the dashboard's day-figure deltas into one row per key (reports/aggregates.py). The
    figures are exact without it; folding keeps the table, and so each dashboard view, small."""
    from januscaler_refunds.reports import aggregates

    if not aggregates.available():
        return "no day figures on this database"
    folded = aggregates.fold()
    return "another fold is running" if folded is None else f"{folded} figure rows folded"
