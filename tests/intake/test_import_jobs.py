"""Admin imports above IMPORT_ASYNC_ROWS run in the worker as an ImportJob: stored, imported all or
nothing, with progress and the result (or the errors) shown to the user who started it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from factories import agent, manager

from januscaler_refunds.billing.models import Customer, ImportJob
from januscaler_refunds.intake import importing
from januscaler_refunds.intake.tasks import run_import_job

pytestmark = pytest.mark.django_db
JOBS = "/admin/billing/importjob/"
CUSTOMERS = "email,name,status,identity_verified\n" + "".join(f"c{i}@example.com,Customer {i},,\n" for i in range(5))


def _upload(client: Any, text: str, url: str = "/admin/billing/customer/import/") -> Any:
    upload = SimpleUploadedFile("customers-november.csv", text.encode(), content_type="text/csv")
    return client.post(url, {"import_file": upload, "format": "0", "resource": "0"})


def test_a_large_admin_import_runs_in_the_worker_and_its_starter_sees_the_result(
    client: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.IMPORT_ASYNC_ROWS = 3
    client.force_login(manager())
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = _upload(client, CUSTOMERS)
    assert response.status_code == 302 and response["Location"] == JOBS and len(callbacks) == 1
    job = ImportJob.objects.get()
    assert (job.status, job.import_file, job.original_name, job.rows_total) == (
        "completed", "customers.csv", "customers-november.csv", 5)
    assert (job.new, job.updated, job.skipped, job.rows_done, job.progress_percent) == (5, 0, 0, 5, 100)
    assert Customer.objects.count() == 5 and job.finished_at is not None
    page = client.get(JOBS).content.decode()
    assert "customers-november.csv" in page and "Completed" in page and "5 / 0 / 0" in page
    client.force_login(manager("someone-else"))
    assert "customers-november.csv" not in client.get(JOBS).content.decode()  # only the starter's own jobs
    client.force_login(agent())
    assert client.get(JOBS).status_code == 403


def test_a_small_admin_import_keeps_the_preview(client: Any, settings: Any) -> None:
    settings.IMPORT_ASYNC_ROWS = 5
    client.force_login(manager())
    response = _upload(client, CUSTOMERS)
    assert response.status_code == 200 and b"c4@example.com" in response.content
    assert not ImportJob.objects.exists() and not Customer.objects.exists()


def test_a_job_with_a_bad_row_saves_nothing_and_shows_file_line_and_reason(
    client: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.IMPORT_ASYNC_ROWS = 3
    client.force_login(manager())
    with django_capture_on_commit_callbacks(execute=True):
        _upload(client, CUSTOMERS + "bad@example.com,Bad,<b>bogus</b>,\n")
    job = ImportJob.objects.get()
    assert job.status == "failed" and not Customer.objects.exists()
    assert job.errors.startswith("customers.csv, line 7: ")
    page = client.get(JOBS).content.decode()
    assert "Failed (nothing was saved)" in page and "&lt;b&gt;bogus" in page and "<b>bogus" not in page


def test_running_a_job_twice_imports_it_once(settings: Any, tmp_path: Path) -> None:
    upload = SimpleUploadedFile("c.csv", CUSTOMERS.encode())
    job = importing.import_job_create(user=manager(), import_file="customers.csv", upload=upload, rows_total=5)
    run_import_job(job.pk)
    run_import_job(job.pk)
    job.refresh_from_db()
    assert job.status == "completed" and job.new == 5 and Customer.objects.count() == 5


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_progress_is_visible_while_the_import_transaction_is_open() -> None:
    from django.db import connection, transaction

    upload = SimpleUploadedFile("c.csv", CUSTOMERS.encode())
    with transaction.atomic():
        job = importing.import_job_create(user=manager(), import_file="customers.csv", upload=upload, rows_total=5)
    record = importing._progress_recorder(job.pk)
    assert record is not None and connection.vendor == "postgresql"
    with transaction.atomic():
        Customer.objects.create(email="held@example.com", name="Held")  # the import's open transaction
        record("customers.csv", 4)
        assert ImportJob.objects.get(pk=job.pk).rows_done == 4
