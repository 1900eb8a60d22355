"""The evidence pack (section 6.2): a ZIP that contains exactly what its manifest and summary list."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from decimal import Decimal

import pytest
from django.urls import reverse
from factories import InvoiceLineFactory, agent, invoice_with_plan, kolkata, make_request, manager

from januscaler_refunds.billing.models import UsageRecord
from januscaler_refunds.chargebacks.evidence import EVIDENCE_FILES, dispute_evidence_pack

pytestmark = pytest.mark.django_db


@pytest.fixture
def pack(record):  # type: ignore[no-untyped-def]
    invoice = invoice_with_plan(Decimal("100.00"), number="INV-2026-000500")
    line = invoice.lines.get()
    line.period_start, line.period_end = kolkata(2026, 5, 4).date(), kolkata(2026, 6, 3).date()
    line.save()
    credit = InvoiceLineFactory(invoice=invoice, line_no=2, category="prepaid_api_credit", units=1000,
                                amount=Decimal("0.00"), description="API credit")
    UsageRecord.objects.create(customer=invoice.customer, invoice_line=credit, at=kolkata(2026, 5, 5), units=120)
    UsageRecord.objects.create(customer=invoice.customer, service="meet", at=kolkata(2026, 5, 6), units=30)
    UsageRecord.objects.create(customer=invoice.customer, service="meet", at=kolkata(2026, 7, 6), units=999)
    request = make_request(invoice=invoice, received_at=kolkata(2026, 5, 6), message="Please refund, it did not work.")
    chargeback = record(invoice, ref="CB-PACK", received_at=kolkata(2026, 5, 9))
    data = dispute_evidence_pack(chargeback.dispute)
    archive = zipfile.ZipFile(io.BytesIO(data))
    return archive, chargeback, request


def read(archive: zipfile.ZipFile, name: str) -> str:
    return archive.read(f"CB-PACK/{name}").decode()


def rows(archive: zipfile.ZipFile, name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(read(archive, name))))


def test_the_zip_holds_exactly_the_listed_files_and_the_manifest_hashes_match(pack) -> None:
    archive, _, _ = pack
    assert sorted(archive.namelist()) == sorted(f"CB-PACK/{name}" for name in EVIDENCE_FILES)
    manifest = json.loads(read(archive, "manifest.json"))
    assert [f["name"] for f in manifest["files"]] == [n for n in EVIDENCE_FILES if n != "manifest.json"]
    for entry in manifest["files"]:
        assert hashlib.sha256(archive.read(f"CB-PACK/{entry['name']}")).hexdigest() == entry["sha256"]
    summary = read(archive, "summary.html")
    for name in EVIDENCE_FILES:
        assert name in summary


def test_the_invoice_and_usage_for_the_period(pack) -> None:
    archive, _, _ = pack
    lines = rows(archive, "invoice_lines.csv")
    assert [(r["line_no"], r["category"], r["amount"]) for r in lines] == [("1", "plan", "100.00"),
                                                                          ("2", "prepaid_api_credit", "0.00")]
    assert "INV-2026-000500" in read(archive, "invoice.html")
    usage = rows(archive, "usage.csv")
    assert [r["units"] for r in usage] == ["120", "30"]  # July's usage is outside the billed period


def test_the_policy_in_force_its_parameters_and_text(pack) -> None:
    archive, _, _ = pack
    parameters = json.loads(read(archive, "policy/parameters.json"))
    assert parameters["label"] == "2025-01-06" and parameters["mbg_window_days"] == 7
    text = read(archive, "policy/refund_policy.txt")
    assert "Version 2025-01-06" in text
    assert "6.1 Consequences: Initiating a chargeback without following the refund process" in text


def test_communications_and_the_refund_request_history(pack) -> None:
    archive, chargeback, request = pack
    messages = rows(archive, "communications.csv")
    assert [(m["request"], m["kind"]) for m in messages] == [(request.reference, "acknowledgement")]
    requests = rows(archive, "refund_requests.csv")
    assert [(r["reference"], r["invoice_number"]) for r in requests] == [(request.reference, "INV-2026-000500")]
    assert "chargeback_open" in requests[0]["reason_codes"]
    log = rows(archive, "refund_request_log.csv")
    assert [(r["request"], r["transition"]) for r in log] == [(request.reference, "create")]
    summary = read(archive, "summary.html")
    assert "CB-PACK" in summary and request.reference in summary


def test_managers_download_it_from_the_admin_and_agents_may_not(client, record) -> None:
    chargeback = record(invoice_with_plan(), ref="CB-DL")
    url = reverse("admin:chargebacks_dispute_evidence_pack", args=[chargeback.dispute.pk])
    client.force_login(manager())
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert 'filename="evidence-CB-DL.zip"' in response["Content-Disposition"]
    assert zipfile.ZipFile(io.BytesIO(response.content)).testzip() is None
    client.force_login(agent())
    assert client.get(url).status_code == 403
