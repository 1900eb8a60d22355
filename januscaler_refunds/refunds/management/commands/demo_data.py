"""Load the deterministic demo dataset and the demo users ``agent``, ``manager``, ``finance``.

The dataset is generated from a fixed seed, with dates counted back from an
anchor day (today in Asia/Kolkata unless ``--anchor`` is given), so the same
anchor always gives the same data and the queue always has fresh deadlines.
Re-running is a no-op for the data; users and roles are brought up to date.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

from django.apps import apps as django_apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from januscaler_refunds.billing.models import (
    AbuseReport,
    CompanyHoliday,
    Customer,
    Incident,
    Invoice,
    InvoiceLine,
    PolicyVersion,
    UsageRecord,
    Violation,
)
from januscaler_refunds.policy.calendar import KOLKATA
from januscaler_refunds.refunds import services
from januscaler_refunds.refunds.models import ApprovalLimit, Reason, RefundRequest, State
from januscaler_refunds.refunds.roles import AGENT, FINANCE, MANAGER, sync_roles

SEED = 20250106
MARKER_EMAIL = "demo-customer-0001@example.com"
SERVICES = ["meet", "stream", "turn-relay", "sfu", "recording"]
FIRST_NAMES = ["Aarav", "Diya", "Kabir", "Meera", "Rohan", "Sara", "Vikram", "Anaya", "Ishaan", "Tara",
               "Noah", "Emma", "Liam", "Olivia", "Lucas", "Mia", "Arjun", "Priya", "Zoe", "Omar"]
COMPANIES = ["Studios", "Labs", "Health", "Classes", "Networks", "Media", "Telecom", "Games", "Care", "Works"]
CURRENCIES = ["INR", "INR", "INR", "USD", "USD", "EUR"]
METHODS = ["card", "card", "card", "bank_transfer", "wallet", "crypto", "other"]
PRICES = {"INR": Decimal("4999.00"), "USD": Decimal("99.00"), "EUR": Decimal("89.00")}


def _money(rng: random.Random, base: Decimal, low: float, high: float) -> Decimal:
    factor = Decimal(str(round(rng.uniform(low, high), 2)))
    return (base * factor).quantize(Decimal("0.01"))


def _at(day: dt.date, rng: random.Random) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(rng.randint(9, 19), rng.choice([0, 15, 30, 45])), tzinfo=KOLKATA)


class Command(BaseCommand):
    help = "Load the deterministic demo dataset and the demo users agent, manager and finance (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--force", action="store_true", help="Allow running with DEBUG off.")
        parser.add_argument("--anchor", help="Day the data is counted back from (YYYY-MM-DD); default today.")
        parser.add_argument("--customers", type=int, default=210)
        parser.add_argument("--requests", type=int, default=320)

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError("demo_data refuses to run with DEBUG off; pass --force if you really mean it.")
        anchor = (
            dt.date.fromisoformat(options["anchor"]) if options["anchor"] else timezone.localtime().date()
        )
        sync_roles(django_apps)
        self._users()
        if Customer.objects.filter(email=MARKER_EMAIL).exists():
            self.stdout.write("Demo data already present; users and roles brought up to date.")
            return
        rng = random.Random(SEED)
        with transaction.atomic():
            self._reference_data(anchor)
            customers = self._customers(rng, options["customers"])
            self._invoices(rng, customers, anchor)
            self._incidents_and_reports(rng, customers, anchor)
            created = self._requests(rng, anchor, options["requests"])
            self._chargebacks(rng, anchor)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data loaded (anchor {anchor}): {Customer.objects.count()} customers, "
                f"{Invoice.objects.count()} invoices, {InvoiceLine.objects.count()} lines, "
                f"{created} refund requests."
            )
        )

    # --- users and reference data ------------------------------------------------------------

    def _users(self) -> None:
        User = get_user_model()
        for username, role, name in [
            ("agent", AGENT, "Asha Agent"),
            ("agent2", AGENT, "Dev Agent"),
            ("manager", MANAGER, "Maya Manager"),
            ("finance", FINANCE, "Farhan Finance"),
        ]:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={"is_staff": True, "first_name": name.split()[0], "last_name": name.split()[1],
                          "email": f"{username}@januscaler.com"},
            )
            if created:
                user.set_password(settings.DEMO_PASSWORD)
                user.save()
            user.groups.set([Group.objects.get(name=role)])

    def _reference_data(self, anchor: dt.date) -> None:
        PolicyVersion.objects.get_or_create(
            effective_date=dt.date(2026, 7, 1),
            defaults={
                "label": "2026-07-01",
                "announced_on": dt.date(2026, 6, 15),
                "material_change": True,
                "summary": "SLA credit table aligned with Terms and Conditions section 8 (2026 revision).",
                "sla_credit_table": [["99.95", "0"], ["99.0", "0.10"], ["95.0", "0.25"], ["0", "0.50"]],
            },
        )
        for offset, name in [(-40, "Company offsite"), (9, "Founders' day"), (30, "Year-end shutdown")]:
            CompanyHoliday.objects.get_or_create(date=anchor + dt.timedelta(days=offset), defaults={"name": name})
        for currency, limit in [("INR", "20000.00"), ("USD", "500.00"), ("EUR", "450.00")]:
            ApprovalLimit.objects.get_or_create(currency=currency, defaults={"agent_limit": Decimal(limit)})

    def _customers(self, rng: random.Random, count: int) -> list[Customer]:
        customers = []
        for i in range(1, count + 1):
            first = FIRST_NAMES[i % len(FIRST_NAMES)]
            company = f"{first} {COMPANIES[(i * 7) % len(COMPANIES)]}"
            customers.append(
                Customer(
                    email=f"demo-customer-{i:04d}@example.com",
                    name=company,
                    other_emails=[f"billing+{i}@example.org"] if i % 5 == 0 else [],
                    external_id=f"CUS-{i:05d}",
                    identity_verified=None,
                )
            )
        Customer.objects.bulk_create(customers)
        customers = list(Customer.objects.order_by("id"))
        for i, customer in enumerate(customers):
            if i % 37 == 5:
                Violation.objects.create(customer=customer, kind=rng.choice(["tos", "aup"]),
                                         status="open" if i % 2 else "resolved",
                                         opened_on=dt.date(2026, 3, 1) + dt.timedelta(days=i))
            if i % 53 == 7:
                customer.status = Customer.Status.SUSPENDED
                customer.suspended_at = timezone.now()
                customer.suspended_by = "system"
                customer.suspension_reason = "Demo: chargeback without a refund request (section 6.1)."
                customer.save()
        return customers

    def _invoices(self, rng: random.Random, customers: list[Customer], anchor: dt.date) -> None:
        counter = 0
        lines: list[InvoiceLine] = []
        invoices: list[Invoice] = []
        for i, customer in enumerate(customers):
            currency = CURRENCIES[i % len(CURRENCIES)]
            method = METHODS[i % len(METHODS)]
            if method == "crypto" and i % 3 == 0:
                customer.identity_verified = False
                customer.save(update_fields=["identity_verified"])
            new_customer = i % 7 == 0
            count = 1 if new_customer else 6
            first_day = anchor - dt.timedelta(days=rng.randint(1, 25) if new_customer else 30 * count + rng.randint(0, 20))
            for n in range(count):
                counter += 1
                issued = first_day + dt.timedelta(days=30 * n)
                if issued > anchor:
                    break
                kind = "initial" if n == 0 else ("renewal" if n % 3 else "later_order")
                invoices.append(
                    Invoice(
                        number=f"INV-{issued.year}-{counter:06d}",
                        customer=customer,
                        issued_on=issued,
                        kind=kind,
                        payment_method=method,
                        currency=currency,
                        amount_paid=Decimal("0"),
                        paid_at=_at(issued, rng),
                    )
                )
        Invoice.objects.bulk_create(invoices)
        invoices = list(Invoice.objects.select_related("customer").order_by("id"))
        categories = ["prepaid_api_credit", "usage_fee", "third_party_license", "payment_gateway_fee",
                      "onboarding", "custom_development", "other"]
        for idx, invoice in enumerate(invoices):
            base = PRICES[invoice.currency]
            period_end = invoice.issued_on + dt.timedelta(days=29)
            invoice_lines = [
                InvoiceLine(invoice=invoice, line_no=1, category="plan", description="Team plan, monthly",
                            amount=base, service=SERVICES[idx % len(SERVICES)],
                            period_start=invoice.issued_on, period_end=period_end)
            ]
            if invoice.kind == "initial":
                invoice_lines.append(InvoiceLine(invoice=invoice, line_no=2, category="setup",
                                                 description="Account setup", amount=_money(rng, base, 0.1, 0.3)))
            for category in rng.sample(categories, k=rng.randint(1, 3)):
                no = len(invoice_lines) + 1
                units = rng.choice([10000, 20000, 50000]) if category == "prepaid_api_credit" else None
                invoice_lines.append(InvoiceLine(
                    invoice=invoice, line_no=no, category=category,
                    description=category.replace("_", " ").capitalize(),
                    amount=_money(rng, base, 0.05, 0.8), units=units,
                    service=SERVICES[(idx + no) % len(SERVICES)] if category == "prepaid_api_credit" else "",
                ))
            total = sum((line.amount for line in invoice_lines), Decimal("0"))
            roll = idx % 31
            invoice.amount_paid = Decimal("0") if roll == 3 else (total * Decimal("0.6")).quantize(Decimal("0.01")) if roll == 4 else total
            lines.extend(invoice_lines)
        Invoice.objects.bulk_update(invoices, ["amount_paid"])
        InvoiceLine.objects.bulk_create(lines)
        usage = []
        for line in InvoiceLine.objects.filter(category="prepaid_api_credit").select_related("invoice"):
            start = dt.datetime.combine(line.invoice.issued_on, dt.time(10), tzinfo=KOLKATA)
            share = rng.choice([0.0, 0.05, 0.2, 0.25, 0.4, 0.7])
            for k in range(3):
                units = int((line.units or 0) * share / 3)
                if units:
                    usage.append(UsageRecord(customer=line.invoice.customer, invoice_line=line, service=line.service,
                                             at=start + dt.timedelta(days=2 * k + 1), units=units))
        UsageRecord.objects.bulk_create(usage)

    def _incidents_and_reports(self, rng: random.Random, customers: list[Customer], anchor: dt.date) -> None:
        causes = ["januscaler", "third_party", "force_majeure"]
        for n in range(45):
            day = anchor - dt.timedelta(days=rng.randint(1, 200))
            start = _at(day, rng)
            hours = rng.choice([0.5, 2, 6, 12, 30])
            Incident.objects.create(
                ref=f"INC-{n + 1:04d}", service=SERVICES[n % len(SERVICES)], start=start,
                end=start + dt.timedelta(hours=hours), cause=causes[n % 3],
                description=f"Demo incident on {SERVICES[n % len(SERVICES)]}",
            )
        for n, customer in enumerate(customers[::14][:16]):
            AbuseReport.objects.create(ref=f"ABUSE-{n + 1:04d}", customer=customer,
                                       received_at=_at(anchor - dt.timedelta(days=rng.randint(1, 30)), rng),
                                       summary="Demo abuse report (AUP)")

    def _chargebacks(self, rng: random.Random, anchor: dt.date) -> None:
        """A few chargebacks through the section 6 service: some after a refund request (the
        account is spared), some without one (the account is suspended at once)."""
        from januscaler_refunds.chargebacks.services import chargeback_record

        with_request = list(
            RefundRequest.objects.filter(state__in=[State.UNDER_REVIEW, State.SUBMITTED])
            .select_related("invoice")
            .order_by("id")[:4]
        )
        without_request = list(
            Invoice.objects.filter(refund_requests__isnull=True, amount_paid__gt=0, issued_on__gte=anchor - dt.timedelta(days=60))
            .order_by("id")[:3]
        )
        targets = [(r.invoice, r.received_at + dt.timedelta(days=2)) for r in with_request]
        targets += [(invoice, _at(min(anchor, invoice.issued_on + dt.timedelta(days=10)), rng)) for invoice in without_request]
        for n, (invoice, received_at) in enumerate(targets, start=1):
            chargeback_record(
                invoice=invoice,
                ref=f"CB-DEMO-{n:03d}",
                amount=invoice.amount_paid,
                currency=invoice.currency,
                network_reason=["4853", "4837", "10.4", "13.1"][n % 4],
                received_at=min(received_at, timezone.now()),
                evidence_due=None,
                fee=Decimal("15.00") if invoice.currency != "INR" else Decimal("1200.00"),
                actor=None,
            )

    # --- refund requests through the services --------------------------------------------------

    def _requests(self, rng: random.Random, anchor: dt.date, count: int) -> int:
        User = get_user_model()
        agent, agent2, manager, finance = (User.objects.get(username=u) for u in ("agent", "agent2", "manager", "finance"))
        invoices = list(Invoice.objects.select_related("customer").order_by("id"))
        initial_recent = [i for i in invoices if i.kind == "initial" and (anchor - i.issued_on).days <= 25]
        targets = (
            [State.SUBMITTED] * 60 + [State.UNDER_REVIEW] * 60 + [State.INFO_REQUESTED] * 30
            + [State.APPROVED] * 35 + [State.DENIED] * 50 + [State.PAID] * 50 + [State.CREDITED] * 15
            + [State.WITHDRAWN] * 20
        )
        reasons = [Reason.BILLING_ERROR, Reason.SERVICE_UNAVAILABILITY, Reason.MONEY_BACK_GUARANTEE, Reason.OTHER]
        created = 0
        for n in range(count):
            target = targets[n % len(targets)]
            reason = reasons[n % 4]
            if target == State.CREDITED:
                pool = [i for i in invoices if i.payment_method == "crypto" and i.customer.identity_verified is not False]
            elif reason == Reason.MONEY_BACK_GUARANTEE and n % 3:
                pool = initial_recent
            else:
                pool = invoices
            invoice = pool[rng.randrange(len(pool))]
            latest_day = min(anchor, invoice.issued_on + dt.timedelta(days=9 if reason == Reason.MONEY_BACK_GUARANTEE else 17))
            span = (latest_day - invoice.issued_on).days
            received_day = invoice.issued_on + dt.timedelta(days=rng.randint(0, max(span, 0)))
            received_at = _at(received_day, rng)
            if received_at > timezone.now():
                received_at = timezone.now() - dt.timedelta(hours=1)
            requested = None if n % 9 == 0 else (invoice.amount_paid * Decimal(rng.choice(["1", "0.5", "0.25"]))).quantize(Decimal("0.01"))
            if requested is not None and requested <= 0:
                requested = None
            try:
                request = services.refund_request_create(
                    invoice=invoice,
                    reason=reason,
                    received_at=received_at,
                    requester_email=invoice.customer.email if n % 23 else "someone.else@example.net",
                    channel=["email", "admin", "import"][n % 3],
                    message=f"Demo request {n + 1}: please refund invoice {invoice.number}.",
                    requested_amount=requested,
                    documents=[services.DocumentUpload(name=f"evidence-{n + 1}.txt",
                                                       content=f"Evidence for demo request {n + 1}\n".encode(),
                                                       content_type="text/plain")] if n % 5 else [],
                    acknowledge=False,
                )
            except services.TransitionRefused:
                continue
            created += 1
            self._advance(request, target, n, agent if n % 2 else agent2, manager, finance)
        return created

    def _advance(self, request: RefundRequest, target: str, n: int, agent: Any, manager: Any, finance: Any) -> None:
        if target == State.SUBMITTED:
            return
        if target == State.WITHDRAWN:
            services.refund_request_withdraw(request=request, actor=None, note="Customer withdrew (demo).")
            return
        if n % 5 == 0:
            request = services.refund_request_assign(request=request, actor=manager, assignee=agent)
        request = services.refund_request_start_review(request=request, actor=agent)
        if target == State.UNDER_REVIEW:
            return
        if target == State.INFO_REQUESTED:
            services.refund_request_request_information(
                request=request, actor=agent, missing="A screenshot of the charge on your statement."
            )
            return
        if target == State.DENIED or not request.refundable_amount:
            codes = [c for c in request.evaluation_codes if c] or ["not_a_ground_dissatisfaction"]
            services.refund_request_deny(request=request, actor=agent, codes=codes[:3],
                                         message="We reviewed your request against the Refund Policy.")
            return
        amount = min(request.refundable_amount, request.requested_amount or request.refundable_amount)
        crypto = request.invoice.payment_method == "crypto"
        if crypto and request.customer.identity_verified is False:
            return  # stays under review until the customer's identity is verified (section 3)
        approver = manager if crypto or n % 6 == 0 else agent
        try:
            request = services.refund_request_approve(request=request, actor=approver, amount=amount,
                                                      note="Demo approval.")
        except services.TransitionRefused:
            request = services.refund_request_approve(request=request, actor=manager, amount=amount,
                                                      note="Demo approval (manager).")
        if target == State.APPROVED:
            return
        if crypto or target == State.CREDITED:
            if request.customer.identity_verified is not False:
                services.refund_request_grant_credit(request=request, actor=finance, amount=amount,
                                                     note="Account credit at our discretion (section 4.3).")
            return
        # Section 4.3: back to the invoice's original payment method (the service refuses any other).
        services.refund_request_record_payout(request=request, actor=finance, method=request.invoice.payment_method,
                                              reference=f"PAYOUT-{request.reference}", amount=amount)
