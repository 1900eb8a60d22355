"""``export_refunds``: filters, output targets and the export record."""

from __future__ import annotations

import csv
import hashlib
import io
from typing import Any

import pytest
import time_machine
from django.core.management import CommandError, call_command
from factories import kolkata, make_request
from reports.helpers import denied_request

from januscaler_refunds.reports.models import ExportRecord


@pytest.fixture
def requests(a_manager: Any) -> dict[str, Any]:
    with time_machine.travel(kolkata(2026, 5, 12, 12), tick=False):
        return {
            # 00:10 Kolkata on the 1st is still 30 April in UTC: the date filter must use company time.
            "may1": make_request(received_at=kolkata(2026, 5, 1, 0, 10)),
            "apr30": make_request(received_at=kolkata(2026, 4, 30, 23, 50)),
            "may7_denied": denied_request(manager=a_manager, received_at=kolkata(2026, 5, 7)),
            "may11_other": make_request(reason="other", received_at=kolkata(2026, 5, 11, 23, 59)),
        }


def _run(*args: str) -> list[dict[str, str]]:
    out = io.StringIO()
    call_command("export_refunds", *args, stdout=out)
    return list(csv.DictReader(io.StringIO(out.getvalue())))


@pytest.mark.django_db
def test_from_and_to_are_inclusive_kolkata_dates(requests: dict[str, Any]) -> None:
    rows = _run("--from", "2026-05-01", "--to", "2026-05-11")
    assert [r["reference"] for r in rows] == [
        requests[k].reference for k in ("may1", "may7_denied", "may11_other")
    ]


@pytest.mark.django_db
def test_state_and_reason_filters(requests: dict[str, Any]) -> None:
    assert [r["reference"] for r in _run("--state", "denied")] == [requests["may7_denied"].reference]
    assert [r["reference"] for r in _run("--reason", "other")] == [requests["may11_other"].reference]
    assert len(_run("--state", "denied", "--state", "submitted")) == 4


@pytest.mark.django_db
def test_file_output_is_recorded_with_its_sha256(requests: Any, tmp_path: Any) -> None:
    target = tmp_path / "out.csv"
    call_command("export_refunds", "--state", "submitted", "-o", str(target), stderr=io.StringIO())
    record = ExportRecord.objects.get()
    assert record.source == "command" and record.actor_label == "system" and record.status == "completed"
    assert record.row_count == 3
    assert record.query_string == "state=submitted"
    assert record.sha256 == hashlib.sha256(target.read_bytes()).hexdigest()


@pytest.mark.django_db
def test_dash_means_stdout_and_bad_dates_are_refused(requests: Any) -> None:
    assert len(_run("-o", "-")) == 4
    with pytest.raises(CommandError):
        call_command("export_refunds", "--from", "01/05/2026")
    with pytest.raises(CommandError):
        call_command("export_refunds", "--from", "2026-05-02", "--to", "2026-05-01")
