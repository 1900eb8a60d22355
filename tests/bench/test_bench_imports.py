"""The import benchmark's code (bench/imports.py) on small files: every figure measured with its
floor, the files import as they should, and nothing is left in the database. No speed is asserted."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from januscaler_refunds.billing.models import Customer, Invoice, InvoiceLine
from januscaler_refunds.intake.importing import import_directory

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench import imports  # noqa: E402

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def test_the_generated_files_import_realistically(tmp_path: Path) -> None:
    folder = imports.write_files(tmp_path / "files", 40)
    reports = import_directory(folder)
    assert [(r.name, r.new) for r in reports] == [("customers.csv", 40), ("invoices.csv", 40),
                                                 ("invoice_lines.csv", 40)]
    assert Customer.objects.filter(identity_verified=True).count() == 13
    assert Invoice.objects.filter(paid_at__isnull=True).count() == 4
    assert set(Invoice.objects.values_list("payment_method", flat=True)) == {"card", "bank_transfer", "wallet", "crypto"}
    assert InvoiceLine.objects.filter(category="prepaid_api_credit", units__gt=0).count() == 20


def test_every_figure_has_runs_and_a_floor_and_nothing_is_left() -> None:
    figures = imports.figures(2, rows=200, small=20)
    assert [f.name.split(",")[0] for f in figures] == ["import_billing bulk"] + ["import_billing"] * 3 + [
        "import_billing row by row (django-import-export)"]
    for figure in figures:
        assert len(figure.runs) == 2 and len(figure.floor) == 2 and all(v > 0 for v in figure.runs + figure.floor)
        assert figure.row().startswith(f"| {figure.name} |")
    assert not Customer.objects.exists() and not Invoice.objects.exists()
