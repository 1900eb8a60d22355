"""Transitions at scale: approve, record a payout, deny — each against a bare-SQL floor, in one run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_x .venv/bin/python bench/run.py --only transitions

Each repeat takes *fresh* requests (the newest under review that the service would accept, the
newest approved without a payout), so the module works on any seeded database and repeats never
meet a request twice. Per repeat, interleaved so service and floor share the load of the moment:

* approve: ``refund_request_approve`` (lock, guards, payout-due calendar, save, log row,
  notification row, broker write after commit) one request per transaction; floor: a bare
  ``UPDATE`` + log ``INSERT`` + notification ``INSERT`` per request, one transaction each (the
  database triggers — state-machine edge, log row checked at commit — run in both);
* the same approvals per CPU second of this process (``time.process_time``), floor likewise;
* payout: ``refund_request_record_payout`` on requests approved above; floor: payout ``INSERT`` +
  ``UPDATE`` + log ``INSERT`` + notification ``INSERT``;
* deny: ``refund_request_deny``; floor: ``UPDATE`` + log ``INSERT`` + notification ``INSERT``.

Queries per transition are counted (the floor's too). This writes: run it on a throw-away database.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "januscaler_refunds.settings")

from bench.common import Figure, load_average  # noqa: E402

AMOUNT = Decimal("1.00")
DENY_CODES = ["not_a_ground_dissatisfaction"]
TRANSACTION_CONTROL = ("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT")


def _users() -> tuple[Any, Any]:
    """A manager decides, finance pays (segregation of duties); both through their roles' groups."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from januscaler_refunds.refunds.roles import FINANCE, MANAGER

    users = []
    for name, role in (("bench-manager", MANAGER), ("bench-finance", FINANCE)):
        user, _ = get_user_model().objects.get_or_create(username=name, defaults={"is_staff": True})
        user.groups.add(Group.objects.get(name=role))
        fresh = get_user_model().objects.get(pk=user.pk)  # no stale permission cache
        fresh.get_all_permissions()  # loaded once here, as a view's user loads them once per request
        users.append(fresh)
    return users[0], users[1]


def approvable(batch: int) -> list[int]:
    """The newest under-review requests an approval of ``AMOUNT`` passes (refundable, requested)."""
    from django.db.models import Q

    from januscaler_refunds.refunds.models import RefundRequest

    return list(
        RefundRequest.objects.filter(state="under_review", refundable_amount__gte=AMOUNT)
        .filter(Q(requested_amount__isnull=True) | Q(requested_amount__gte=AMOUNT))
        .exclude(invoice__payment_method="crypto", customer__identity_verified=False)
        .order_by("-id")
        .values_list("pk", flat=True)[:batch]
    )


def deniable(batch: int) -> list[int]:
    from januscaler_refunds.refunds.models import RefundRequest

    return list(RefundRequest.objects.filter(state="under_review").order_by("-id").values_list("pk", flat=True)[:batch])


def payable(batch: int) -> list[int]:
    """The newest approved requests a payout of ``AMOUNT`` passes: not crypto, none recorded yet."""
    from januscaler_refunds.refunds.models import RefundRequest

    return list(
        RefundRequest.objects.filter(state="approved", approved_amount__gte=AMOUNT, payout__isnull=True)
        .exclude(decided_payment_method="crypto")
        .exclude(decided_payment_method="", invoice__payment_method="crypto")
        .exclude(decided_amount_paid__lt=AMOUNT)
        .order_by("-id")
        .values_list("pk", flat=True)[:batch]
    )


def _rows(ids: Sequence[int]) -> list[Any]:
    """The requests as an admin view would hold them before calling the service."""
    from januscaler_refunds.refunds.models import RefundRequest

    by_pk = RefundRequest.objects.select_related("invoice", "customer").defer("evaluation").in_bulk(ids)
    return [by_pk[pk] for pk in ids]


def _measure(work: Callable[[Sequence[Any], Any], int], items: Sequence[Any], actor: Any) -> tuple[float, float, float]:
    """(per wall second, per CPU second, queries each) of ``work(items, actor)``; the items are picked
    before, outside the measurement."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if not items:
        raise RuntimeError("no requests left to work on: seed a bigger database")
    # The log keeps the last 9,000 queries: once full, a capture would count nothing.
    connection.queries_log.clear()
    with CaptureQueriesContext(connection) as ctx:
        cpu, wall = time.process_time(), time.perf_counter()
        done = work(items, actor)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    # Statements sent: BEGIN/COMMIT (and a test's savepoints) are the transaction, counted by nobody.
    queries = sum(1 for q in ctx.captured_queries if not q["sql"].startswith(TRANSACTION_CONTROL))
    return done / wall, done / max(cpu, 1e-9), queries / done


# --- the services ------------------------------------------------------------------------------


def approve_with_service(rows: Sequence[Any], actor: Any) -> int:
    from januscaler_refunds.refunds import services

    for refund in rows:
        services.refund_request_approve(request=refund, actor=actor, amount=AMOUNT)
    return len(rows)


def payout_with_service(rows: Sequence[Any], actor: Any) -> int:
    from januscaler_refunds.refunds import services

    for refund in rows:
        method = refund.decided_payment_method or refund.invoice.payment_method
        services.refund_request_record_payout(
            request=refund, actor=actor, method=method, reference=f"bench-{refund.pk}", amount=AMOUNT
        )
    return len(rows)


def deny_with_service(rows: Sequence[Any], actor: Any) -> int:
    from januscaler_refunds.refunds import services

    for refund in rows:
        services.refund_request_deny(request=refund, actor=actor, codes=DENY_CODES, message="Not a ground.")
    return len(rows)


# --- the floors: bare SQL, one transaction per request ----------------------------------------

LOG_SQL = (
    "INSERT INTO refunds_transitionlog (request_id, at, actor_id, actor_label, transition, from_state, to_state, note)"
    " VALUES (%s, now(), %s, 'bench', %s, %s, %s, '')"
)
MESSAGE_SQL = (
    "INSERT INTO refunds_customermessage (request_id, direction, kind, to_email, subject, body, message_id, status,"
    " attempts, last_error, created_at) VALUES (%s, 'out', %s, 'floor@example.com', 'Refund', 'Body', '', 'queued',"
    " 0, '', now())"
)


def approve_floor(ids: Sequence[int], actor: Any) -> int:
    from django.db import connection, transaction

    for pk in ids:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "UPDATE refunds_refundrequest SET state = 'approved', approved_amount = %s, decided_at = now(),"
                " decided_by_id = %s, payout_due_at = now() + interval '14 days', updated_at = now() WHERE id = %s",
                [AMOUNT, actor.pk, pk],
            )
            cursor.execute(LOG_SQL, [pk, actor.pk, "approve", "under_review", "approved"])
            cursor.execute(MESSAGE_SQL, [pk, "decision"])
    return len(ids)


def payout_floor(ids: Sequence[int], actor: Any) -> int:
    from django.db import connection, transaction

    for pk in ids:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO refunds_payout (request_id, method, reference, amount, currency, paid_at, recorded_by_id,"
                " recorded_at) SELECT id, 'other', 'floor', %s, currency, now(), %s, now()"
                " FROM refunds_refundrequest WHERE id = %s",
                [AMOUNT, actor.pk, pk],
            )
            cursor.execute(
                "UPDATE refunds_refundrequest SET state = 'paid', settled_at = now(), updated_at = now() WHERE id = %s",
                [pk],
            )
            cursor.execute(LOG_SQL, [pk, actor.pk, "mark_paid", "approved", "paid"])
            cursor.execute(MESSAGE_SQL, [pk, "payout_confirmation"])
    return len(ids)


def deny_floor(ids: Sequence[int], actor: Any) -> int:
    from django.db import connection, transaction

    for pk in ids:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "UPDATE refunds_refundrequest SET state = 'denied', decided_at = now(), decided_by_id = %s,"
                " updated_at = now() WHERE id = %s",
                [actor.pk, pk],
            )
            cursor.execute(LOG_SQL, [pk, actor.pk, "deny", "under_review", "denied"])
            cursor.execute(MESSAGE_SQL, [pk, "decision"])
    return len(ids)


# --- the figures ------------------------------------------------------------------------------


def figures(repeats: int, batch: int = 200) -> list[Figure]:
    manager, finance = _users()
    approve = Figure(f"approve + log + notification ({batch} per run)", unit="/s", rate=True)
    approve_cpu = Figure("approve + log + notification, per CPU second of this process", unit="/s", rate=True)
    payout = Figure(f"payout + log + notification ({batch} per run)", unit="/s", rate=True)
    deny = Figure(f"deny + log + notification ({batch} per run)", unit="/s", rate=True)
    cpu: dict[str, list[float]] = {"payout": [], "deny": []}
    floor_queries: dict[str, float] = {}
    for _ in range(repeats):
        approve.load.append(load_average())
        approve_cpu.load.append(approve.load[-1])
        wall, per_cpu, queries = _measure(approve_with_service, _rows(approvable(batch)), manager)
        approve.runs.append(wall)
        approve_cpu.runs.append(per_cpu)
        approve.queries.append(round(queries))
        approve_cpu.queries.append(round(queries))
        wall, per_cpu, floor_queries["approve"] = _measure(approve_floor, approvable(batch), manager)
        approve.floor.append(wall)
        approve_cpu.floor.append(per_cpu)

        payout.load.append(load_average())
        wall, per_cpu, queries = _measure(payout_with_service, _rows(payable(batch)), finance)
        payout.runs.append(wall)
        cpu["payout"].append(per_cpu)
        payout.queries.append(round(queries))
        wall, _cpu, floor_queries["payout"] = _measure(payout_floor, payable(batch), finance)
        payout.floor.append(wall)

        deny.load.append(load_average())
        wall, per_cpu, queries = _measure(deny_with_service, _rows(deniable(batch)), manager)
        deny.runs.append(wall)
        cpu["deny"].append(per_cpu)
        deny.queries.append(round(queries))
        wall, _cpu, floor_queries["deny"] = _measure(deny_floor, deniable(batch), manager)
        deny.floor.append(wall)
    approve.note = (
        "queries per approval; one transaction each, broker write after commit;"
        f" floor: bare UPDATE + log INSERT + notification INSERT ({floor_queries['approve']:.0f} queries each)"
    )
    approve_cpu.note = "this process's CPU only (the database's is not counted); floor: the same bare statements"
    payout.note = (
        f"{_median(cpu['payout']):,.0f} per CPU second; floor: payout INSERT + UPDATE + log INSERT + notification"
        f" INSERT ({floor_queries['payout']:.0f} queries each)"
    )
    deny.note = (
        f"{_median(cpu['deny']):,.0f} per CPU second; floor: UPDATE + log INSERT + notification INSERT"
        f" ({floor_queries['deny']:.0f} queries each)"
    )
    return [approve, approve_cpu, payout, deny]


def _median(values: list[float]) -> float:
    import statistics

    return statistics.median(values) if values else 0.0
