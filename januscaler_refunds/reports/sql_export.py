"""The refund report produced by PostgreSQL: the CSV, byte for byte what the Python writer makes.

``services.export_csv_stream`` / ``export_write`` / ``export_run_to_storage`` use this path on
PostgreSQL (the admin's filtered downloads, the worker's queued exports and ``export_refunds``); the
Python writer (``services._csv_chunks`` over ``RefundReportResource``) stays the path on SQLite and
the reference the tests compare this one with, byte for byte.

How: the queryset the caller built (filters, search, ordering and all) gets one ``values()`` of SQL
expressions, one per report column, so every cell leaves the database already as its CSV text:

* timestamps in Kolkata as ``2026-05-06T10:00:00+05:30`` (ISO 8601, seconds truncated, the offset the
  zone had then), dates as ``YYYY-MM-DD``, amounts as PostgreSQL's numeric text (``-5.00``), NULL as
  an empty cell (unquoted, as ``csv.writer`` writes ``""``), and an empty string as NULL too;
* formula neutralisation (CWE-1236): a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a
  carriage return gets a leading ``'`` (``ascii()`` of the first character); numbers are never touched,
  nor stored choice codes, which check constraints keep to identifiers;
* ``reason_codes``: the decision's codes for a decided request, else the evaluation's, ``;``-joined
  (from the jsonb text with two ``replace`` calls when no element holds an escape, else element by
  element);
* ``business_days_to_decision``: weekdays between the two Kolkata dates by arithmetic, minus the
  holidays in between counted by ``width_bucket`` (binary search) over the sorted weekday holidays of
  the years the data spans, passed in as an array literal (public holidays from the ``holidays``
  package, company holidays from the admin, exactly the set ``BusinessCalendar`` uses).

The statement is ``COPY (SELECT …) TO STDOUT WITH (FORMAT csv, HEADER true)`` read through psycopg 3's
``cursor.copy()``. PostgreSQL ends each row with ``\\n``; ``csv.writer`` writes ``\\r\\n``: each batch
of rows is joined and its row ends rewritten in C (``bytes.replace``) when no cell holds a newline,
else row by row. Quoting rules are the same on both sides (a cell is quoted when it holds a comma, a
double quote, CR or LF; quotes are doubled).

Not used (the Python path is) for querysets this module cannot express as one SELECT: ``distinct()``,
unions, or a connection whose ``DateStyle`` is not ISO.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections, transaction
from django.db.models import Expression, F, Func, IntegerField, Max, Min, QuerySet, TextField

from januscaler_refunds.policy.calendar import BusinessCalendar
from januscaler_refunds.refunds.evaluation import business_calendar
from januscaler_refunds.refunds.models import RefundRequest
from januscaler_refunds.reports.resources import (
    DECIDED_STATES,
    SETTLED_STATES,
    RefundReportResource,
)

BATCH_ROWS = 2000  # rows joined into one chunk (~0.3 MB): one hash update and one write each

# Asia/Kolkata has been UTC+05:30 since 1945-10-15; before that the general (slower) branch asks the
# zone database for the offset of the moment.
FIXED_OFFSET_SINCE = "TIMESTAMPTZ '1946-01-01 00:00:00+00'"
ZONE = "Asia/Kolkata"
FORMULA_ASCII = "(9, 13, 43, 45, 61, 64)"  # tab, CR, +, -, =, @
EPOCH_MONDAY = "DATE '0001-01-01'"  # a Monday in the proleptic Gregorian calendar, as Python's date(1, 1, 1)


def _states(states: frozenset[str]) -> str:
    return "(" + ", ".join(f"'{s}'" for s in sorted(states)) + ")"


DECIDED = _states(DECIDED_STATES)
SETTLED = _states(SETTLED_STATES)

# --- cell templates ({0}, {1}, ... are the compiled source columns) -----------------------------

TEXT = f"CASE WHEN ascii({{0}}) IN {FORMULA_ASCII} THEN '''' || {{0}} ELSE NULLIF({{0}}, '') END"
# A stored choice code (state, reason, currency, payment method, recommendation): a check constraint
# (``db_checks.choice_checks``) limits it to identifiers, so it never starts like a formula; only the
# empty code needs to become an empty cell.
CODE = "NULLIF({0}, '')"


def _offset_text(moment: str) -> str:
    """The moment's UTC offset in Kolkata as Python's isoformat writes it: +HH:MM[:SS]."""
    secs = f"extract(epoch FROM ({moment} AT TIME ZONE '{ZONE}') - ({moment} AT TIME ZONE 'UTC'))::int"
    return (
        f"(SELECT CASE WHEN s < 0 THEN '-' ELSE '+' END || lpad((abs(s) / 3600)::text, 2, '0') || ':' "
        f"|| lpad((mod(abs(s), 3600) / 60)::text, 2, '0') "
        f"|| CASE WHEN mod(abs(s), 60) <> 0 THEN ':' || lpad(mod(abs(s), 60)::text, 2, '0') ELSE '' END "
        f"FROM (SELECT {secs} AS s) o)"
    )


STAMP = (
    f"CASE WHEN {{0}} IS NULL THEN NULL WHEN {{0}} >= {FIXED_OFFSET_SINCE} "
    f"THEN replace(date_trunc('second', {{0}} AT TIME ZONE INTERVAL '+05:30')::text, ' ', 'T') || '+05:30' "
    f"ELSE replace(date_trunc('second', {{0}} AT TIME ZONE '{ZONE}')::text, ' ', 'T') || {_offset_text('{0}')} END"
)


def _local_date(moment: str) -> str:
    return (
        f"CASE WHEN {moment} >= {FIXED_OFFSET_SINCE} THEN ({moment} AT TIME ZONE INTERVAL '+05:30')::date "
        f"ELSE ({moment} AT TIME ZONE '{ZONE}')::date END"
    )


DAY = _local_date("{0}")


def _neutralised(first_char: str, text: str) -> str:
    return f"NULLIF(CASE WHEN ascii({first_char}) IN {FORMULA_ASCII} THEN '''' ELSE '' END || {text}, '')"


# {0} state, {1} decision_codes, {2} evaluation_codes. ``t`` is the chosen list's jsonb text, computed
# once (OFFSET 0 keeps PostgreSQL from inlining it into every use). '["a", "b"]' -> 'a;b' when no
# element holds an escape (a backslash); otherwise element by element.
_ELEMENTS = "array_to_string(ARRAY(SELECT jsonb_array_elements_text(c)), ';')"
_JOINED = """replace(substr(t, 3, length(t) - 4), '", "', ';')"""
_SIMPLE = _neutralised("substr(t, 3, 1)", _JOINED)
CODES = (
    "(SELECT CASE WHEN c IS NULL OR jsonb_typeof(c) <> 'array' OR t = '[]' THEN NULL "
    """WHEN strpos(t, '\\') = 0 AND left(t, 2) = '["' """
    f"THEN {_SIMPLE} "
    f"ELSE {_neutralised(_ELEMENTS, _ELEMENTS)} END "
    f"FROM (SELECT c, c::text AS t FROM (SELECT CASE WHEN {{0}} IN {DECIDED} THEN {{1}} ELSE {{2}} END AS c) a "
    "OFFSET 0) b)"
)
MET = "CASE WHEN {0} IN %s THEN CASE WHEN {1} <= {2} THEN 'yes' WHEN {1} > {2} THEN 'no' END END"
SETTLED_AMOUNT = "COALESCE({0}, {1})"


def _weekdays_upto(day: str) -> str:
    """Weekdays from the epoch Monday up to ``day`` (offset by a constant, so differences are exact)."""
    n = f"({day} - {EPOCH_MONDAY})"
    return f"(5 * ({n} / 7) + LEAST(mod({n}, 7), 4))"


def business_days_sql(holidays: list[dt.date], lo: dt.date, hi: dt.date) -> str:
    """{0} state, {1} received_at, {2} decided_at -> business days strictly after the received date up
    to and including the decided date (Kolkata dates), as ``BusinessCalendar.business_days_between``.

    ``holidays``: the sorted weekday holidays between ``lo`` and ``hi``; a date outside that span fails
    the export loudly rather than count without its holidays."""
    start, end = _local_date("{1}"), _local_date("{2}")
    # A leading 0001-01-01 keeps the array non-empty; it falls before every date, so it cancels out.
    array = "'{" + ",".join(["0001-01-01", *(d.isoformat() for d in holidays)]) + "}'::date[]"
    return (
        f"CASE WHEN {{0}} IN {DECIDED} AND {{2}} IS NOT NULL THEN "
        f"CASE WHEN ({start}) NOT BETWEEN DATE '{lo}' AND DATE '{hi}' "
        f"OR ({end}) NOT BETWEEN DATE '{lo}' AND DATE '{hi}' "
        f"THEN ('business days: a date outside the calendar loaded for this export, ' || {{2}}::text)::int "
        f"ELSE {_weekdays_upto(end)} - {_weekdays_upto(start)} "
        f"- width_bucket({end}, {array}) + width_bucket({start}, {array}) END END"
    )


class Sql(Func):
    """A SQL template over model fields: ``{0}``, ``{1}``... are the compiled source expressions (joins
    resolved by Django, so the queryset's own aliases are used)."""

    _PLACE = re.compile(r"\{(\d+)\}")

    def __init__(self, template: str, *sources: Any, output_field: Any = None) -> None:
        super().__init__(*(F(s) if isinstance(s, str) else s for s in sources),
                         output_field=output_field or TextField())
        self.sql_template = template

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:  # type: ignore[override]
        compiled = [compiler.compile(e) for e in self.get_source_expressions()]
        params: list[Any] = []

        def place(match: re.Match[str]) -> str:
            sql, p = compiled[int(match.group(1))]
            params.extend(p)
            return f"({sql})"

        return self._PLACE.sub(place, self.sql_template), params


def _text(field: str) -> Expression:
    return Sql(TEXT, field)


def report_columns(calendar: BusinessCalendar, lo: dt.date, hi: dt.date) -> list[Expression]:
    """One SQL expression per report column, in the report's order (``RefundReportResource``)."""
    holidays = weekday_holidays(calendar, lo, hi)
    met = MET.replace("%s", DECIDED)
    paid_met = MET.replace("%s", SETTLED)
    return [
        _text("reference"),
        Sql(STAMP, "received_at"),
        _text("customer__name"),
        _text("customer__email"),
        _text("invoice__number"),
        Sql("{0}", "invoice__issued_on"),  # date_out, DateStyle ISO: YYYY-MM-DD
        Sql(CODE, "invoice__payment_method"),
        Sql(CODE, "reason"),
        Sql(CODE, "state"),
        Sql(CODE, "recommendation"),
        Sql(CODES, "state", "decision_codes", "evaluation_codes"),
        _text("policy_version__label"),
        Sql("{0}", "requested_amount"),  # numeric_out: the stored scale, no exponent, as f"{Decimal:f}"
        Sql("{0}", "refundable_amount"),
        Sql("{0}", "approved_amount"),
        Sql(SETTLED_AMOUNT, "payout__amount", "credit__amount"),
        Sql(CODE, "currency"),
        _text("assignee__username"),
        Sql(DAY, "review_due_at"),
        Sql(STAMP, "decided_at"),
        Sql(business_days_sql(holidays, lo, hi), "state", "received_at", "decided_at", output_field=IntegerField()),
        Sql(met, "state", "decided_at", "review_due_at"),
        Sql(DAY, "payout_due_at"),
        Sql(STAMP, "settled_at"),
        Sql(paid_met, "state", "settled_at", "payout_due_at"),
    ]


def weekday_holidays(calendar: BusinessCalendar, lo: dt.date, hi: dt.date) -> list[dt.date]:
    """The calendar's holidays that fall on a weekday between ``lo`` and ``hi`` (weekends are already
    not business days), sorted."""
    days = {d for year in range(lo.year, hi.year + 1) for d in calendar.public_holidays(year)}
    days |= {d for d in calendar.company_holidays if lo <= d <= hi}
    return sorted(d for d in days if d.weekday() < 5 and lo <= d <= hi)


def calendar_span(queryset: QuerySet[RefundRequest]) -> tuple[dt.date, dt.date]:
    """The years whose holidays the export loads: from a year before the first request received to a
    year after this year or the last request received (two index reads, whatever the filters)."""
    bounds = RefundRequest.objects.using(queryset.db).aggregate(first=Min("received_at"), last=Max("received_at"))
    today = dt.date.today()
    first = bounds["first"].date() if bounds["first"] else today
    last = bounds["last"].date() if bounds["last"] else today
    return dt.date(min(first, today).year - 1, 1, 1), dt.date(max(last, today).year + 1, 12, 31)


def supported(queryset: QuerySet[Any]) -> bool:
    """Whether this queryset's report can be produced in SQL (else the caller uses the Python path)."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return False
    query = queryset.query
    if query.distinct or query.combinator or query.group_by is not None:
        return False
    connection.ensure_connection()
    info = connection.connection.info  # type: ignore[union-attr]
    return bool((info.parameter_status("DateStyle") or "").startswith("ISO")) and info.encoding == "utf-8"


def copy_statement(queryset: QuerySet[RefundRequest], calendar: BusinessCalendar | None = None) -> tuple[str, list[Any]]:
    """``COPY (SELECT …) TO STDOUT WITH (FORMAT csv, HEADER true)`` for the queryset's rows, in its order.

    Raises ``EmptyResultSet`` when the queryset can match nothing (e.g. ``pk__in=[]``)."""
    connection = connections[queryset.db]
    lo, hi = calendar_span(queryset)
    columns = report_columns(calendar or business_calendar(), lo, hi)
    names = RefundReportResource().get_export_headers()
    select = queryset.values(**{f"x{i}": col for i, col in enumerate(columns)})
    sql, params = select.query.sql_with_params()
    outer = ", ".join(f"s.x{i} AS {connection.ops.quote_name(name)}" for i, name in enumerate(names))
    return f"COPY (SELECT {outer} FROM ({sql}) s) TO STDOUT WITH (FORMAT csv, HEADER true)", list(params)


def header_line() -> bytes:
    return (",".join(RefundReportResource().get_export_headers()) + "\r\n").encode("utf-8")


def _crlf(rows: list[Any]) -> bytes:
    """Rows as PostgreSQL sent them (each ends with one LF) with CRLF row ends, as csv.writer writes."""
    chunk = b"".join(rows)
    if chunk.count(b"\n") == len(rows):  # no cell holds a newline: every LF ends a row
        return chunk.replace(b"\n", b"\r\n")
    return b"\r\n".join([row[:-1] for row in rows]) + b"\r\n"


def csv_chunks(
    queryset: QuerySet[RefundRequest],
    *,
    on_rows: Callable[[int], None] | None = None,
    calendar: BusinessCalendar | None = None,
    batch_rows: int = BATCH_ROWS,
) -> Iterator[bytes]:
    """The report as CSV bytes, header first, then chunks of ``batch_rows`` rows. ``on_rows(n)`` is
    told the running row count before each chunk is yielded (the record's row count, progress).

    The connection is busy with the COPY until the last chunk: ``on_rows`` must not query through it."""
    try:
        statement, params = copy_statement(queryset, calendar)
    except EmptyResultSet:
        yield header_line()
        return
    connection = connections[queryset.db]
    # Inside a transaction (tests, an atomic caller) a COPY cancelled by an abandoned download would
    # leave it aborted: a savepoint lets the caller go on to record the abort.
    savepoint = transaction.savepoint(using=queryset.db) if connection.in_atomic_block else None
    rows = 0
    header = 1  # the header is the first "row" PostgreSQL sends; it rides with the first batch
    try:
        with connection.cursor() as cursor, cursor.cursor.copy(statement, params) as copy:
            batch: list[Any] = []
            for data in copy:
                batch.append(data)
                if len(batch) == batch_rows + header:
                    rows += len(batch) - header
                    header = 0
                    if on_rows is not None:
                        on_rows(rows)
                    yield _crlf(batch)
                    batch = []
            if batch:
                rows += len(batch) - header
                if on_rows is not None:
                    on_rows(rows)
                yield _crlf(batch)
    except BaseException:
        if savepoint is not None:
            transaction.savepoint_rollback(savepoint, using=queryset.db)
        raise
    if savepoint is not None:
        transaction.savepoint_commit(savepoint, using=queryset.db)
