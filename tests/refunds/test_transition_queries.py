"""A transition costs a fixed number of queries, whatever the number of requests (issue 14).

The lock reads, in one query, the request, its invoice, customer and policy version, and what the
decision's rules need (the agents' approval limit; on PostgreSQL the company holidays for the
payout-due calendar; for a settlement whether a payout or credit exists). Then: the UPDATE, the
log row, the notification row (and for a payout, the payout row and the invoice's open siblings).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import factories
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from januscaler_refunds.billing.models import CompanyHoliday
from januscaler_refunds.policy.calendar import BusinessCalendar, calendar_with, local_date
from januscaler_refunds.refunds import evaluation, services
from januscaler_refunds.refunds.models import (
    ApprovalLimit,
    CustomerMessage,
    RefundRequest,
    TransitionLog,
)

pytestmark = pytest.mark.django_db
POSTGRES = connection.vendor == "postgresql"
# SQLite has no array subquery: the company holidays are one more query there.
APPROVE_QUERIES = 4 if POSTGRES else 5
PAYOUT_QUERIES = 6
DENY_QUERIES = 4


def _queries_each(requests: list[RefundRequest], act: Callable[[RefundRequest], Any]) -> float:
    with CaptureQueriesContext(connection) as ctx:
        for request in requests:
            act(request)
    queries = [q["sql"] for q in ctx.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    return len(queries) / len(requests)


def _under_review(n: int, manager: Any) -> list[RefundRequest]:
    return [services.refund_request_start_review(request=factories.make_request(), actor=manager) for _ in range(n)]


def _warm(*users: Any) -> None:
    for user in users:  # a view's user loads its permissions once per HTTP request
        user.get_all_permissions()


@pytest.mark.parametrize("n", [1, 4])
def test_an_approval_costs_a_fixed_number_of_queries(n: int) -> None:
    manager = factories.manager()
    ApprovalLimit.objects.create(currency="USD", agent_limit=Decimal("500.00"))
    CompanyHoliday.objects.create(date=dt.date(2026, 1, 26), name="Republic Day")
    requests = _under_review(n, manager)
    _warm(manager)

    def approve(request: RefundRequest) -> None:
        services.refund_request_approve(request=request, actor=manager, amount=Decimal("10.00"))

    assert _queries_each(requests, approve) == APPROVE_QUERIES
    assert TransitionLog.objects.filter(transition="approve").count() == n
    assert CustomerMessage.objects.filter(kind="decision").count() == n


@pytest.mark.parametrize("n", [1, 3])
def test_a_payout_and_a_denial_cost_a_fixed_number_of_queries(n: int) -> None:
    manager, finance = factories.manager(), factories.finance()
    approved = [
        services.refund_request_approve(request=r, actor=manager, amount=Decimal("10.00"))
        for r in _under_review(n, manager)
    ]
    to_deny = _under_review(n, manager)
    _warm(manager, finance)

    def pay(request: RefundRequest) -> None:
        services.refund_request_record_payout(
            request=request, actor=finance, method="card", reference=f"PX-{request.pk}", amount=Decimal("10.00")
        )

    def deny(request: RefundRequest) -> None:
        services.refund_request_deny(
            request=request, actor=manager, codes=["not_a_ground_dissatisfaction"], message="Not a ground."
        )

    assert _queries_each(approved, pay) == PAYOUT_QUERIES
    assert _queries_each(to_deny, deny) == DENY_QUERIES
    assert RefundRequest.objects.filter(state="paid").count() == n
    assert RefundRequest.objects.filter(state="denied").count() == n


def test_the_agents_limit_read_with_the_lock_still_refuses_and_names_the_rule() -> None:
    manager, agent = factories.manager(), factories.agent()
    ApprovalLimit.objects.create(currency="USD", agent_limit=Decimal("5.00"))
    request = _under_review(1, manager)[0]
    with pytest.raises(services.TransitionRefused) as refused:
        services.refund_request_approve(request=request, actor=agent, amount=Decimal("10.00"))
    assert refused.value.rule == "permission.approval_limit"
    assert RefundRequest.objects.get(pk=request.pk).state == "under_review"
    services.refund_request_approve(request=request, actor=manager, amount=Decimal("10.00"))
    assert RefundRequest.objects.get(pk=request.pk).state == "approved"


def test_a_second_payout_is_still_refused_by_its_rule() -> None:
    manager, finance = factories.manager(), factories.finance()
    request = services.refund_request_approve(request=_under_review(1, manager)[0], actor=manager, amount=Decimal("10"))
    services.refund_request_record_payout(request=request, actor=finance, method="card", reference="P1",
                                          amount=Decimal("10"))
    with pytest.raises(services.TransitionRefused) as refused:
        services.refund_request_record_payout(request=request, actor=finance, method="card", reference="P2",
                                              amount=Decimal("10"))
    # The state check comes first: a paid request is no longer approved.
    assert refused.value.rule == "state_machine.mark_paid"


def test_a_company_holiday_added_between_two_approvals_moves_the_second_payout_due_date() -> None:
    """The per-process calendar is keyed by the set of holidays read with the lock: never stale."""
    manager = factories.manager()
    first, second = _under_review(2, manager)
    services.refund_request_approve(request=first, actor=manager, amount=Decimal("10.00"))
    first = RefundRequest.objects.select_related("policy_version").get(pk=first.pk)
    assert first.decided_at is not None
    assert first.payout_due_at == evaluation.payout_due(first.decided_at, first.policy_version, BusinessCalendar())

    # The next business day becomes a company holiday: every due date 10 business days out moves by one.
    today = local_date(timezone.now())
    holiday = BusinessCalendar().add_business_days(today, 1)
    CompanyHoliday.objects.create(date=holiday, name="Office closed")
    services.refund_request_approve(request=second, actor=manager, amount=Decimal("10.00"))
    second = RefundRequest.objects.select_related("policy_version").get(pk=second.pk)
    assert second.decided_at is not None and local_date(second.decided_at) == today  # (not run across midnight)
    fresh = evaluation.payout_due(second.decided_at, second.policy_version, evaluation.business_calendar())
    stale = evaluation.payout_due(second.decided_at, second.policy_version, BusinessCalendar())
    assert second.payout_due_at == fresh != stale


def test_calendar_with_shares_a_calendar_per_set_of_company_holidays() -> None:
    days = [dt.date(2026, 3, 13), dt.date(2026, 8, 14)]
    shared = calendar_with(days)
    assert calendar_with(reversed(days)) is shared
    assert calendar_with(days[:1]) is not shared
    plain = BusinessCalendar(days)
    start = dt.date(2026, 3, 2)
    for n in (1, 5, 10, 30, 250):
        assert shared.add_business_days(start, n) == plain.add_business_days(start, n)
    assert shared.business_days_between(start, dt.date(2026, 12, 31)) == plain.business_days_between(
        start, dt.date(2026, 12, 31)
    )


def test_the_prepared_lock_reads_what_the_queryset_reads() -> None:
    from django.db import transaction

    from januscaler_refunds.refunds.prepared import PreparedGet

    manager = factories.manager()
    ApprovalLimit.objects.create(currency="USD", agent_limit=Decimal("50.00"))
    request = _under_review(1, manager)[0]
    for decision in (False, True):
        for settlement in (False, True):
            with transaction.atomic():
                prepared = services._locked(request, decision=decision, settlement=settlement)
                plain = services._lock_queryset(decision=decision, settlement=settlement).get(pk=request.pk)
            assert services._field_values(prepared) == services._field_values(plain)
            assert prepared.get_deferred_fields() == plain.get_deferred_fields() == {"evaluation"}
            for related in ("invoice", "customer", "policy_version"):
                assert getattr(prepared, related).__dict__.keys() == getattr(plain, related).__dict__.keys()
                assert getattr(prepared, related).pk == getattr(plain, related).pk
            names = {k for k in plain.__dict__ if k.startswith("locked_")}
            expected = {"locked_agent_limit", *(["locked_company_holidays"] if POSTGRES else [])} if decision else set()
            assert names == expected | ({"locked_has_payout", "locked_has_credit"} if settlement else set())
            assert {k: getattr(prepared, k) for k in names} == {k: getattr(plain, k) for k in names}
    with transaction.atomic(), pytest.raises(RefundRequest.DoesNotExist):
        PreparedGet(lambda: RefundRequest.objects.select_for_update()).get(-1)
