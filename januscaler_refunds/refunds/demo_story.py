"""The demo's refund requests, disputes and triage items as a believable working day before ``anchor``.

Every event is replayed through the real services at the moment it happened (``at(moment)`` sets the
clock the services stamp with), so ``received_at``, ``decided_at``, the log and the messages agree,
and every recommendation is the engine's own at load time. Decisions follow the recommendation;
the few that do not are a manager's override with a written reason. Nothing happens on the anchor
day itself (its clock time differs between runs), so the data is the same for a given date.

The day it shows (review deadline: the 10th business day after receipt; payout: the 10th after
approval): a few reviews due today and tomorrow, some overdue by a few business days, a backlog
within its deadline, information requests waiting for the customer; decisions over the past eight
weeks after one to nine business days; payouts near and past their deadline; disputes whose
evidence is due in the coming days; one open triage item per intake triage reason.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from unittest import mock

from django.conf import settings
from django.db import transaction

from januscaler_refunds.billing.models import Invoice
from januscaler_refunds.policy.calendar import KOLKATA, BusinessCalendar
from januscaler_refunds.refunds import services
from januscaler_refunds.refunds.models import Reason, Recommendation, RefundRequest

APPROVING = (Recommendation.APPROVE, Recommendation.APPROVE_PARTIALLY, Recommendation.CREDIT_AT_DISCRETION)


class _TryAnother(Exception):
    pass


@contextmanager
def at(moment: dt.datetime) -> Iterator[None]:
    """Run services as if it were ``moment``: they stamp ``timezone.now()`` on rows and log entries."""
    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield


@dataclass(frozen=True)
class People:
    agent: Any
    agent2: Any
    manager: Any
    finance: Any


@dataclass(frozen=True)
class Plan:
    """What happens to one request: received ``received`` business days before the anchor, then
    ``fate`` after ``decide_after`` business days ("open" / "info" / "decide" / "withdraw")."""

    received: int
    fate: str
    decide_after: int = 0
    paid_after: int | None = None  # business days after approval; None: still awaiting payout
    must_approve: bool = False  # a request the engine would deny is withdrawn and another one tried


def plans(rng: random.Random, history: int) -> list[Plan]:
    out: list[Plan] = []
    # Open reviews. Due on the 10th business day after receipt: received 10 days back is due today.
    out += [Plan(10, "open")] * 3 + [Plan(9, "open")] * 2 + [Plan(8, "open")] * 2  # today, tomorrow, day after
    out += [Plan(rng.randint(1, 7), "open") for _ in range(24)]  # within their deadline
    out += [Plan(10 + rng.randint(1, 6), "open") for _ in range(7)]  # overdue by 1-6 business days
    out += [Plan(rng.randint(3, 12), "info") for _ in range(7)]  # waiting for the customer
    # Approved, awaiting payout: due on the 10th business day after approval.
    out += [Plan(approved + 2, "decide", decide_after=2, must_approve=True) for approved in (10, 9, 8, 11, 12, 5, 3)]
    # History: decided over the past eight weeks after 1-9 business days, most paid since.
    for _ in range(history):
        decide_after = rng.choice([1, 2, 2, 3, 3, 4, 5, 6, 8, 9])
        received = rng.randint(decide_after + 3, 40)
        # Approved 8-12 business days ago and not paid yet: payouts near and past their deadline.
        unpaid = 8 <= received - decide_after <= 12 and rng.random() < 0.6
        out.append(Plan(received, "decide", decide_after=decide_after,
                        paid_after=None if unpaid else min(rng.randint(1, 6), received - decide_after - 1)))
    out += [Plan(rng.randint(2, 30), "withdraw", decide_after=1) for _ in range(6)]
    return out


class Story:
    def __init__(self, *, anchor: dt.date, calendar: BusinessCalendar, people: People, rng: random.Random) -> None:
        self.anchor = anchor
        self.calendar = calendar
        self.people = people
        self.rng = rng
        self.invoices = list(Invoice.objects.select_related("customer").order_by("id"))
        self.used: set[int] = set()
        self.first_invoice: dict[int, int] = {}
        for invoice in self.invoices:
            self.first_invoice.setdefault(invoice.customer_id, invoice.pk)

    def day(self, business_days_back: int) -> dt.date:
        return self.calendar.add_business_days(self.anchor, -business_days_back)

    def moment(self, day: dt.date, earliest: int = 9, latest: int = 18) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(self.rng.randint(earliest, latest), self.rng.choice([0, 10, 25, 40, 55])),
                                   tzinfo=KOLKATA)

    # --- requests ----------------------------------------------------------------------------

    def _invoice(self, received: dt.date, *, guarantee: bool = False) -> Invoice:
        """An unused invoice issued in the fortnight before ``received`` (inside the filing windows),
        else any earlier one; each invoice gets one request where possible. ``guarantee``: a new
        customer's first invoice from the week before, which the 7-day guarantee covers."""
        earlier = [i for i in self.invoices if i.issued_on < received and i.pk not in self.used]
        recent = [i for i in earlier if (received - i.issued_on).days <= 14]
        if guarantee:
            recent = [i for i in recent if i.kind == "initial" and (received - i.issued_on).days <= 6
                      and self.first_invoice.get(i.customer_id) == i.pk] or recent
        pool = recent if recent and self.rng.random() < 0.85 else earlier or self.invoices
        invoice = pool[self.rng.randrange(len(pool))]
        self.used.add(invoice.pk)
        return invoice

    def _reason(self, invoice: Invoice, received: dt.date) -> str:
        """What a customer with this invoice would plausibly claim."""
        if invoice.kind == "initial" and (received - invoice.issued_on).days <= 7 and self.rng.random() < 0.9:
            return Reason.MONEY_BACK_GUARANTEE
        return self.rng.choice([Reason.BILLING_ERROR, Reason.BILLING_ERROR, Reason.SERVICE_UNAVAILABILITY,
                                Reason.SERVICE_UNAVAILABILITY, Reason.OTHER])

    def create(self, plan: Plan, n: int) -> RefundRequest | None:
        received_day = self.day(plan.received)
        invoice = self._invoice(received_day, guarantee=plan.must_approve)
        reason = self._reason(invoice, received_day)
        received_at = self.moment(received_day)
        requested = None if n % 9 == 0 else (invoice.amount_paid * Decimal(self.rng.choice(["1", "0.5", "0.25"]))).quantize(Decimal("0.01"))
        with at(received_at):
            try:
                return services.refund_request_create(
                    invoice=invoice,
                    reason=reason,
                    received_at=received_at,
                    requester_email=invoice.customer.email if n % 23 else "someone.else@example.net",
                    channel=["email", "admin", "import"][n % 3],
                    message=f"Please refund invoice {invoice.number}: {Reason(reason).label.lower()}.",
                    requested_amount=requested if requested else None,
                    documents=[services.DocumentUpload(name=f"evidence-{n + 1}.txt",
                                                       content=f"Evidence for demo request {n + 1}\n".encode(),
                                                       content_type="text/plain")] if n % 5 else [],
                    acknowledge=False,
                )
            except services.TransitionRefused:
                return None

    def create_approvable(self, plan: Plan, n: int) -> RefundRequest | None:
        """A request the engine recommends approving: a candidate it would not approve is rolled
        back (it never existed) and another customer's invoice is tried."""
        for attempt in range(16):
            try:
                with transaction.atomic():
                    request = self.create(plan, n + attempt)
                    if request is not None and request.recommendation not in APPROVING:
                        raise _TryAnother
                    return request
            except _TryAnother:
                continue
        return None

    def play(self, plan: Plan, n: int) -> RefundRequest | None:
        request = self.create_approvable(plan, n) if plan.must_approve else self.create(plan, n)
        if request is None:
            return None
        people = self.people
        agent = people.agent if n % 2 else people.agent2
        received_day = self.day(plan.received)
        if plan.fate == "withdraw":
            with at(self.moment(self.calendar.add_business_days(received_day, 1))):
                return services.refund_request_withdraw(request=request, actor=None, note="The customer withdrew by email.")
        if plan.fate == "open" and n % 3 == 0:
            return request  # still unclaimed
        next_day = self.calendar.add_business_days(received_day, 1)
        start = (request.received_at + dt.timedelta(hours=2)) if next_day >= self.anchor else self.moment(next_day)
        with at(start):
            if n % 5 == 0:
                request = services.refund_request_assign(request=request, actor=people.manager, assignee=agent)
            request = services.refund_request_start_review(request=request, actor=agent)
        if plan.fate == "open":
            return request
        if plan.fate == "info" or request.recommendation == Recommendation.NEEDS_INFORMATION:
            with at(start + dt.timedelta(minutes=40)):
                request = services.refund_request_request_information(
                    request=request, actor=agent, missing="A screenshot of the charge on your card statement.")
            if plan.fate == "info":
                return request
            answered = self.moment(self.calendar.add_business_days(start.date(), 1))
            with at(answered):
                request = services.refund_request_resume_review(request=request, actor=None,
                                                                note="The customer sent the screenshot.")
            start = answered
        decided = self.moment(self.calendar.add_business_days(received_day, max(plan.decide_after, 1)))
        decided = max(decided, start + dt.timedelta(hours=2))
        return self.decide(request, plan, n, agent, decided)

    def decide(self, request: RefundRequest, plan: Plan, n: int, agent: Any, decided: dt.datetime) -> RefundRequest:
        people = self.people
        # Now and then a manager approves against a denial, above the refundable amount: the
        # override and its reason are recorded with the approval (section 4.3's escalation).
        wanted = request.requested_amount or request.invoice.amount_paid
        override = (n % 29 == 0 and request.recommendation == Recommendation.DENY
                    and request.refundable_amount is not None and wanted > request.refundable_amount)
        if request.recommendation not in APPROVING and not override:
            codes = [c for c in request.evaluation_codes if c][:3] or ["not_a_ground_dissatisfaction"]
            with at(decided):
                try:
                    return services.refund_request_deny(request=request, actor=agent, codes=codes,
                                                        message="We reviewed your request against the Refund Policy.")
                except services.TransitionRefused:
                    return request
        if request.invoice.payment_method == Invoice.PaymentMethod.CRYPTO and request.customer.identity_verified is False:
            return request  # stays under review until the identity is verified (section 3)
        refundable = request.refundable_amount or Decimal("0")
        with at(decided):
            if override:
                amount = wanted
                request = services.refund_request_approve(
                    request=request, actor=people.manager, amount=amount,
                    override_reason="Goodwill: outage confirmed by the account manager's call notes (manager override).",
                    note="Approved above the policy's amount by the billing manager.")
            else:
                amount = min(refundable, wanted) if refundable else wanted
                approver = people.manager if request.invoice.payment_method == Invoice.PaymentMethod.CRYPTO else agent
                try:
                    request = services.refund_request_approve(request=request, actor=approver, amount=amount,
                                                              note="Approved as recommended.")
                except services.TransitionRefused:  # above the agent's limit: the manager approves
                    request = services.refund_request_approve(request=request, actor=people.manager, amount=amount,
                                                              note="Approved as recommended (above the agent limit).")
        if plan.paid_after is None:
            return request
        settled = self.moment(self.calendar.add_business_days(decided.date(), max(plan.paid_after, 1)))
        with at(max(settled, decided + dt.timedelta(hours=1))):
            if request.invoice.payment_method == Invoice.PaymentMethod.CRYPTO:
                return services.refund_request_grant_credit(request=request, actor=people.finance, amount=amount,
                                                            note="Account credit at our discretion (section 4.3).")
            # Section 4.3: back to the invoice's own payment method (the service refuses any other).
            return services.refund_request_record_payout(request=request, actor=people.finance,
                                                         method=request.invoice.payment_method,
                                                         reference=f"PAYOUT-{request.reference}", amount=amount)

    # --- triage --------------------------------------------------------------------------------

    def triage(self) -> None:
        """One open triage item per reason the intake can give a well-formed demo message, made by
        the intake service from crafted mail (``internal_error`` is a bug, so the demo has none)."""
        from januscaler_refunds.intake.services import ingest_raw_message

        yesterday = self.calendar.add_business_days(self.anchor, -1)
        customer = self.invoices[0].customer
        invoice = self.invoices[-1]
        closed = RefundRequest.objects.filter(state="denied").order_by("id").first()
        mail = "From: {sender}\nTo: refunds@januscaler.com\nSubject: {subject}\nDate: {date}\n{extra}\n{body}\n"

        def message(subject: str, body: str, *, sender: str = customer.email, extra: str = "",
                    date: dt.datetime | None = None) -> bytes:
            when = (date or self.moment(yesterday)).strftime("%a, %d %b %Y %H:%M:%S %z")
            extra = f"{extra}\n" if extra else ""
            return mail.format(sender=sender, subject=subject, date=when, extra=extra, body=body).encode()

        crafted = [
            message("Refund please", "I was charged twice this month, please refund.",
                    extra="Message-ID: <demo-triage-1@example.com>"),
            message("Refund please", "Sending again: I was charged twice, please refund the second charge.",
                    extra="Message-ID: <demo-triage-1@example.com>"),
            message("Refund for INV-2099-999999", "Please refund this invoice."),
            message("Automatic reply: Refund for " + invoice.number, "I am out of the office until Monday.",
                    extra="Auto-Submitted: auto-replied"),
            b"\x00\x00\x00\x00",
            message(f"Refund {invoice.number}", "Please refund.", sender=""),
            message(f"Refund for {invoice.number}", "Please refund my first order.",
                    date=dt.datetime(2024, 6, 3, 11, 0, tzinfo=KOLKATA)),
        ]
        if closed is not None:
            crafted.append(message(f"Re: Your refund request {closed.reference}",
                                   "I do not agree with the decision, please look again."))
        big = message(f"Refund {invoice.number} with screenshots", "")
        crafted.append(big + b"x" * (settings.INTAKE_MAX_MESSAGE_BYTES + 1 - len(big)))
        for n, raw in enumerate(crafted):
            with at(self.moment(yesterday, earliest=10 + n % 8)):
                ingest_raw_message(raw, location=f"demo:triage-{n + 1}")
        with at(self.moment(yesterday)):
            ingest_raw_message(b"", location="imap://mail.januscaler.com/INBOX;UID=4711", source="imap",
                               read_error="IMAP FETCH failed: connection reset by peer")

    # --- disputes -----------------------------------------------------------------------------

    def chargebacks(self) -> None:
        """Disputes whose evidence is due in the coming days (and one a day late), through section 6.

        Evidence is due CHARGEBACK_EVIDENCE_BUSINESS_DAYS business days after the chargeback arrives."""
        from januscaler_refunds.chargebacks.services import chargeback_record

        days = settings.CHARGEBACK_EVIDENCE_BUSINESS_DAYS
        with_request = list(RefundRequest.objects.filter(state__in=["under_review", "submitted"])
                            .select_related("invoice").order_by("id")[:3])
        without_request = [i for i in self.invoices if i.pk not in self.used and i.amount_paid > 0
                           and (self.anchor - i.issued_on).days <= 60][:3]
        # Evidence due in 1, 2, 4 (with a request), 3, 6 business days, and one overdue by one.
        due_in = [1, 2, 4, 3, 6, -1]
        targets = [r.invoice for r in with_request] + without_request
        for n, (invoice, left) in enumerate(zip(targets, due_in, strict=False), start=1):
            received_day = self.calendar.add_business_days(self.anchor, left - days)
            received_at = self.moment(received_day)
            if invoice.issued_on >= received_day:
                continue
            with at(received_at):
                chargeback_record(
                    invoice=invoice, ref=f"CB-DEMO-{n:03d}", amount=invoice.amount_paid, currency=invoice.currency,
                    network_reason=["4853", "4837", "10.4", "13.1"][n % 4], received_at=received_at,
                    evidence_due=None, fee=Decimal("15.00") if invoice.currency != "INR" else Decimal("1200.00"),
                    actor=None,
                )
