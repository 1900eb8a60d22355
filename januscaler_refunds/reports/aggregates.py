"""The dashboard's history as day figures PostgreSQL keeps exact in the same transaction as the change.

Why: every dashboard view aggregated all requests and their history (70 s at 1M requests, issue 14).
What every figure of the dashboard needs is a sum per Kolkata day of a few facts of one request:

=========  ===================  ===============================  ===================================
kind       day                  key                              values
=========  ===================  ===============================  ===================================
received   received date        reason                           n
decided    decision date        reason, label approved|denied    n, k reviews with a due date,
                                                                 m reviews decided by their due date
median     decision date        since = received date            n (the median's histogram)
settled    settlement date      reason, currency                 n, k payouts with a due date, m paid
                                                                 by their due date, refunded
                                                                 (payout amount), credited
code       received date        label = reason code              n (decision codes once decided,
                                                                 else evaluation codes)
inplay     due date (review     label = state, policy version,   n (open and approved requests:
           while open, payout   assignee, reason = no_due_date   the cards and the dashboard's
           once approved)       when there is none               state x deadline table)
=========  ===================  ===============================  ===================================

``reports_figure_rows(request, sign)`` (SQL) is a request's contribution. Triggers keep the table:

* an ``UPDATE`` of a request that touches a fact above (the ``WHEN`` clause: the deadline scan's
  rating columns never fire it) inserts its new contribution minus its old one, net of what cancels;
* ``INSERT`` / ``DELETE`` of requests add / subtract their contributions once per *statement*
  (transition tables: a bulk import or seed costs one grouped insert, not one per row);
* a payout or account credit written, changed or deleted moves its settled request's amount;
* ``TRUNCATE`` of the requests empties it.

The triggers only ever *insert* delta rows (no row is updated, so concurrent transitions never wait
on each other's figures, and no lock order can deadlock). Readers sum every row of the window, so
the figures are exact at every moment in every snapshot. The beat task ``fold_day_figures``
(every 10 minutes) folds the deltas into one row per key (``folded``), keeping the table small:
about 100 rows per day of history. ``rebuild()`` recomputes it from the requests (the migration's
backfill; a repair if the table was ever edited by hand).

PostgreSQL only; on SQLite the dashboard computes the same figures from the requests
(reports/selectors.py). tests/reports/test_dashboard_aggregates.py computes the dashboard both ways
on varied data, through transitions, imports and payouts, and compares every figure.
"""

from __future__ import annotations

from typing import Any

from django.db import connection

TABLE = "reports_dayfigure"
FOLD_LOCK_KEY = 0x4A5344_0007
EPOCH = "DATE '1970-01-01'"

DECIDED = "('approved', 'denied', 'paid', 'credited')"
SETTLED = "('paid', 'credited')"
# Columns of a request whose change can move a figure (the UPDATE trigger's WHEN clause).
FACTS = ("state", "reason", "currency", "received_at", "decided_at", "settled_at", "review_due_at",
         "payout_due_at", "evaluation_codes", "decision_codes", "policy_version_id", "assignee_id")
IN_PLAY = "('submitted', 'under_review', 'info_requested', 'approved')"


def _day(column: str) -> str:
    return f"(({column}) AT TIME ZONE 'Asia/Kolkata')::date"


# The due moment a request in play works against: review while open, payout once approved.
_DUE = "CASE WHEN r.state = 'approved' THEN r.payout_due_at ELSE r.review_due_at END"


KEYS = "kind, day, reason, currency, label, since, version_id, assignee_id"
F_KEYS = "f.kind, f.day, f.reason, f.currency, f.label, f.since, f.version_id, f.assignee_id"
VALUES = "n, k, m, refunded, credited"
SUMS = "sum(f.n), sum(f.k), sum(f.m), sum(f.refunded), sum(f.credited)"
NONZERO = "sum(f.n) <> 0 OR sum(f.k) <> 0 OR sum(f.m) <> 0 OR sum(f.refunded) <> 0 OR sum(f.credited) <> 0"


def _delta_trigger(name: str, source: str) -> str:
    """A trigger function inserting the net contributions of ``source`` (rows f) as one delta each."""
    return f"""
    CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO {TABLE} ({KEYS}, {VALUES})
        SELECT {F_KEYS}, {SUMS}
        FROM {source}
        GROUP BY 1, 2, 3, 4, 5, 6, 7, 8 HAVING {NONZERO};
        RETURN NULL;
    END $$
    """


INSTALL_SQL = [
    f"""
    CREATE TABLE IF NOT EXISTS {TABLE} (
        kind varchar(10) NOT NULL,
        day date NOT NULL,
        reason varchar(32) NOT NULL DEFAULT '',
        currency varchar(3) NOT NULL DEFAULT '',
        label text NOT NULL DEFAULT '',
        since date NOT NULL DEFAULT {EPOCH},
        version_id bigint NOT NULL DEFAULT 0,
        assignee_id bigint NOT NULL DEFAULT 0,
        n bigint NOT NULL DEFAULT 0,
        k bigint NOT NULL DEFAULT 0,
        m bigint NOT NULL DEFAULT 0,
        refunded numeric(18, 2) NOT NULL DEFAULT 0,
        credited numeric(18, 2) NOT NULL DEFAULT 0,
        folded boolean NOT NULL DEFAULT false
    )
    """,
    f"CREATE UNIQUE INDEX IF NOT EXISTS reports_dayfigure_folded ON {TABLE} ({KEYS}) WHERE folded",
    f"CREATE INDEX IF NOT EXISTS reports_dayfigure_day ON {TABLE} (day, kind)",
    f"""
    CREATE OR REPLACE FUNCTION reports_figure_rows(r refunds_refundrequest, s integer)
    RETURNS TABLE (kind varchar, day date, reason varchar, currency varchar, label text, since date,
                   n bigint, k bigint, m bigint, refunded numeric, credited numeric,
                   version_id bigint, assignee_id bigint)
    LANGUAGE sql STABLE AS $$
        SELECT 'received'::varchar, {_day('r.received_at')}, r.reason::varchar, ''::varchar, ''::text, {EPOCH},
               s::bigint, 0::bigint, 0::bigint, 0::numeric, 0::numeric, 0::bigint, 0::bigint
        WHERE r.received_at IS NOT NULL
        UNION ALL
        SELECT 'decided', {_day('r.decided_at')}, r.reason, '',
               CASE WHEN r.state = 'denied' THEN 'denied' ELSE 'approved' END, {EPOCH},
               s, s * (r.review_due_at IS NOT NULL)::int, s * coalesce(r.decided_at <= r.review_due_at, false)::int,
               0, 0, 0, 0
        WHERE r.state IN {DECIDED} AND r.decided_at IS NOT NULL
        UNION ALL
        SELECT 'median', {_day('r.decided_at')}, '', '', '', {_day('r.received_at')}, s, 0, 0, 0, 0, 0, 0
        WHERE r.state IN {DECIDED} AND r.decided_at IS NOT NULL AND r.received_at IS NOT NULL
        UNION ALL
        SELECT 'settled', {_day('r.settled_at')}, r.reason, r.currency, '', {EPOCH},
               s, s * (r.payout_due_at IS NOT NULL)::int, s * coalesce(r.settled_at <= r.payout_due_at, false)::int,
               s * coalesce((SELECT p.amount FROM refunds_payout p WHERE p.request_id = r.id), 0),
               s * coalesce((SELECT c.amount FROM refunds_accountcredit c WHERE c.request_id = r.id), 0), 0, 0
        WHERE r.state IN {SETTLED} AND r.settled_at IS NOT NULL
        UNION ALL
        SELECT 'code', {_day('r.received_at')}, '', '', c.code, {EPOCH}, s, 0, 0, 0, 0, 0, 0
        FROM (SELECT CASE WHEN r.state IN {DECIDED} THEN r.decision_codes::jsonb ELSE r.evaluation_codes::jsonb END)
             AS codes(j),
             jsonb_array_elements_text(CASE WHEN jsonb_typeof(codes.j) = 'array' THEN codes.j ELSE '[]'::jsonb END)
             AS c(code)
        WHERE r.received_at IS NOT NULL
        UNION ALL
        SELECT 'inplay', coalesce({_day(_DUE)}, {EPOCH}),
               CASE WHEN {_DUE} IS NULL THEN 'no_due_date' ELSE '' END, '', r.state, {EPOCH}, s, 0, 0, 0, 0,
               coalesce(r.policy_version_id, 0), coalesce(r.assignee_id, 0)
        WHERE r.state IN {IN_PLAY}
    $$
    """,
    f"""
    CREATE OR REPLACE FUNCTION reports_money_rows(request_id bigint, refunded numeric, credited numeric)
    RETURNS TABLE (kind varchar, day date, reason varchar, currency varchar, label text, since date,
                   n bigint, k bigint, m bigint, refunded numeric, credited numeric,
                   version_id bigint, assignee_id bigint)
    LANGUAGE sql STABLE AS $$
        SELECT 'settled'::varchar, {_day('r.settled_at')}, r.reason::varchar, r.currency::varchar, ''::text,
               {EPOCH}, 0::bigint, 0::bigint, 0::bigint, refunded, credited, 0::bigint, 0::bigint
        FROM refunds_refundrequest r
        WHERE r.id = request_id AND r.state IN {SETTLED} AND r.settled_at IS NOT NULL
    $$
    """,
    *(_delta_trigger(name, source) for name, source in (
        ("reports_figures_on_update",  # the row's new contribution minus its old one
         "(SELECT * FROM reports_figure_rows(OLD, -1) UNION ALL SELECT * FROM reports_figure_rows(NEW, 1)) f"),
        ("reports_figures_on_insert",  # per statement: the inserted rows (transition table)
         "added r CROSS JOIN LATERAL reports_figure_rows(r::refunds_refundrequest, 1) f"),
        ("reports_figures_on_delete",  # per statement: the deleted rows
         "removed r CROSS JOIN LATERAL reports_figure_rows(r::refunds_refundrequest, -1) f"),
    )),
    f"""
    CREATE OR REPLACE FUNCTION reports_figures_on_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        TRUNCATE {TABLE};
        RETURN NULL;
    END $$
    """,
    # Money: TG_ARGV[0] is 'refunded' (payouts) or 'credited' (account credits).
    f"""
    CREATE OR REPLACE FUNCTION reports_money_on_change() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        delta numeric := 0;
        request bigint;
    BEGIN
        IF TG_OP IN ('INSERT', 'UPDATE') THEN delta := delta + NEW.amount; request := NEW.request_id; END IF;
        IF TG_OP IN ('DELETE', 'UPDATE') THEN
            IF TG_OP = 'UPDATE' AND OLD.request_id IS DISTINCT FROM NEW.request_id THEN
                INSERT INTO {TABLE} ({KEYS}, {VALUES})
                SELECT {F_KEYS}, f.n, f.k, f.m, f.refunded, f.credited FROM reports_money_rows(OLD.request_id,
                    CASE WHEN TG_ARGV[0] = 'refunded' THEN -OLD.amount ELSE 0 END,
                    CASE WHEN TG_ARGV[0] = 'credited' THEN -OLD.amount ELSE 0 END) f;
            ELSE
                delta := delta - OLD.amount; request := OLD.request_id;
            END IF;
        END IF;
        IF delta <> 0 THEN
            INSERT INTO {TABLE} ({KEYS}, {VALUES})
            SELECT {F_KEYS}, f.n, f.k, f.m, f.refunded, f.credited FROM reports_money_rows(request,
                CASE WHEN TG_ARGV[0] = 'refunded' THEN delta ELSE 0 END,
                CASE WHEN TG_ARGV[0] = 'credited' THEN delta ELSE 0 END) f;
        END IF;
        RETURN NULL;
    END $$
    """,
    "DROP TRIGGER IF EXISTS reports_figures_update ON refunds_refundrequest",
    "CREATE TRIGGER reports_figures_update AFTER UPDATE ON refunds_refundrequest FOR EACH ROW WHEN ("
    + " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in FACTS)
    + ") EXECUTE FUNCTION reports_figures_on_update()",
    "DROP TRIGGER IF EXISTS reports_figures_insert ON refunds_refundrequest",
    "CREATE TRIGGER reports_figures_insert AFTER INSERT ON refunds_refundrequest REFERENCING NEW TABLE AS added "
    "FOR EACH STATEMENT EXECUTE FUNCTION reports_figures_on_insert()",
    "DROP TRIGGER IF EXISTS reports_figures_delete ON refunds_refundrequest",
    "CREATE TRIGGER reports_figures_delete AFTER DELETE ON refunds_refundrequest REFERENCING OLD TABLE AS removed "
    "FOR EACH STATEMENT EXECUTE FUNCTION reports_figures_on_delete()",
    "DROP TRIGGER IF EXISTS reports_figures_truncate ON refunds_refundrequest",
    "CREATE TRIGGER reports_figures_truncate AFTER TRUNCATE ON refunds_refundrequest "
    "FOR EACH STATEMENT EXECUTE FUNCTION reports_figures_on_truncate()",
    "DROP TRIGGER IF EXISTS reports_money_payout ON refunds_payout",
    "CREATE TRIGGER reports_money_payout AFTER INSERT OR UPDATE OR DELETE ON refunds_payout "
    "FOR EACH ROW EXECUTE FUNCTION reports_money_on_change('refunded')",
    "DROP TRIGGER IF EXISTS reports_money_credit ON refunds_accountcredit",
    "CREATE TRIGGER reports_money_credit AFTER INSERT OR UPDATE OR DELETE ON refunds_accountcredit "
    "FOR EACH ROW EXECUTE FUNCTION reports_money_on_change('credited')",
]

UNINSTALL_SQL = [
    "DROP TRIGGER IF EXISTS reports_figures_update ON refunds_refundrequest",
    "DROP TRIGGER IF EXISTS reports_figures_insert ON refunds_refundrequest",
    "DROP TRIGGER IF EXISTS reports_figures_delete ON refunds_refundrequest",
    "DROP TRIGGER IF EXISTS reports_figures_truncate ON refunds_refundrequest",
    "DROP TRIGGER IF EXISTS reports_money_payout ON refunds_payout",
    "DROP TRIGGER IF EXISTS reports_money_credit ON refunds_accountcredit",
    "DROP FUNCTION IF EXISTS reports_figures_on_update()",
    "DROP FUNCTION IF EXISTS reports_figures_on_insert()",
    "DROP FUNCTION IF EXISTS reports_figures_on_delete()",
    "DROP FUNCTION IF EXISTS reports_figures_on_truncate()",
    "DROP FUNCTION IF EXISTS reports_money_on_change()",
    "DROP FUNCTION IF EXISTS reports_money_rows(bigint, numeric, numeric)",
    "DROP FUNCTION IF EXISTS reports_figure_rows(refunds_refundrequest, integer)",
    f"DROP TABLE IF EXISTS {TABLE}",
]

# Everything from the requests, folded (one row per key), into an empty table: the same
# contributions as reports_figure_rows, set-based (one pass per kind instead of a function call per
# request; the tests compare the two through the dashboard).
_CODES = ("CASE WHEN jsonb_typeof(x.j) = 'array' THEN x.j ELSE '[]'::jsonb END")
REBUILD_SQL = f"""
    INSERT INTO {TABLE} ({KEYS}, {VALUES}, folded)
    SELECT {F_KEYS}, {SUMS}, true FROM (
        SELECT 'received'::varchar AS kind, {_day('r.received_at')} AS day, r.reason::varchar AS reason,
               ''::varchar AS currency, ''::text AS label, {EPOCH} AS since, count(*) AS n, 0::bigint AS k,
               0::bigint AS m, 0::numeric AS refunded, 0::numeric AS credited, 0::bigint AS version_id,
               0::bigint AS assignee_id
        FROM refunds_refundrequest r WHERE r.received_at IS NOT NULL GROUP BY 2, 3
        UNION ALL
        SELECT 'decided', {_day('r.decided_at')}, r.reason, '',
               CASE WHEN r.state = 'denied' THEN 'denied' ELSE 'approved' END, {EPOCH}, count(*),
               count(r.review_due_at), count(*) FILTER (WHERE r.decided_at <= r.review_due_at), 0, 0, 0, 0
        FROM refunds_refundrequest r WHERE r.state IN {DECIDED} AND r.decided_at IS NOT NULL GROUP BY 2, 3, 5
        UNION ALL
        SELECT 'median', {_day('r.decided_at')}, '', '', '', {_day('r.received_at')}, count(*), 0, 0, 0, 0, 0, 0
        FROM refunds_refundrequest r
        WHERE r.state IN {DECIDED} AND r.decided_at IS NOT NULL AND r.received_at IS NOT NULL GROUP BY 2, 6
        UNION ALL
        SELECT 'settled', {_day('r.settled_at')}, r.reason, r.currency, '', {EPOCH}, count(*),
               count(r.payout_due_at), count(*) FILTER (WHERE r.settled_at <= r.payout_due_at),
               coalesce(sum(p.amount), 0), coalesce(sum(c.amount), 0), 0, 0
        FROM refunds_refundrequest r
        LEFT JOIN refunds_payout p ON p.request_id = r.id
        LEFT JOIN refunds_accountcredit c ON c.request_id = r.id
        WHERE r.state IN {SETTLED} AND r.settled_at IS NOT NULL GROUP BY 2, 3, 4
        UNION ALL
        SELECT 'code', {_day('r.received_at')}, '', '', code.value, {EPOCH}, count(*), 0, 0, 0, 0, 0, 0
        FROM refunds_refundrequest r,
             LATERAL (SELECT CASE WHEN r.state IN {DECIDED} THEN r.decision_codes::jsonb
                                  ELSE r.evaluation_codes::jsonb END) AS x(j),
             LATERAL jsonb_array_elements_text({_CODES}) AS code(value)
        WHERE r.received_at IS NOT NULL GROUP BY 2, 5
        UNION ALL
        SELECT 'inplay', coalesce({_day(_DUE)}, {EPOCH}),
               CASE WHEN {_DUE} IS NULL THEN 'no_due_date' ELSE '' END, '', r.state, {EPOCH}, count(*), 0, 0, 0, 0,
               coalesce(r.policy_version_id, 0), coalesce(r.assignee_id, 0)
        FROM refunds_refundrequest r WHERE r.state IN {IN_PLAY} GROUP BY 2, 3, 5, 12, 13
    ) f
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8 HAVING {NONZERO}
"""

# The deltas folded into one row per key. Rows other transactions insert meanwhile are not in this
# statement's snapshot: they stay deltas, and every reader keeps summing them.
FOLD_SQL = f"""
    WITH gone AS (DELETE FROM {TABLE} WHERE NOT folded RETURNING *)
    INSERT INTO {TABLE} AS t ({KEYS}, {VALUES}, folded)
    SELECT {F_KEYS}, {SUMS}, true FROM gone f
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8 HAVING {NONZERO}
    ON CONFLICT ({KEYS}) WHERE folded DO UPDATE SET
        n = t.n + EXCLUDED.n, k = t.k + EXCLUDED.k, m = t.m + EXCLUDED.m,
        refunded = t.refunded + EXCLUDED.refunded, credited = t.credited + EXCLUDED.credited
"""


_KEPT: set[str] = set()  # databases (by name) known to keep the figures: asked once per process


def available() -> bool:
    """True where the day figures are kept (PostgreSQL, migration reports 0004 applied)."""
    if connection.vendor != "postgresql":
        return False
    name = str(connection.settings_dict["NAME"])
    if name in _KEPT:
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [TABLE])
        kept = bool(cursor.fetchone()[0])
    if kept:
        _KEPT.add(name)
    return kept


def rebuild() -> int:
    """Recompute every day figure from the requests; returns the rows written."""
    from django.db import transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {TABLE} IN SHARE ROW EXCLUSIVE MODE")
        cursor.execute(f"DELETE FROM {TABLE}")
        cursor.execute(REBUILD_SQL)
        return max(cursor.rowcount, 0)


def fold() -> int | None:
    """Fold the deltas into one row per key; returns the keys written, None if another fold runs."""
    from django.db import transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [FOLD_LOCK_KEY])
        if not cursor.fetchone()[0]:
            return None
        cursor.execute(FOLD_SQL)
        return max(cursor.rowcount, 0)


def deltas() -> int:
    """How many delta rows wait to be folded (bench, tests)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {TABLE} WHERE NOT folded")
        return int(cursor.fetchone()[0])


# --- reading: the requests in play, rated with today's clock ---------------------------------------


def in_play(clock: Any) -> list[tuple[str, str, int, int]]:
    """Every request in play (open or approved) as (state, rating today, assignee id or 0, count):
    one query over the ``inplay`` figures (state, due day, policy version, assignee), rated in SQL
    with the comparisons of deadlines/readtime.py's ``Q`` objects at day granularity (every moment
    they compare with is the start of a Kolkata day, so "due before that moment" is "due day before
    that day"). Rating: ok / near / overdue, or ``other`` (no due date, or the review clock paused)."""
    from januscaler_refunds.deadlines import readtime
    from januscaler_refunds.policy.calendar import local_date

    groups = clock._by_threshold()
    params: dict[str, Any] = {
        "today": clock.today,
        "running_info": [pk for pk, (_, pauses) in clock.versions.items() if not pauses],
        "clock_running": [str(s) for s in readtime.CLOCK_RUNNING],
    }
    if len(groups) <= 1:  # readtime: a bare range predicate, whatever the version
        near = "day < %(near_day)s"
        params["near_day"] = local_date(clock.near_moment(next(iter(groups), 2)))
    else:  # readtime: the version's own threshold; a version the clock does not know is never near
        near = ("day < (SELECT u.d FROM unnest(%(versions)s::bigint[], %(near_days)s::date[]) AS u(v, d) "
                "WHERE u.v = version_id)")
        pairs = [(pk, local_date(clock.near_moment(t))) for t, ids in groups.items() for pk in ids]
        params["versions"] = [pk for pk, _ in pairs]
        params["near_days"] = [day for _, day in pairs]
    sql = f"""
        SELECT label, CASE
                   WHEN reason = 'no_due_date' THEN 'other'
                   WHEN label <> 'approved' AND NOT label = ANY(%(clock_running)s)
                        AND NOT version_id = ANY(%(running_info)s::bigint[]) THEN 'other'
                   WHEN day < %(today)s THEN 'overdue'
                   WHEN coalesce({near}, false) THEN 'near'
                   ELSE 'ok' END,
               assignee_id, sum(n)
        FROM {TABLE} WHERE kind = 'inplay' GROUP BY 1, 2, 3 HAVING sum(n) <> 0
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(state, rating, int(assignee), int(n)) for state, rating, assignee, n in cursor.fetchall()]


# --- reading: the dashboard's history from the day figures ---------------------------------------


def _window_sql() -> str:
    return (f"SELECT kind, date_trunc('month', day)::date AS month, reason, currency, label, "
            f"sum(n), sum(k), sum(m), sum(refunded), sum(credited) FROM {TABLE} "
            "WHERE kind IN ('received', 'decided', 'settled') AND day >= %s AND day < %s "
            "GROUP BY 1, 2, 3, 4, 5")


def _median(histogram: dict[int, int]) -> float | int | None:
    """``statistics.median`` of the multiset {days: count}: the middle value, or the mean of the
    two middle values (a float, as statistics.median gives) when the count is even."""
    total = sum(histogram.values())
    if not total:
        return None
    ordered = sorted(histogram.items())

    def nth(index: int) -> int:
        seen = 0
        for days, count in ordered:
            seen += count
            if index < seen:
                return days
        raise IndexError(index)

    if total % 2:
        return nth(total // 2)
    return (nth(total // 2 - 1) + nth(total // 2)) / 2


def dashboard_history(period: Any, *, calendar: Any, code_limit: int = 10) -> dict[str, Any]:
    """Everything of the dashboard but the queue, from the day figures: three queries whatever the
    number of requests (the window's sums by month, the median's histogram, the top codes)."""
    import datetime as dt
    from collections import defaultdict
    from decimal import Decimal

    from januscaler_refunds.refunds.models import Reason
    from januscaler_refunds.reports.selectors import add_months

    first, this, end = period.months[0], period.this_month, add_months(period.this_month, 1)
    zero = Decimal("0.00")
    with connection.cursor() as cursor:
        cursor.execute(_window_sql(), [first, end])
        window = cursor.fetchall()
        cursor.execute(f"SELECT day, since, sum(n) FROM {TABLE} WHERE kind = 'median' AND day >= %s AND day < %s "
                       "GROUP BY 1, 2 HAVING sum(n) <> 0", [first, end])
        pairs = cursor.fetchall()
        cursor.execute(f"SELECT label, sum(n) FROM {TABLE} WHERE kind = 'code' AND day >= %s AND day < %s "
                       "GROUP BY label HAVING sum(n) > 0 ORDER BY sum(n) DESC, label LIMIT %s",
                       [first, end, code_limit])
        codes = [{"code": code, "count": int(count)} for code, count in cursor.fetchall()]

    monthly = {m: {"month": m, "requests": 0, "approvals": 0, "denials": 0} for m in period.months}
    amounts: dict[str, dict[dt.date, dict[str, Any]]] = {}
    settled_n: dict[str, int] = defaultdict(int)
    blank = {k: 0 for k in ("requests_month", "requests_year", "approvals_month", "approvals_year",
                            "denials_month", "denials_year")}
    reasons: dict[str, dict[str, Any]] = {
        reason.value: {"reason": reason.value, "label": reason.label, **blank, "amounts": []} for reason in Reason
    }
    money: dict[tuple[str, str], dict[str, Any]] = {}
    rates = {scope: {"approvals": 0, "denials": 0, "reviews": 0, "reviews_met": 0, "payouts": 0, "payouts_met": 0}
             for scope in ("year", "month")}
    for kind, month, reason, currency, label, n, k, m, refunded, credited in window:
        n, k, m = int(n), int(k), int(m)
        scopes = ("year", "month") if month == this else ("year",)
        if kind == "received":
            monthly[month]["requests"] += n
            for scope in scopes:
                reasons[reason][f"requests_{scope}"] += n
        elif kind == "decided":
            outcome = "approvals" if label == "approved" else "denials"
            monthly[month][outcome] += n
            for scope in scopes:
                reasons[reason][f"{outcome}_{scope}"] += n
                rates[scope][outcome] += n
                rates[scope]["reviews"] += k
                rates[scope]["reviews_met"] += m
        elif kind == "settled":
            settled_n[currency] += n
            cells = amounts.setdefault(
                currency, {mo: {"month": mo, "refunded": zero, "credited": zero} for mo in period.months})
            cells[month]["refunded"] += refunded
            cells[month]["credited"] += credited
            row = money.setdefault((reason, currency), {"n": 0, "refunded_month": zero, "refunded_year": zero,
                                                       "credited_month": zero, "credited_year": zero})
            row["n"] += n
            for scope in scopes:
                row[f"refunded_{scope}"] += refunded
                row[f"credited_{scope}"] += credited
                rates[scope]["payouts"] += k
                rates[scope]["payouts_met"] += m
    for (reason, currency), row in sorted(money.items(), key=lambda item: item[0][1]):
        if row.pop("n") > 0:  # a (reason, currency) appears when a request of it settled in the window
            reasons[reason]["amounts"].append({"currency": currency, **row})

    from januscaler_refunds.reports.selectors import _rate

    def finish(scope: str) -> dict[str, Any]:
        agg = rates[scope]
        return {**agg, "approval_rate": _rate(agg["approvals"], agg["approvals"] + agg["denials"]),
                "reviews_within_deadline": _rate(agg["reviews_met"], agg["reviews"]),
                "payouts_within_deadline": _rate(agg["payouts_met"], agg["payouts"])}

    # Business days between received and decided dates, from one cumulative count over the span.
    year: dict[int, int] = defaultdict(int)
    month_histogram: dict[int, int] = defaultdict(int)
    if pairs:
        base = min(min(day for day, _, _ in pairs), min(since for _, since, _ in pairs))
        last = max(max(day for day, _, _ in pairs), max(since for _, since, _ in pairs))
        cumulative = [0]
        for offset in range(1, (last - base).days + 1):
            cumulative.append(cumulative[-1] + calendar.is_business_day(base + dt.timedelta(days=offset)))
        for day, since, n in pairs:
            days = cumulative[(day - base).days] - cumulative[(since - base).days]
            year[days] += int(n)
            if day >= this:
                month_histogram[days] += int(n)
    return {
        "monthly": list(monthly.values()),
        "amounts": {currency: list(amounts[currency].values()) for currency in sorted(amounts)
                    if settled_n[currency] > 0},
        "reasons": list(reasons.values()),
        "rates_year": finish("year"),
        "rates_month": finish("month"),
        "median": {"median_days_year": _median(year), "median_days_month": _median(month_histogram),
                   "decisions_year": sum(year.values())},
        "codes": codes,
    }
