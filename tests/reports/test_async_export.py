"""Exports above EXPORT_ASYNC_THRESHOLD_ROWS run as a task, store the file, and only the owner or a
manager may download it."""

from __future__ import annotations

import csv
import hashlib
import io
from typing import Any

import pytest
from factories import kolkata, make_request, manager

from januscaler_refunds.refunds.models import RefundRequest
from januscaler_refunds.reports import services
from januscaler_refunds.reports.models import ExportRecord
from januscaler_refunds.reports.tasks import run_export


@pytest.fixture
def five(db: Any) -> list[Any]:
    return [make_request(received_at=kolkata(2026, 5, 6, 10, i)) for i in range(5)]


@pytest.mark.django_db
def test_large_export_runs_in_background_and_is_downloadable(
    client: Any, settings: Any, a_manager: Any, five: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.EXPORT_ASYNC_THRESHOLD_ROWS = 3
    client.force_login(a_manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get("/admin/reports/export/refunds/?reason__exact=money_back_guarantee&format=csv")
    assert response.status_code == 302 and response["Location"] == "/admin/reports/exports/"
    record = ExportRecord.objects.get()
    assert record.is_async and record.status == "completed"
    assert record.rows_total == 5 and record.row_count == 5 and record.progress_percent == 100
    assert record.file.name.startswith("reports/exports/")
    page = client.get("/admin/reports/exports/")
    assert f"/admin/reports/exports/{record.pk}/download/" in page.content.decode()
    download = client.get(f"/admin/reports/exports/{record.pk}/download/")
    body = b"".join(download.streaming_content)
    assert hashlib.sha256(body).hexdigest() == record.sha256
    assert len(list(csv.DictReader(io.StringIO(body.decode())))) == 5


@pytest.mark.django_db
def test_only_owner_or_manager_may_download(client: Any, a_manager: Any, an_agent: Any, five: Any) -> None:
    record = services.export_record_create(user=a_manager, fmt="xlsx", source="admin", rows_total=5, is_async=True)
    run_export(record.pk)
    record.refresh_from_db()
    assert record.status == "completed" and record.format == "xlsx"
    url = f"/admin/reports/exports/{record.pk}/download/"
    client.force_login(an_agent)
    assert client.get(url).status_code == 403
    client.force_login(manager("other_manager"))
    assert client.get(url).status_code == 200


@pytest.mark.django_db
def test_running_the_task_twice_does_not_export_twice(a_manager: Any, five: Any) -> None:
    record = services.export_record_create(user=a_manager, fmt="csv", source="admin", is_async=True)
    run_export(record.pk)
    first = ExportRecord.objects.get(pk=record.pk)
    run_export(record.pk)
    again = ExportRecord.objects.get(pk=record.pk)
    assert again.file.name == first.file.name and again.sha256 == first.sha256


@pytest.mark.django_db
def test_progress_is_reported_while_writing(a_manager: Any, five: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(services, "PROGRESS_EVERY", 2)
    seen: list[int] = []
    record = services.export_record_create(user=a_manager, fmt="csv", source="admin", rows_total=5, is_async=True)
    services.export_write(record=record, queryset=RefundRequest.objects.all(), out=io.BytesIO(), progress=seen.append)
    assert seen == [2, 4]
    assert record.row_count == 5 and record.progress_percent == 100
