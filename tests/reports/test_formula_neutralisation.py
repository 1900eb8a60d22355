"""Cells a spreadsheet would run as formulas are neutralised in CSV and XLSX; numbers stay numbers."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from factories import CustomerFactory, invoice_with_plan, kolkata, make_request
from openpyxl import Workbook, load_workbook

from januscaler_refunds.reports.services import csv_cell, xlsx_cell

DANGEROUS = ["=HYPERLINK(\"http://evil\",\"x\")", "+1+2", "-2+3", "@SUM(A1:A9)", "\tTabbed", "\rReturned"]
# XML normalises a carriage return to a line feed when the sheet is read back; the cell is still text.
AS_READ_FROM_XLSX = [v.replace("\r", "\n") for v in DANGEROUS]


@pytest.fixture
def dangerous_requests(db: Any) -> list[str]:
    names = []
    for i, name in enumerate([*DANGEROUS, "Plain Name"]):
        invoice = invoice_with_plan(Decimal("100.00"), customer=CustomerFactory(name=name))
        make_request(invoice=invoice, received_at=kolkata(2026, 5, 6, 10, i), requested_amount=Decimal("40.50"))
        names.append(name)
    return names


def test_csv_cell_prefixes_text_but_not_numbers() -> None:
    for value in DANGEROUS:
        assert csv_cell(value) == "'" + value
    assert csv_cell("Plain") == "Plain"
    assert csv_cell(Decimal("-5.00")) == "-5.00"
    assert csv_cell(-3) == "-3"
    assert csv_cell(None) == ""
    assert csv_cell(dt.date(2026, 5, 6)) == "2026-05-06"


def test_xlsx_cell_keeps_text_as_text_and_numbers_as_numbers() -> None:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("t")
    ws.append([xlsx_cell(ws, v) for v in [*DANGEROUS, Decimal("-5.00"), -3]])
    out = io.BytesIO()
    wb.save(out)
    cells = next(load_workbook(io.BytesIO(out.getvalue())).active.iter_rows())
    assert [c.value for c in cells[: len(DANGEROUS)]] == AS_READ_FROM_XLSX
    assert all(c.data_type == "s" for c in cells[: len(DANGEROUS)])
    assert cells[-2].value == -5 and cells[-2].data_type == "n"
    assert cells[-1].value == -3 and cells[-1].data_type == "n"


@pytest.mark.django_db
def test_csv_export_neutralises_formulas_read_back_with_csv(dangerous_requests: list[str], tmp_path: Any) -> None:
    target = tmp_path / "report.csv"
    call_command("export_refunds", "--format", "csv", "-o", str(target))
    rows = list(csv.DictReader(target.open(newline="", encoding="utf-8")))
    names = [r["customer_name"] for r in rows]
    assert names == ["'" + n for n in DANGEROUS] + ["Plain Name"]
    assert {r["requested_amount"] for r in rows} == {"40.50"}
    assert {r["refundable_amount"] for r in rows} == {"100.00"}


@pytest.mark.django_db
def test_xlsx_export_stores_formulas_as_text_read_back_with_openpyxl(
    dangerous_requests: list[str], tmp_path: Any
) -> None:
    target = tmp_path / "report.xlsx"
    call_command("export_refunds", "--format", "xlsx", "-o", str(target))
    sheet = load_workbook(target).active
    header = [c.value for c in next(sheet.iter_rows(max_row=1))]
    name_col, amount_col = header.index("customer_name"), header.index("requested_amount")
    rows = list(sheet.iter_rows(min_row=2))
    assert [r[name_col].value for r in rows] == [*AS_READ_FROM_XLSX, "Plain Name"]
    assert all(r[name_col].data_type == "s" for r in rows)
    assert not any(r[name_col].data_type == "f" for r in rows)
    assert all(r[amount_col].data_type == "n" and r[amount_col].value == 40.5 for r in rows)
    received = rows[0][header.index("received_at")]
    assert received.is_date and received.value == dt.datetime(2026, 5, 6, 10, 0)
