"""Disputes (section 6.2): their own state machine, a log, due dates in business days, alerts."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from factories import agent, finance, invoice_with_plan, kolkata, make_request, manager

from januscaler_refunds.billing.models import CompanyHoliday
from januscaler_refunds.chargebacks import services, tasks
from januscaler_refunds.chargebacks.models import Chargeback, Dispute, DisputeTransition
from januscaler_refunds.refunds.models import StateFieldProtected
from januscaler_refunds.refunds.services import TransitionRefused

pytestmark = pytest.mark.django_db


@pytest.fixture
def spared(record):  # type: ignore[no-untyped-def]
    """A chargeback after a refund request: the account stays active, the request is blocked."""
    invoice = invoice_with_plan()
    request = make_request(invoice=invoice, received_at=kolkata(2026, 5, 6))
    chargeback = record(invoice, received_at=kolkata(2026, 5, 8))
    request.refresh_from_db()
    return chargeback, request


def test_a_dispute_opens_with_its_chargeback_and_logs_it(spared) -> None:
    chargeback, _ = spared
    dispute = chargeback.dispute
    assert dispute.state == "open"
    assert list(dispute.log.values_list("transition", "to_state")) == [("open", "open")]


def test_evidence_then_won_clears_chargeback_open_on_the_request(spared) -> None:
    chargeback, request = spared
    boss = manager()
    assert "chargeback_open" in request.evaluation_codes
    dispute = services.dispute_submit_evidence(dispute=chargeback.dispute, actor=boss, note="Usage logs sent.")
    assert dispute.state == "evidence_submitted" and dispute.evidence_submitted_at is not None
    dispute = services.dispute_win(dispute=dispute, actor=boss)

    assert dispute.state == "won" and dispute.closed_at is not None
    assert Chargeback.objects.get(pk=chargeback.pk).outcome == "won"
    request.refresh_from_db()
    assert "chargeback_open" not in request.evaluation_codes
    log = list(DisputeTransition.objects.filter(dispute=dispute).values_list("from_state", "to_state", "actor_label"))
    assert log == [("", "open", "system"), ("open", "evidence_submitted", "manager"),
                   ("evidence_submitted", "won", "manager")]


@pytest.mark.parametrize("final", ["lose", "accept"])
def test_lost_and_accepted_keep_the_request_blocked(spared, final: str) -> None:
    chargeback, request = spared
    dispute = chargeback.dispute
    if final == "lose":
        dispute = services.dispute_submit_evidence(dispute=dispute, actor=finance())
        dispute = services.dispute_lose(dispute=dispute, actor=None)
    else:
        dispute = services.dispute_accept(dispute=dispute, actor=None)
    outcome = {"lose": "lost", "accept": "accepted"}[final]
    assert dispute.state == outcome
    assert Chargeback.objects.get(pk=chargeback.pk).outcome == outcome
    request.refresh_from_db()
    assert "chargeback_open" in request.evaluation_codes


@pytest.mark.parametrize(
    ("steps", "illegal", "state"),
    [
        ([], "win", "open"),
        ([], "lose", "open"),
        (["submit_evidence"], "accept", "evidence submitted"),
        (["submit_evidence"], "submit_evidence", "evidence submitted"),
        (["accept"], "submit_evidence", "accepted"),
        (["submit_evidence", "win"], "lose", "won"),
    ],
)
def test_illegal_transitions_are_refused_with_a_clear_error(spared, steps, illegal, state) -> None:
    dispute = spared[0].dispute
    for step in steps:
        dispute = services.DISPUTE_SERVICES[step](dispute=dispute, actor=None)
    before = DisputeTransition.objects.count()
    with pytest.raises(TransitionRefused) as exc:
        services.DISPUTE_SERVICES[illegal](dispute=dispute, actor=None)
    assert exc.value.rule == f"dispute.{illegal}"
    assert f"is {state}" in exc.value.message and "not possible" in exc.value.message
    assert DisputeTransition.objects.count() == before


def test_an_agent_may_not_move_a_dispute(spared) -> None:
    with pytest.raises(TransitionRefused) as exc:
        services.dispute_accept(dispute=spared[0].dispute, actor=agent())
    assert exc.value.rule == "permission.dispute.accept"


def test_the_state_field_is_protected(spared) -> None:
    dispute = spared[0].dispute
    with pytest.raises(AttributeError):
        dispute.state = "won"
    with pytest.raises(StateFieldProtected):
        Dispute.objects.filter(pk=dispute.pk).update(state="won")


def test_the_log_is_append_only(spared) -> None:
    from januscaler_refunds.refunds.models import AppendOnlyError

    row = spared[0].dispute.log.get()
    with pytest.raises(AppendOnlyError):
        row.delete()
    with pytest.raises(AppendOnlyError):
        DisputeTransition.objects.update(note="x")


# --- due dates in business days -------------------------------------------------------------------


def test_without_a_network_date_evidence_is_due_7_business_days_later_skipping_weekend_and_holidays(record) -> None:
    # Thu 30 Apr 2026; Fri 1 May is Buddha Purnima (Delhi), then a weekend; the company is off Mon 11 May.
    CompanyHoliday.objects.create(date=dt.date(2026, 5, 11), name="Offsite")
    chargeback = record(invoice_with_plan(), received_at=kolkata(2026, 4, 30, 18))
    # Business days: 4, 5, 6, 7, 8, 12, 13 May.
    assert chargeback.dispute.evidence_due == dt.date(2026, 5, 13)
    assert chargeback.dispute.evidence_due_at == dt.datetime(2026, 5, 13, 23, 59, 59, 999999,
                                                             tzinfo=kolkata(2026, 1, 1).tzinfo)


def test_the_business_day_count_is_a_setting(record, settings) -> None:
    settings.CHARGEBACK_EVIDENCE_BUSINESS_DAYS = 2
    chargeback = record(invoice_with_plan(), received_at=kolkata(2026, 5, 8))  # a Friday
    assert chargeback.dispute.evidence_due == dt.date(2026, 5, 12)  # Mon, Tue


@pytest.mark.parametrize(
    ("network_due", "expected"),
    [
        (dt.date(2026, 5, 22), dt.date(2026, 5, 22)),  # a Friday: kept
        (dt.date(2026, 5, 23), dt.date(2026, 5, 22)),  # a Saturday: the Friday before
        (dt.date(2026, 5, 27), dt.date(2026, 5, 26)),  # Eid al-Adha (Delhi): the day before
    ],
)
def test_a_network_deadline_on_a_non_business_day_moves_back(record, network_due, expected) -> None:
    chargeback = record(invoice_with_plan(), evidence_due=network_due)
    assert chargeback.dispute.evidence_due == expected


# --- evidence-due alerts (deadlines.services.raise_alert) ------------------------------------------


def test_the_scan_alerts_once_near_and_once_overdue(record) -> None:
    boss = manager()
    boss.email = "maya@januscaler.com"
    boss.save()
    chargeback = record(invoice_with_plan(), received_at=kolkata(2026, 5, 8), evidence_due=dt.date(2026, 5, 20))

    with time_machine.travel(kolkata(2026, 5, 11, 9), tick=False):  # 7 business days left: quiet
        tasks.scan_evidence_due()
    assert Dispute.objects.get(pk=chargeback.dispute.pk).alert_level == ""

    from januscaler_refunds.deadlines.models import Alert

    with time_machine.travel(kolkata(2026, 5, 18, 9), tick=False):  # 2 business days left: near
        assert tasks.scan_evidence_due() == "1 alerts"
        assert tasks.scan_evidence_due() == "0 alerts"
    with time_machine.travel(kolkata(2026, 5, 21, 9), tick=False):  # past the end of 20 May
        assert tasks.scan_evidence_due() == "1 alerts"
    alerts = list(Alert.objects.filter(subject_type="dispute", subject_id=chargeback.dispute.pk)
                  .values_list("kind", "level"))
    assert sorted(alerts) == [("evidence", "near"), ("evidence", "overdue")]


def test_submitted_evidence_stops_the_alerts(record) -> None:
    manager().__class__.objects.filter(username="manager").update(email="maya@januscaler.com")
    chargeback = record(invoice_with_plan(), received_at=kolkata(2026, 5, 8), evidence_due=dt.date(2026, 5, 20))
    services.dispute_submit_evidence(dispute=chargeback.dispute, actor=None)
    with time_machine.travel(kolkata(2026, 5, 21, 9), tick=False):
        assert tasks.scan_evidence_due() == "0 alerts"
