"""Report views under /admin/reports/: the queue export, the exports page and the dashboard.

Views only check who may do what and call selectors and services.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError

from januscaler_refunds.policy.codes import label_of
from januscaler_refunds.reports import charts, selectors, services
from januscaler_refunds.reports.models import ExportRecord

EXPORT_PERM = "refunds.export_refundrequest"
BROKER_DOWN = (
    "The export could not be queued: the background service is unreachable. "
    "Try again in a few minutes, or narrow the filters to download it directly."
)
VIEW_PERM = "refunds.view_refundrequest"
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _require(request: HttpRequest, perm: str) -> None:
    if not request.user.has_perm(perm):
        from januscaler_refunds.refunds.admin_views import who_may

        raise PermissionDenied(f"This page needs a permission your role does not have; {who_may(perm)} can open it.")


def _download_name(record: ExportRecord) -> str:
    return record.filename


@staff_member_required
def refund_export(request: HttpRequest) -> HttpResponseBase:
    """Export exactly the rows of the queue as filtered and searched, in ``format=csv|xlsx``."""
    _require(request, EXPORT_PERM)
    fmt = request.GET.get(selectors.FORMAT_PARAM, "csv")
    if fmt not in ExportRecord.Format.values:
        return HttpResponseBadRequest("format must be csv or xlsx.", content_type="text/plain")
    try:
        changelist = selectors.queue_changelist(request)
    except IncorrectLookupParameters:
        return HttpResponseBadRequest("The queue's filter parameters are not valid.", content_type="text/plain")
    queryset = changelist.queryset
    query_string = selectors.queue_query_string(request)

    if changelist.result_count > settings.EXPORT_ASYNC_THRESHOLD_ROWS:
        from januscaler_refunds.reports.tasks import run_export

        with transaction.atomic():
            record = services.export_record_create(
                user=request.user,
                fmt=fmt,
                source=ExportRecord.Source.ADMIN,
                query_string=query_string,
                rows_total=changelist.result_count,
                is_async=True,
            )
        try:
            run_export.delay(record.pk)
        except (KombuOperationalError, OSError):
            # Broker unreachable: refuse clearly (never a 500, never a record pending for ever).
            services.export_fail_unqueued(record_id=record.pk, error=BROKER_DOWN)
            messages.error(request, f"{BROKER_DOWN} Nothing was exported.")
            return HttpResponseRedirect(reverse("reports:exports"))
        messages.info(
            request,
            f"{changelist.result_count:,} rows is a large export: it is being prepared in the background. "
            "Download it here when it is ready.",
        )
        return HttpResponseRedirect(reverse("reports:exports"))

    record = services.export_record_create(
        user=request.user, fmt=fmt, source=ExportRecord.Source.ADMIN, query_string=query_string
    )
    if fmt == ExportRecord.Format.CSV:
        response = StreamingHttpResponse(
            services.export_csv_stream(record=record, queryset=queryset), content_type=CONTENT_TYPES["csv"]
        )
        response["Content-Disposition"] = f'attachment; filename="{_download_name(record)}"'
        return response
    tmp = services.export_to_temp_file(record=record, queryset=queryset)
    return FileResponse(tmp, as_attachment=True, filename=_download_name(record), content_type=CONTENT_TYPES["xlsx"])


def _may_download(request: HttpRequest, record: ExportRecord) -> bool:
    return record.user_id == request.user.pk or request.user.has_perm(EXPORT_PERM)


@staff_member_required
def exports(request: HttpRequest) -> HttpResponse:
    """The user's exports (all exports for managers with ``?all=1``), with progress and downloads."""
    show_all = request.GET.get("all") == "1" and request.user.has_perm(EXPORT_PERM)
    queryset = ExportRecord.objects.select_related("user")
    if not show_all:
        # staff_member_required lets only logged-in staff in, never AnonymousUser.
        assert request.user.is_authenticated
        queryset = queryset.filter(user=request.user)
    records = list(queryset[:100])
    context = {
        **admin.site.each_context(request),
        "title": "Refund report exports",
        "records": records,
        "show_all": show_all,
        "can_see_all": request.user.has_perm(EXPORT_PERM),
        "refresh": any(r.status in (ExportRecord.Status.PENDING, ExportRecord.Status.RUNNING) for r in records),
    }
    return TemplateResponse(request, "admin/reports/exports.html", context)


@staff_member_required
def export_download(request: HttpRequest, pk: int) -> FileResponse:
    record = get_object_or_404(ExportRecord, pk=pk)
    if not _may_download(request, record):
        raise PermissionDenied
    if record.status != ExportRecord.Status.COMPLETED or not record.file:
        raise Http404("This export has no file (yet).")
    return FileResponse(
        record.file.open("rb"), as_attachment=True, filename=_download_name(record),
        content_type=CONTENT_TYPES[record.format],
    )


# --- dashboard ---------------------------------------------------------------------------------------


def _month_label(day: Any) -> str:
    return day.strftime("%b %y")


def _csv_response(name: str, header: list[str], rows: Iterable[Iterable[Any]]) -> HttpResponse:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([services.csv_cell(v) for v in row])
    response = HttpResponse(buffer.getvalue(), content_type=CONTENT_TYPES["csv"])
    response["Content-Disposition"] = f'attachment; filename="dashboard-{name}.csv"'
    return response


def _chart_tables(data: selectors.Dashboard) -> dict[str, tuple[list[str], list[list[Any]]]]:
    """Every chart's numbers as (header, rows): shown as tables and offered as ?csv=<chart>."""
    tables: dict[str, tuple[list[str], list[list[Any]]]] = {
        "queue": (
            ["state", "ok", "near", "overdue", "paused_or_no_due_date", "total"],
            [[q["state"], q["ok"], q["near"], q["overdue"], q["other"], q["total"]] for q in data.queue],
        ),
        "monthly": (
            ["month", "requests", "approvals", "denials"],
            [[m["month"].strftime("%Y-%m"), m["requests"], m["approvals"], m["denials"]] for m in data.monthly],
        ),
        "amounts": (
            ["currency", "month", "refunded", "credited"],
            [
                [currency, m["month"].strftime("%Y-%m"), m["refunded"], m["credited"]]
                for currency, months in data.amounts.items()
                for m in months
            ],
        ),
        "reasons": (
            [
                "reason", "requests_this_month", "requests_12_months", "approvals_this_month",
                "approvals_12_months", "denials_this_month", "denials_12_months",
            ],
            [
                [r["reason"], r["requests_month"], r["requests_year"], r["approvals_month"], r["approvals_year"],
                 r["denials_month"], r["denials_year"]]
                for r in data.reasons
            ],
        ),
        "reason_amounts": (
            ["reason", "currency", "refunded_this_month", "refunded_12_months", "credited_this_month", "credited_12_months"],
            [
                [r["reason"], a["currency"], a["refunded_month"], a["refunded_year"], a["credited_month"], a["credited_year"]]
                for r in data.reasons
                for a in r["amounts"]
            ],
        ),
        "codes": (["reason_code", "requests"], [[c["code"], c["count"]] for c in data.codes]),
        "kpis": (
            ["measure", "this_month", "last_12_months"],
            [
                ["approval_rate_percent", data.rates_month["approval_rate"], data.rates_year["approval_rate"]],
                ["reviews_within_deadline_percent", data.rates_month["reviews_within_deadline"],
                 data.rates_year["reviews_within_deadline"]],
                ["payouts_within_deadline_percent", data.rates_month["payouts_within_deadline"],
                 data.rates_year["payouts_within_deadline"]],
                ["median_business_days_to_decision", data.median["median_days_month"], data.median["median_days_year"]],
                ["decisions", data.rates_month["approvals"] + data.rates_month["denials"],
                 data.rates_year["approvals"] + data.rates_year["denials"]],
            ],
        ),
    }
    return tables


@staff_member_required
def dashboard(request: HttpRequest) -> HttpResponse:
    _require(request, VIEW_PERM)
    data = selectors.dashboard_build(today=timezone.localdate())
    tables = _chart_tables(data)
    wanted = request.GET.get("csv")
    if wanted:
        if wanted not in tables:
            return HttpResponseBadRequest(f"Unknown chart {wanted!r}.", content_type="text/plain")
        header, rows = tables[wanted]
        return _csv_response(wanted, header, rows)

    months = [_month_label(m["month"]) for m in data.monthly]
    svg = {
        "queue": charts.grouped_bars(
            [q["label"] for q in data.queue],
            [
                ("OK", [q["ok"] for q in data.queue]),
                ("Near", [q["near"] for q in data.queue]),
                ("Overdue", [q["overdue"] for q in data.queue]),
                ("Paused or no due date", [q["other"] for q in data.queue]),
            ],
            title="Queue by state and deadline status",
            stacked=True,
        ),
        "monthly": charts.grouped_bars(
            months,
            [
                ("Requests", [m["requests"] for m in data.monthly]),
                ("Approvals", [m["approvals"] for m in data.monthly]),
                ("Denials", [m["denials"] for m in data.monthly]),
            ],
            title="Requests, approvals and denials per month",
        ),
        "codes": charts.horizontal_bars([(label_of(c["code"]), c["count"]) for c in data.codes], title="Top reason codes"),
        "reasons": charts.horizontal_bars(
            [(r["label"], r["requests_year"]) for r in data.reasons], title="Requests per reason, last 12 months"
        ),
    }
    amount_charts = [
        {
            "currency": currency,
            "svg": charts.grouped_bars(
                months,
                [("Refunded", [m["refunded"] for m in rows]), ("Credited", [m["credited"] for m in rows])],
                title=f"Refunded and credited per month, {currency}",
                stacked=True,
                height=200,
            ),
            "rows": rows,
            "total_refunded": sum(m["refunded"] for m in rows),
            "total_credited": sum(m["credited"] for m in rows),
        }
        for currency, rows in data.amounts.items()
    ]
    context = {
        **admin.site.each_context(request),
        "title": "Refunds dashboard",
        "data": data,
        "svg": svg,
        "amount_charts": amount_charts,
        "tables": tables,
        "this_month": data.period.this_month,
        "period_start": data.period.months[0],
        "queue_total": sum(q["total"] for q in data.queue),
    }
    return TemplateResponse(request, "admin/reports/dashboard.html", context)
