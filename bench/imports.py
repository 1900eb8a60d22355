"""Benchmark: ``import_billing`` on 100k-row files (issue 14, "import_billing and the admin import").

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_import .venv/bin/python bench/run.py --only imports
    BENCH_IMPORT_ROWS=100000 (default) sets the rows per file.

Generates customers.csv, invoices.csv and invoice_lines.csv of N rows each (new customers with
mixed-case addresses and verification flags, invoices of every kind, method and currency with
and without a payment time, plan lines with periods and prepaid credit lines with units) and
imports them with the bulk path, each run inside a transaction that is rolled back: nothing is
left in the database. Figures, each with its floor measured in the same run:

* the import of the three files (rows/s); floor: a bare ``COPY ... FROM STDIN (FORMAT csv)`` of
  the same three files into text staging tables;
* a bad value on the last row / the first row of the last file, and a last row naming an invoice
  that does not exist (seconds until ``ImportFailed``); floor: the same bare ``COPY`` (seconds);
* the row-by-row path (django-import-export resources) on 200 rows per file for reference
  (rows/s; each row looks its customer up case-insensitively, a scan of the customers); its floor
  is the bulk path on the same small files.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.common import Figure, load_average

FILES = ("customers.csv", "invoices.csv", "invoice_lines.csv")


def write_files(folder: Path, rows: int, *, prefix: str = "IMP") -> Path:
    """N customers, N invoices (customer i % N), N lines (two per invoice on the first half)."""
    folder.mkdir(parents=True, exist_ok=True)
    kinds, methods, currencies = ("initial", "renewal", "later_order"), ("card", "bank_transfer", "wallet", "crypto"), (
        "USD", "INR", "EUR", "GBP")
    with (folder / "customers.csv").open("w") as out:
        out.write("email,name,status,identity_verified\n")
        for i in range(rows):
            email = f"{prefix}.Customer{i}@Bench.example" if i % 10 == 0 else f"{prefix.lower()}.customer{i}@bench.example"
            out.write(f"{email},\"Customer {i}, Ltd\",active,{('', 'yes', 'no')[i % 3]}\n")
    with (folder / "invoices.csv").open("w") as out:
        out.write("number,customer_email,issued_on,kind,payment_method,currency,amount_paid,paid_at\n")
        for i in range(rows):
            email = f"{prefix.lower()}.customer{i}@bench.example"
            day = 1 + i % 28
            paid = "" if i % 11 == 0 else f"2026-{1 + i % 12:02d}-{day:02d}T{i % 24:02d}:15:00+05:30"
            out.write(f"{prefix}-{i:08d},{email},2026-{1 + i % 12:02d}-{day:02d},{kinds[i % 3]},{methods[i % 4]},"
                      f"{currencies[i % 4]},{(i % 5000) + 99}.{i % 100:02d},{paid}\n")
    with (folder / "invoice_lines.csv").open("w") as out:
        out.write("invoice_number,line_no,category,description,amount,units,service,period_start,period_end\n")
        for j in range(rows):
            i, second = divmod(j, 2)
            if second:
                out.write(f"{prefix}-{i:08d},2,prepaid_api_credit,API credit {1000 * (1 + i % 9)} units,"
                          f"{30 + i % 70}.00,{1000 * (1 + i % 9)},api,,\n")
            else:
                out.write(f"{prefix}-{i:08d},1,plan,Business plan (month {1 + i % 12}),{(i % 5000) + 99}.00,,meet,"
                          f"2026-{1 + i % 12:02d}-01,2026-{1 + i % 12:02d}-28\n")
    return folder


def with_bad_row(folder: Path, target: Path, *, last: bool, row: str) -> Path:
    """A copy of ``folder`` whose invoice_lines.csv has ``row`` first or last."""
    target.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        text = (folder / name).read_text()
        if name == "invoice_lines.csv":
            header, _, body = text.partition("\n")
            text = f"{header}\n{body}{row}\n" if last else f"{header}\n{row}\n{body}"
        (target / name).write_text(text)
    return target


def _rolled_back(fn: Callable[[], object]) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds, result or the exception) of ``fn`` in a transaction rolled back."""
    from django.db import transaction

    from januscaler_refunds.intake.importing import ImportFailed

    outcome: object = None
    with transaction.atomic():
        cpu, started = time.process_time(), time.perf_counter()
        try:
            outcome = fn()
        except ImportFailed as failed:
            outcome = failed
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        transaction.set_rollback(True)
    return seconds, cpu, outcome


def bare_copy(folder: Path) -> float:
    """Seconds for ``COPY (FORMAT csv, HEADER)`` of the files into text tables: the floor."""
    from django.db import connection

    def run() -> None:
        with connection.cursor() as cursor:
            for name in FILES:
                path = folder / name
                header = path.open().readline().strip().split(",")
                table = "import_floor_" + name.removesuffix(".csv")
                cursor.execute(f"CREATE TEMP TABLE {table} ({', '.join(f'{c} text' for c in header)})")
                with cursor.cursor.copy(f"COPY {table} FROM STDIN (FORMAT csv, HEADER true)") as copy:
                    with path.open("rb") as handle:
                        while chunk := handle.read(1 << 20):
                            copy.write(chunk)

    seconds, _, _ = _rolled_back(run)
    return seconds


def _done(figure: Figure) -> Figure:
    print(figure.row(), file=sys.stderr, flush=True)  # a long run keeps what it measured so far
    return figure


def figures(repeats: int, rows: int | None = None, small: int = 200) -> list[Figure]:
    from januscaler_refunds.intake.importing import ImportFailed, import_directory

    rows = rows or int(os.environ.get("BENCH_IMPORT_ROWS", "100000"))
    total = rows * len(FILES)
    work = Path(tempfile.mkdtemp(prefix="bench-imports-"))
    good = write_files(work / "good", rows)
    bad_row = "IMP-00000001,3,plan,Broken,abc,,meet,,"
    cases = {
        "bad value on the last row": with_bad_row(good, work / "bad-last", last=True, row=bad_row),
        "bad value on the first row": with_bad_row(good, work / "bad-first", last=False, row=bad_row),
        "last row names no invoice (SQL check)": with_bad_row(
            good, work / "missing-last", last=True, row="NO-SUCH-INVOICE,1,plan,Plan,1.00,,,,"),
    }
    size = f"{rows:,}"

    bulk = Figure(f"import_billing bulk, customers + invoices + lines, {size} rows each", unit="rows/s", rate=True)
    cpu: list[float] = []
    for _ in range(repeats):
        bulk.load.append(load_average())
        seconds, spent, outcome = _rolled_back(lambda: import_directory(good, bulk=True))
        if isinstance(outcome, ImportFailed):
            raise RuntimeError(f"the benchmark files did not import: {outcome}")
        bulk.runs.append(total / seconds)
        cpu.append(spent)
        bulk.floor.append(total / bare_copy(good))
    bulk.note = (f"floor: bare COPY of the same files; Python CPU {statistics.median(cpu):,.1f} s of "
                 f"{total / statistics.median(bulk.runs):,.1f} s; all rolled back")
    result = [_done(bulk)]

    for label, folder in cases.items():
        figure = Figure(f"import_billing, {label} of invoice_lines.csv ({size} rows each)", unit="s")
        for _ in range(repeats):
            figure.load.append(load_average())
            seconds, _, outcome = _rolled_back(lambda folder=folder: import_directory(folder, bulk=True))
            if not isinstance(outcome, ImportFailed):
                raise RuntimeError(f"{label}: the import did not fail")
            figure.runs.append(seconds)
            figure.floor.append(bare_copy(folder))
        figure.note = "seconds until the error (file, line, reason); floor: bare COPY of the same files"
        result.append(_done(figure))

    few = write_files(work / "small", small, prefix="IMS")
    slow = Figure(f"import_billing row by row (django-import-export), {small:,} rows each", unit="rows/s", rate=True)
    for _ in range(repeats):
        slow.load.append(load_average())
        seconds, _, _ = _rolled_back(lambda: import_directory(few, bulk=False))
        slow.runs.append(small * len(FILES) / seconds)
        seconds, _, _ = _rolled_back(lambda: import_directory(few, bulk=True))
        slow.floor.append(small * len(FILES) / seconds)
    slow.note = "the path SQLite and the small admin imports take; floor: the bulk path on the same files"
    result.append(_done(slow))
    return result
