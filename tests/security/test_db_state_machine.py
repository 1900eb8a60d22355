"""The request's state moves only along the state machine's edges, and only with a log row.

PostgreSQL triggers (refunds migration 0004) back the ORM guards: whatever path writes the state -
raw SQL, ``_base_manager.update``, an instance whose ``__dict__`` was edited - an off-edge move is
refused at once, an on-edge move without its transition-log row is refused at commit, and a value
outside the choices is refused by a CHECK.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from factories import make_request

from januscaler_refunds.refunds import services
from januscaler_refunds.refunds.models import RefundRequest, State, TransitionLog

pytestmark = pytest.mark.postgres


def _fsm_edges() -> set[tuple[str, str]]:
    edges = set()
    for t in RefundRequest._meta.get_field("state").get_all_transitions(RefundRequest):  # type: ignore[attr-defined]
        targets = getattr(t.target, "allowed_states", None) or [t.target]
        edges |= {(str(t.source), str(target)) for target in targets}
    return edges


@pytest.mark.django_db
def test_the_triggers_edge_list_is_the_state_machines() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT source, target FROM refunds_refundrequest_state_edges()")
        in_database = set(cursor.fetchall())
    assert in_database == _fsm_edges()


@pytest.mark.django_db
def test_an_off_edge_change_by_raw_sql_is_refused() -> None:
    # Under review -> paid skips approval. (Submitted -> paid is an edge: history import.)
    request = services.refund_request_start_review(request=make_request(), actor=None)
    with pytest.raises(IntegrityError, match="state_machine.edge"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("UPDATE refunds_refundrequest SET state = 'paid' WHERE id = %s", [request.pk])
    request.refresh_from_db()
    assert request.state == State.UNDER_REVIEW


@pytest.mark.django_db
def test_base_manager_update_of_state_is_refused() -> None:
    request = services.refund_request_start_review(request=make_request(), actor=None)
    with pytest.raises(IntegrityError, match="state_machine.edge"), transaction.atomic():
        RefundRequest._base_manager.filter(pk=request.pk).update(state=State.PAID)


@pytest.mark.django_db
def test_writing_state_through_dict_then_saving_is_refused() -> None:
    request = services.refund_request_start_review(request=make_request(), actor=None)
    request.__dict__["state"] = State.PAID
    with pytest.raises(IntegrityError, match="state_machine.edge"), transaction.atomic():
        request.save()


@pytest.mark.django_db
def test_a_state_outside_the_choices_is_refused() -> None:
    request = make_request()
    # The edge trigger runs before the CHECK, so either may be the one that speaks.
    with pytest.raises(IntegrityError, match="bogus_state|refunds_refundrequest_state_valid"), transaction.atomic():
        RefundRequest._base_manager.filter(pk=request.pk).update(state="bogus_state")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'refunds_refundrequest_state_valid'"
        )
        definition = cursor.fetchone()[0]
    assert "'paid'" in definition and "bogus_state" not in definition


@pytest.mark.django_db
def test_a_payout_above_the_approved_amount_is_refused_at_commit() -> None:
    request = services.refund_request_start_review(request=make_request(), actor=None)
    request = services.refund_request_approve(request=request, actor=None, amount=Decimal("10.00"))
    with pytest.raises(IntegrityError, match="settlement.within_approved"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO refunds_payout (request_id, method, reference, amount, currency, paid_at, recorded_at)"
                " VALUES (%s, 'card', 'X', 99999.00, 'USD', now(), now())",
                [request.pk],
            )
            # What COMMIT does: run the deferred constraint triggers now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


@pytest.mark.django_db(transaction=True)
def test_an_on_edge_change_without_a_log_row_is_refused_at_commit() -> None:
    request = make_request()
    with pytest.raises(IntegrityError, match="state_machine.log"):
        with transaction.atomic():
            RefundRequest._base_manager.filter(pk=request.pk).update(state=State.UNDER_REVIEW)
            # The statement itself passed (it is an edge); the commit is what refuses it.
    request.refresh_from_db()
    assert request.state == State.SUBMITTED


@pytest.mark.django_db(transaction=True)
def test_a_log_row_from_an_earlier_transaction_does_not_count() -> None:
    request = make_request()
    TransitionLog.objects.create(
        request=request, at=request.received_at, actor_label="forger", transition="start_review",
        from_state=State.SUBMITTED, to_state=State.UNDER_REVIEW,
    )
    with pytest.raises(IntegrityError, match="state_machine.log"):
        with transaction.atomic():
            RefundRequest._base_manager.filter(pk=request.pk).update(state=State.UNDER_REVIEW)


@pytest.mark.django_db(transaction=True)
def test_the_services_pass_the_commit_check() -> None:
    request = services.refund_request_start_review(request=make_request(), actor=None)
    request = services.refund_request_approve(request=request, actor=None, amount=Decimal("10.00"))
    request = services.refund_request_record_payout(
        request=request, actor=None, method="card", reference="PSP-2", amount=Decimal("10.00")
    )
    request.refresh_from_db()
    assert request.state == State.PAID
    assert list(request.log.values_list("to_state", flat=True)) == ["submitted", "under_review", "approved", "paid"]
