"""The bulk path of ``import_billing`` on PostgreSQL: customers, invoices, invoice lines and usage.

The row-by-row import (django-import-export, ``intake.resources``) costs ~10 queries a row; at
100k rows that is many minutes and a bad last row is found only at the end. Here, inside the
caller's transaction (all or nothing, as before):

1. ``stage``: each file is read once in Python (``bulk_rows``: every value checked with the
   resources' own widgets and the model fields' validation) and streamed into a TEMP staging
   table with ``COPY``. The first bad rows are reported at once, before anything is written.
2. ``check``: what needs the database, set-based and reported by the lowest line: a key repeated
   in the file, a customer / invoice / line that exists neither in the database nor in the file
   it comes from, a new customer that is not active, a row that would change a frozen invoice
   (``refunds.freeze``: same rule, same message).
3. ``apply``: per file in dependency order, ``UPDATE ... FROM`` the rows that differ and
   ``INSERT ... SELECT`` the new ones, counted as new / updated / skipped exactly as the row-by-row
   import counts them, then open requests of the customers whose facts changed are evaluated again.

The results are the row-by-row import's (``tests/intake/test_import_bulk.py`` imports the same
files both ways and compares the tables). Keys compare as there: customers by e-mail
case-insensitively (the row's e-mail lower-cased), invoices by normalised number, lines by
(invoice, line_no), usage by (line, at).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.db import connection

from januscaler_refunds.intake import bulk_rows
from januscaler_refunds.intake.import_report import FileReport, ImportFailed
from januscaler_refunds.refunds import services
from januscaler_refunds.refunds.freeze import DECIDED_STATES, frozen_message
from januscaler_refunds.refunds.models import OPEN_STATES

# A file with many bad rows reports this many; after the first bad row at most LOOKAHEAD more rows
# are read for further ones, so a bad first row is reported at once.
MAX_ERRORS = 10
LOOKAHEAD = 1_000
PROGRESS_EVERY = 10_000

Progress = Callable[[str, int], None]  # (file name, rows read so far)

STAGING: dict[str, tuple[str, str, str]] = {
    # name: (table, COPY columns, further columns filled by the checks)
    "customers.csv": (
        "import_stage_customers",
        "line integer, email text, name text, status text, identity_verified boolean",
        "target_id bigint",
    ),
    "invoices.csv": (
        "import_stage_invoices",
        "line integer, number text, customer_email text, issued_on date, kind text, payment_method text, "
        "currency text, amount_paid numeric, paid_at timestamptz",
        "target_id bigint, customer_id bigint",
    ),
    "invoice_lines.csv": (
        "import_stage_invoice_lines",
        "line integer, invoice_number text, line_no bigint, category text, description text, amount numeric, "
        "units bigint, service text, period_start date, period_end date",
        "target_id bigint, invoice_id bigint",
    ),
    "usage.csv": (
        "import_stage_usage",
        "line integer, invoice_number text, line_no bigint, at timestamptz, units bigint",
        "target_id bigint, invoice_line_id bigint",
    ),
}
KEYS = {  # the natural key in the staging table, and how a repeated one is named
    "customers.csv": ("email", "email"),
    "invoices.csv": ("number", "number"),
    "invoice_lines.csv": ("invoice_number, line_no", "invoice_number and line_no"),
    "usage.csv": ("invoice_number, line_no, at", "invoice_number, line_no and at"),
}
CHANGED = "import_changed_customers"
DECIDED = "(" + ", ".join(f"'{state}'" for state in DECIDED_STATES) + ")"
OPEN = "(" + ", ".join(f"'{state}'" for state in OPEN_STATES) + ")"
# Customer.objects.filter(email__iexact=...).first(): ordered by name (Customer.Meta.ordering).
CUSTOMER_BY_EMAIL = """
    SELECT DISTINCT ON (upper(c.email)) upper(c.email) AS key, c.id
    FROM billing_customer c WHERE upper(c.email) IN (SELECT upper({column}) FROM {table})
    ORDER BY upper(c.email), c.name, c.id
"""
FIRST_DECISION = f"""
    SELECT r.reference FROM refunds_refundrequest r
    WHERE r.invoice_id = {{invoice}} AND r.state IN {DECIDED} ORDER BY r.decided_at, r.id LIMIT 1
"""


def available() -> bool:
    return connection.vendor == "postgresql"


class BulkImport:
    """One import run's staging tables; use within one ``transaction.atomic()``."""

    def __init__(self, *, progress: Progress | None = None) -> None:
        self.progress = progress
        self.staged: dict[str, int] = {}  # file name -> rows
        self.cursor = connection.cursor()
        self.cursor.execute(f"DROP TABLE IF EXISTS {CHANGED}; CREATE TEMP TABLE {CHANGED} (customer_id bigint)")

    # --- 1. read, check each value, COPY ------------------------------------------------------------

    def stage(self, name: str, path: Path) -> None:
        table, columns, resolved = STAGING[name]
        self.cursor.execute(f"DROP TABLE IF EXISTS {table}; CREATE TEMP TABLE {table} ({columns}, {resolved})")
        names = ", ".join(c.split()[0] for c in columns.split(", "))
        errors: list[str] = []
        rows = first_bad = 0
        try:
            with self.cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for line, parsed in bulk_rows.parsed_rows(name, path):
                    rows += 1
                    if isinstance(parsed, bulk_rows.RowError):
                        errors.append(f"{name}, line {line}: {parsed.message}")
                        if len(errors) == 1:
                            first_bad = rows
                        if len(errors) >= MAX_ERRORS:
                            errors.append(f"{name}: stopped reading after {MAX_ERRORS} bad rows")
                            break
                    elif errors and rows - first_bad >= LOOKAHEAD:
                        errors.append(f"{name}: stopped reading {LOOKAHEAD:,} rows after the first bad row")
                        break
                    elif not errors:
                        copy.write_row((line, *parsed))
                    if self.progress is not None and rows % PROGRESS_EVERY == 0:
                        self.progress(name, rows)
        except bulk_rows.UnreadableFile as exc:
            errors = [f"{name}: unreadable CSV: {exc}"]
        if errors:
            raise ImportFailed([FileReport(name=name, errors=errors)])
        self.staged[name] = rows
        self.cursor.execute(f"ANALYZE {table}")

    # --- 2. what needs the database ----------------------------------------------------------------

    def check(self, name: str) -> None:
        table = STAGING[name][0]
        key, key_words = KEYS[name]
        found: list[tuple[int, str]] = [
            (line, f"the same {key_words} as line {first} (each key once per file)")
            for line, first in self._fetch(
                f"SELECT line, first FROM (SELECT line, min(line) OVER (PARTITION BY {key}) AS first FROM {table}) d "
                f"WHERE line > first ORDER BY line LIMIT {MAX_ERRORS}"
            )
        ]
        found += getattr(self, "_check_" + name.removesuffix(".csv"))(table)
        if found:
            found.sort()
            errors = [f"{name}, line {line}: {message}" for line, message in found[:MAX_ERRORS]]
            raise ImportFailed([FileReport(name=name, errors=errors)])

    def _fetch(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        self.cursor.execute(sql, params)
        return list(self.cursor.fetchall())

    def _staged_or_empty(self, name: str, select: str) -> str:
        """Nor in the parent file of the same run (a key may come from there).

        ``AND NOT EXISTS``, never ``NOT (EXISTS ... OR EXISTS ...)``: the OR form cannot become an
        anti-join and scanned the parent table once per row (minutes at 100k rows).
        """
        return f" AND NOT EXISTS ({select.format(table=STAGING[name][0])})" if name in self.staged else ""

    def _resolve_customers(self, table: str, column: str, target: str) -> None:
        self.cursor.execute(
            f"UPDATE {table} s SET {target} = m.id FROM ({CUSTOMER_BY_EMAIL.format(column=column, table=table)}) m "
            f"WHERE m.key = upper(s.{column})"
        )

    def _check_customers(self, table: str) -> list[tuple[int, str]]:
        self._resolve_customers(table, "email", "target_id")
        return [
            (line, "status: a new customer is imported as active; a suspension is recorded only by a chargeback "
                   "(chargebacks.csv or the chargeback admin)")
            for (line,) in self._fetch(
                f"SELECT line FROM {table} WHERE target_id IS NULL AND status <> 'active' ORDER BY line LIMIT {MAX_ERRORS}"
            )
        ]

    def _check_invoices(self, table: str) -> list[tuple[int, str]]:
        staged = self._staged_or_empty(
            "customers.csv", "SELECT 1 FROM {table} cs WHERE cs.email = s.customer_email"
        )
        found = [
            (line, f"customer_email: no customer with email {email} (import customers.csv first)")
            for line, email in self._fetch(
                f"SELECT s.line, s.customer_email FROM {table} s WHERE NOT EXISTS (SELECT 1 FROM billing_customer c "
                f"WHERE upper(c.email) = upper(s.customer_email)){staged} ORDER BY s.line LIMIT {MAX_ERRORS}"
            )
        ]
        self._resolve_customers(table, "customer_email", "customer_id")
        self.cursor.execute(f"UPDATE {table} s SET target_id = i.id FROM billing_invoice i WHERE i.number = s.number")
        found += [
            (line, frozen_message(number, reference))
            for line, number, reference in self._fetch(
                f"SELECT s.line, s.number, f.reference FROM {table} s JOIN billing_invoice i ON i.id = s.target_id "
                f"CROSS JOIN LATERAL ({FIRST_DECISION.format(invoice='i.id')}) f "
                f"WHERE {INVOICE_CHANGED} ORDER BY s.line LIMIT {MAX_ERRORS}"
            )
        ]
        return found

    def _check_invoice_lines(self, table: str) -> list[tuple[int, str]]:
        staged = self._staged_or_empty("invoices.csv", "SELECT 1 FROM {table} si WHERE si.number = s.invoice_number")
        found = [
            (line, f"no invoice {number} (import invoices.csv first)")
            for line, number in self._fetch(
                f"SELECT s.line, s.invoice_number FROM {table} s WHERE NOT EXISTS (SELECT 1 FROM billing_invoice i "
                f"WHERE i.number = s.invoice_number){staged} ORDER BY s.line LIMIT {MAX_ERRORS}"
            )
        ]
        self._resolve_lines(table)
        found += [
            (line, frozen_message(number, reference))
            for line, number, reference in self._fetch(
                f"SELECT s.line, s.invoice_number, f.reference FROM {table} s "
                f"CROSS JOIN LATERAL ({FIRST_DECISION.format(invoice='s.invoice_id')}) f "
                f"LEFT JOIN billing_invoiceline l ON l.id = s.target_id "
                f"WHERE s.invoice_id IS NOT NULL AND (l.id IS NULL OR {LINE_CHANGED}) ORDER BY s.line LIMIT {MAX_ERRORS}"
            )
        ]
        return found

    def _resolve_lines(self, table: str) -> None:
        self.cursor.execute(
            f"UPDATE {table} s SET invoice_id = i.id FROM billing_invoice i WHERE i.number = s.invoice_number"
        )
        self.cursor.execute(
            f"UPDATE {table} s SET target_id = l.id FROM billing_invoiceline l "
            f"WHERE l.invoice_id = s.invoice_id AND l.line_no = s.line_no"
        )

    def _check_usage(self, table: str) -> list[tuple[int, str]]:
        staged = self._staged_or_empty(
            "invoice_lines.csv",
            "SELECT 1 FROM {table} sl WHERE sl.invoice_number = s.invoice_number AND sl.line_no = s.line_no",
        )
        return [
            (line, f"invoice {number} has no line {line_no} (import invoice_lines.csv first)")
            for line, number, line_no in self._fetch(
                f"SELECT s.line, s.invoice_number, s.line_no FROM {table} s WHERE NOT EXISTS (SELECT 1 "
                f"FROM billing_invoiceline l JOIN billing_invoice i ON i.id = l.invoice_id "
                f"WHERE i.number = s.invoice_number AND l.line_no = s.line_no){staged} ORDER BY s.line LIMIT {MAX_ERRORS}"
            )
        ]

    # --- 3. write ------------------------------------------------------------------------------------

    def apply(self, name: str) -> FileReport:
        table = STAGING[name][0]
        self.cursor.execute(f"TRUNCATE {CHANGED}")
        updated, new = getattr(self, "_apply_" + name.removesuffix(".csv"))(table)
        self.cursor.execute(f"DROP TABLE {table}")
        total = self.staged[name]
        self._reevaluate()
        return FileReport(name=name, new=new, updated=updated, skipped=total - new - updated)

    def _changed(self, statement: str, returning: str, customer: str = "SELECT * FROM done") -> int:
        """Run an UPDATE / INSERT ... RETURNING and keep the customer ids it touched; the row count."""
        self.cursor.execute(f"WITH done AS ({statement} RETURNING {returning}) INSERT INTO {CHANGED} {customer}")
        return int(self.cursor.rowcount)

    def _apply_customers(self, table: str) -> tuple[int, int]:
        # A known customer keeps its recorded status: suspension changes only through chargebacks.
        updated = self._changed(
            f"UPDATE billing_customer c SET email = s.email, name = s.name, identity_verified = s.identity_verified "
            f"FROM {table} s WHERE c.id = s.target_id "
            f"AND (c.email, c.name, c.identity_verified) IS DISTINCT FROM (s.email, s.name, s.identity_verified)",
            "c.id",
        )
        new = self._changed(
            "INSERT INTO billing_customer (email, name, other_emails, external_id, status, suspended_at, "
            "suspension_reason, suspended_by, identity_verified, created_at) "
            f"SELECT s.email, s.name, '[]'::jsonb, '', s.status, NULL, '', '', s.identity_verified, now() "
            f"FROM {table} s WHERE s.target_id IS NULL ORDER BY s.line",
            "id",
        )
        return updated, new

    def _apply_invoices(self, table: str) -> tuple[int, int]:
        self._resolve_customers(table, "customer_email", "customer_id")  # customers of this run exist now
        updated = self._changed(
            f"UPDATE billing_invoice i SET customer_id = s.customer_id, issued_on = s.issued_on, kind = s.kind, "
            f"payment_method = s.payment_method, currency = s.currency, amount_paid = s.amount_paid, "
            f"paid_at = s.paid_at FROM {table} s WHERE i.id = s.target_id AND {INVOICE_CHANGED}",
            "i.customer_id",
        )
        new = self._changed(
            "INSERT INTO billing_invoice (number, customer_id, issued_on, kind, payment_method, currency, "
            "amount_paid, paid_at) SELECT s.number, s.customer_id, s.issued_on, s.kind, s.payment_method, "
            f"s.currency, s.amount_paid, s.paid_at FROM {table} s WHERE s.target_id IS NULL ORDER BY s.line",
            "customer_id",
        )
        return updated, new

    def _apply_invoice_lines(self, table: str) -> tuple[int, int]:
        self._resolve_lines(table)  # invoices of this run exist now
        updated = self._changed(
            f"UPDATE billing_invoiceline l SET category = s.category, description = s.description, "
            f"amount = s.amount, units = s.units, service = s.service, period_start = s.period_start, "
            f"period_end = s.period_end FROM {table} s, billing_invoice i "
            f"WHERE l.id = s.target_id AND i.id = s.invoice_id AND {LINE_CHANGED}",
            "i.customer_id",
        )
        new = self._changed(
            "INSERT INTO billing_invoiceline (invoice_id, line_no, category, description, amount, units, service, "
            "period_start, period_end) SELECT s.invoice_id, s.line_no, s.category, s.description, s.amount, s.units, "
            f"s.service, s.period_start, s.period_end FROM {table} s WHERE s.target_id IS NULL ORDER BY s.line",
            "invoice_id",
            "SELECT i.customer_id FROM done JOIN billing_invoice i ON i.id = done.invoice_id",
        )
        return updated, new

    def _apply_usage(self, table: str) -> tuple[int, int]:
        self.cursor.execute(
            f"UPDATE {table} s SET invoice_line_id = l.id FROM billing_invoiceline l JOIN billing_invoice i "
            f"ON i.id = l.invoice_id WHERE i.number = s.invoice_number AND l.line_no = s.line_no"
        )
        self.cursor.execute(
            f"UPDATE {table} s SET target_id = u.id FROM billing_usagerecord u "
            f"WHERE u.invoice_line_id = s.invoice_line_id AND u.at = s.at"
        )
        # As UsageResource.before_save_instance: the customer and (when blank) the service follow the line.
        updated = self._changed(
            f"UPDATE billing_usagerecord u SET units = s.units, customer_id = i.customer_id, "
            f"service = CASE WHEN u.service = '' THEN l.service ELSE u.service END "
            f"FROM {table} s, billing_invoiceline l, billing_invoice i "
            f"WHERE u.id = s.target_id AND l.id = s.invoice_line_id AND i.id = l.invoice_id "
            f"AND u.units IS DISTINCT FROM s.units",
            "u.customer_id",
        )
        new = self._changed(
            "INSERT INTO billing_usagerecord (customer_id, invoice_line_id, service, at, period_end, units) "
            f"SELECT i.customer_id, s.invoice_line_id, l.service, s.at, NULL, s.units FROM {table} s "
            f"JOIN billing_invoiceline l ON l.id = s.invoice_line_id JOIN billing_invoice i ON i.id = l.invoice_id "
            f"WHERE s.target_id IS NULL ORDER BY s.line",
            "customer_id",
        )
        return updated, new

    def _reevaluate(self) -> None:
        """Facts changed: open requests of those customers are evaluated again (as the resources do).

        Driven from the changed customers, each probing the requests' customer index: the planner's
        ``IN (...) LIMIT 1`` form scanned the 100k changed ids once per open request (minutes).
        """
        self.cursor.execute(f"ANALYZE {CHANGED}")
        affected = self._fetch(
            f"SELECT 1 FROM {CHANGED} c WHERE EXISTS (SELECT 1 FROM refunds_refundrequest r "
            f"WHERE r.customer_id = c.customer_id AND r.state IN {OPEN}) LIMIT 1"
        )
        if affected:
            ids = [row[0] for row in self._fetch(f"SELECT DISTINCT customer_id FROM {CHANGED}")]
            services.reevaluate_open_requests(customer_ids=ids)

    def close(self) -> None:
        self.cursor.close()


INVOICE_CHANGED = (
    "(i.customer_id, i.issued_on, i.kind, i.payment_method, i.currency, i.amount_paid, i.paid_at) "
    "IS DISTINCT FROM (s.customer_id, s.issued_on, s.kind, s.payment_method, s.currency, s.amount_paid, s.paid_at)"
)
LINE_CHANGED = (
    "(l.category, l.description, l.amount, l.units, l.service, l.period_start, l.period_end) "
    "IS DISTINCT FROM (s.category, s.description, s.amount, s.units, s.service, s.period_start, s.period_end)"
)
