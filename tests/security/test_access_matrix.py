"""Least privilege as a tested matrix (issue 12, deliverable 1; docs/access.md).

Every URL the resolver knows is fetched with GET as each role (anonymous, agent, manager, finance,
superuser) with its URL arguments filled from real objects, and the outcome is compared with the
declared table in ``januscaler_refunds/access.py``. A URL with no row fails the test and says how to
add one; so a new view is covered the moment it is routed. POST checks then prove that import,
export, delete and admin actions refuse the roles that do not own them, and change nothing.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.apps import apps as django_apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from factories import InvoiceFactory, invoice_with_plan, kolkata, make_request, make_user

from januscaler_refunds import access
from januscaler_refunds.billing.models import (
    AbuseReport,
    CompanyHoliday,
    Customer,
    Incident,
    LedgerEntry,
    UsageRecord,
    Violation,
)
from januscaler_refunds.chargebacks import services as chargeback_services
from januscaler_refunds.chargebacks.models import Chargeback, Dispute, WebhookEvent
from januscaler_refunds.deadlines.models import Alert, DigestRun
from januscaler_refunds.intake.models import InboundMessage, MailboxHealth, TriageItem
from januscaler_refunds.refunds import services
from januscaler_refunds.refunds.models import ApprovalLimit, CustomerMessage, Payout, RefundRequest
from januscaler_refunds.refunds.roles import AGENT, FINANCE, MANAGER
from januscaler_refunds.reports.models import ExportRecord

pytestmark = pytest.mark.django_db

ROLE_GROUPS = {access.AGENT: AGENT, access.MANAGER: MANAGER, access.FINANCE: FINANCE}


# --- the world: one real object of every kind an admin URL can point at --------------------------


def build_world() -> dict[str, Any]:
    users = {role: make_user(f"matrix-{role}", group) for role, group in ROLE_GROUPS.items()}
    users[access.SUPERUSER] = get_user_model().objects.create_superuser("matrix-superuser", "su@example.com", "pw")
    agent, manager, finance = users[access.AGENT], users[access.MANAGER], users[access.FINANCE]

    invoice = invoice_with_plan(Decimal("100.00"))
    customer = invoice.customer
    request = make_request(invoice=invoice, actor=agent)
    services.refund_request_start_review(request=request, actor=agent)
    services.refund_request_approve(request=request, actor=manager, amount=Decimal("40.00"))
    services.refund_request_record_payout(request=request, actor=finance, method=Payout.Method.CARD,
                                          reference="PSP-1", amount=Decimal("40.00"))
    document = services.document_attach(
        request=request, upload=services.DocumentUpload(name="receipt.txt", content=b"receipt", content_type="text/plain"),
        reevaluate=False)
    crypto = invoice_with_plan(Decimal("50.00"), payment_method="crypto")
    credited = make_request(invoice=crypto)
    services.refund_request_start_review(request=credited, actor=agent)
    services.refund_request_approve(request=credited, actor=manager, amount=Decimal("20.00"))
    services.refund_request_grant_credit(request=credited, actor=finance, amount=Decimal("20.00"))
    imported = services.refund_request_create(
        invoice=invoice_with_plan(), reason="other", received_at=kolkata(2026, 5, 6), channel="import",
        requester_email="old@example.com", reference="LEGACY-1", acknowledge=False)
    CustomerMessage.objects.create(request=request, direction="out", kind="decision", subject="s", body="b", status="sent")
    ApprovalLimit.objects.get_or_create(currency="USD", defaults={"agent_limit": Decimal("500.00")})

    charged = InvoiceFactory(amount_paid=Decimal("80.00"))
    chargeback = chargeback_services.chargeback_record(
        invoice=charged, ref="CB-MATRIX-1", amount=Decimal("80.00"), currency="USD", network_reason="fraud",
        received_at=timezone.now(), evidence_due=None, fee=Decimal("15.00"), actor=manager)
    line = invoice.lines.first()
    Violation.objects.create(customer=customer, kind="tos", opened_on=dt.date(2026, 1, 5))
    UsageRecord.objects.create(customer=customer, invoice_line=line, at=kolkata(2026, 5, 5), units=3, service="meet")
    Incident.objects.create(ref="INC-1", service="meet", start=kolkata(2026, 5, 5), end=kolkata(2026, 5, 5, 12),
                            cause="januscaler")
    AbuseReport.objects.create(ref="AB-1", customer=customer, received_at=kolkata(2026, 5, 5))
    CompanyHoliday.objects.create(date=dt.date(2026, 12, 25), name="Christmas")
    if not LedgerEntry.objects.exists():
        LedgerEntry.objects.create(customer=customer, kind="fee", amount=Decimal("1.00"), currency="USD",
                                   description="fee", source_key="matrix")
    message = InboundMessage.objects.create(content_hash="h" * 64, fingerprint="f" * 64, size=10,
                                            received_at=timezone.now(), outcome="triage", from_address="x@example.com")
    triage = TriageItem.objects.create(message=message, reason="no_invoice")
    MailboxHealth.objects.create(mailbox="imap://matrix.example/INBOX")
    Alert.objects.create(subject_type="refund_request", subject_id=request.pk, kind="review", level="near",
                         due_at=timezone.now(), created_at=timezone.now(), token="matrix")
    DigestRun.objects.create(day=dt.date(2026, 5, 5), created_at=timezone.now())
    record = ExportRecord.objects.create(user=manager, actor_label="matrix-manager", format="csv", source="admin",
                                         status=ExportRecord.Status.COMPLETED)
    record.file.save("matrix.csv", ContentFile(b"reference\r\n"), save=True)
    if not WebhookEvent.objects.exists():
        WebhookEvent.objects.create(type="customer.suspended", payload={})
    # Sign-in lockouts (django-axes), listed for managers in the admin.
    AccessAttempt.objects.create(username="matrix-locked", ip_address="192.0.2.1", user_agent="ua",
                                 path_info="/admin/login/", get_data="", post_data="", http_accept="*/*",
                                 failures_since_start=5)
    TOTPDevice.objects.create(user=users[access.SUPERUSER], name="matrix", confirmed=True)
    AccessFailureLog.objects.create(username="matrix-locked", ip_address="192.0.2.1", user_agent="ua",
                                    path_info="/admin/login/", http_accept="*/*", locked_out=True)

    objects: dict[str, Any] = {
        "auth.group": Group.objects.get(name=AGENT),
        "auth.user": agent,
        "billing.customer": customer,
        "billing.invoice": invoice,
        "billing.invoiceline": line,
        "refunds.refundrequest": request,
        "intake.refundrequestimport": imported,
        "chargebacks.chargeback": chargeback,
        "chargebacks.dispute": Dispute.objects.get(chargeback=chargeback),
        "intake.triageitem": triage,
        "intake.inboundmessage": message,
        "reports.exportrecord": record,
    }
    return {"users": users, "objects": objects, "document": document, "credited": credited}


def object_for(world: dict[str, Any], app_label: str, model_name: str) -> Any:
    key = f"{app_label}.{model_name}"
    if key in world["objects"]:
        return world["objects"][key]
    model = django_apps.get_model(app_label, model_name)
    obj = model._base_manager.order_by("pk").first()
    assert obj is not None, f"the access matrix has no {key} to open; create one in build_world()"
    return obj


# --- walking the resolver ------------------------------------------------------------------------

_ADMIN_NAME = re.compile(r"^admin:(?P<app>[a-z]+)_(?P<model>[a-z]+)_(?P<view>[a-z_]+)$")
_MODEL_ROUTE = re.compile(r"^admin/(?P<app>[a-z]+)/(?P<model>[a-z]+)/")
_PARAM = re.compile(r"<(?:(?P<conv>[a-z]+):)?(?P<name>\w+)>|\(\?P<(?P<rname>\w+)>[^)]*\)")


def _plain(route: str) -> str:
    return route.replace("^", "").replace("$", "")


def walk(resolver: URLResolver | None = None, prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str]]:
    """(key, route) for every URL: the key is ``namespace:name``, or the route for unnamed ones."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = namespace + (f"{entry.namespace}:" if entry.namespace else "")
            yield from walk(entry, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            route = prefix + str(entry.pattern)
            yield (f"{namespace}{entry.name}" if entry.name else (_plain(route) or "/")), route


# Named URLs outside the admin's <app>_<model>_<view> scheme, and the object their id refers to.
OBJECT_OF = {"reports:export_download": "reports.exportrecord"}
LABELS = {config.label for config in django_apps.get_app_configs()}


def params_for(key: str, route: str, world: dict[str, Any]) -> Iterator[tuple[str, dict[str, str]]]:
    """The table key and URL arguments of each concrete URL to try for one route."""
    names = [m.group("name") or m.group("rname") for m in _PARAM.finditer(route)]
    if key == "admin:app_list":
        labels = re.search(r"\((?:\?P<app_label>)([^)]*)\)", route)
        assert labels is not None
        for label in labels.group(1).split("|"):
            yield f"admin:app_list[{label}]", {"app_label": label}
        return
    if not names:
        yield key, {}
        return
    if key in OBJECT_OF:
        obj = object_for(world, *OBJECT_OF[key].split("."))
    elif (match := (_ADMIN_NAME.match(key) or (_MODEL_ROUTE.match(route) if key == _plain(route) else None))) and (
        match.group("app") in LABELS
    ):
        obj = object_for(world, match.group("app"), match.group("model"))
    else:
        obj = None
    values: dict[str, str] = {}
    for name in names:
        if name in ("object_id", "pk", "id"):
            values[name] = str(obj.pk) if obj is not None else "1"
        elif name == "document_id":
            values[name] = str(world["document"].pk)
        elif name == "name":
            values[name] = "start_review"
        elif name == "content_type_id":
            values[name] = str(ContentType.objects.get_for_model(RefundRequest).pk)
            values["object_id"] = str(world["objects"]["refunds.refundrequest"].pk)
        elif name == "url":
            values[name] = "no-such-page/"
        elif name == "path":
            values[name] = "documents/none.txt"
        else:
            raise AssertionError(f"the access matrix does not know how to fill <{name}> in {route}; teach params_for()")
    yield key, values


def fill(route: str, values: dict[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        return values[m.group("name") or m.group("rname")]

    return "/" + _plain(_PARAM.sub(sub, route))


def outcome(response: Any) -> str:
    if response.status_code in (301, 302) and "/login/" in response.get("Location", ""):
        return access.LOGIN
    if response.status_code < 400:
        return access.ALLOW
    return {403: access.FORBIDDEN, 404: access.NOT_FOUND, 405: access.METHOD}.get(
        response.status_code, str(response.status_code))


def clients(world: dict[str, Any]) -> dict[str, Client]:
    result = {access.ANONYMOUS: Client()}
    for role, user in world["users"].items():
        client = Client()
        client.force_login(user)
        result[role] = client
    return result


# --- the tests -----------------------------------------------------------------------------------


def test_every_url_answers_each_role_as_the_access_table_says() -> None:
    world = build_world()
    logged_in = clients(world)
    missing, wrong, seen = [], [], set()
    for key, route in walk():
        for row_key, values in params_for(key, route, world):
            seen.add(row_key)
            row = access.expected(row_key)
            if row is None:
                missing.append(f"{row_key}  ({route})")
                continue
            if row is access.SKIP:
                continue
            url = fill(route, values)
            for role in access.ROLES:
                got = outcome(logged_in[role].get(url))
                if got != row[role]:
                    wrong.append(f"{row_key} as {role}: expected {row[role]}, got {got}  (GET {url})")
    if os.environ.get("ACCESS_MATRIX_DUMP"):
        print("\n".join(wrong))
    assert not missing, (
        "These URLs have no row in januscaler_refunds/access.py; add one (who may open it) for each:\n  "
        + "\n  ".join(missing)
    )
    unexpected_allows = [w for w in wrong if f"got {access.ALLOW}" in w]
    assert not unexpected_allows, f"{len(unexpected_allows)} unexpected allows:\n  " + "\n  ".join(unexpected_allows)
    assert not wrong, "outcomes differ from januscaler_refunds/access.py:\n  " + "\n  ".join(wrong)
    stale = sorted(set(access.TABLE) - seen - access.OPTIONAL)
    assert not stale, f"rows in access.py for URLs that no longer exist (remove them): {stale}"


# --- POST checks: import, export, delete and actions refuse the roles that do not own them -------

CHARGEBACK_CSV = (
    "ref,invoice_number,amount,currency,network_reason,received_at,evidence_due,fee\n"
    "CB-POST-1,{number},50.00,USD,fraud,2026-05-20T10:00:00+05:30,,0\n"
)


def _login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def roles(db: Any) -> dict[str, Any]:
    return {role: make_user(f"post-{role}", group) for role, group in ROLE_GROUPS.items()}


def test_agents_and_finance_cannot_import_chargebacks_and_so_cannot_suspend(roles: dict[str, Any]) -> None:
    """Issue 12, finding 1: an agent's import created a chargeback and suspended the customer."""
    invoice = InvoiceFactory(amount_paid=Decimal("50.00"))
    for role in (access.AGENT, access.FINANCE):
        client = _login(roles[role])
        upload = SimpleUploadedFile("chargebacks.csv", CHARGEBACK_CSV.format(number=invoice.number).encode(), "text/csv")
        response = client.post("/admin/chargebacks/chargeback/import/", {"format": "0", "import_file": upload,
                                                                          "resource": "0"})
        assert response.status_code == 403, role
        assert client.post("/admin/chargebacks/chargeback/process_import/", {"format": "0"}).status_code == 403
    assert not Chargeback.objects.exists()
    invoice.customer.refresh_from_db()
    assert invoice.customer.status == Customer.Status.ACTIVE
    assert _login(roles[access.MANAGER]).get("/admin/chargebacks/chargeback/import/").status_code == 200


def test_only_managers_export_chargebacks_each_export_recorded_and_formulas_neutralised(roles: dict[str, Any]) -> None:
    invoice = InvoiceFactory(amount_paid=Decimal("50.00"))
    chargeback_services.chargeback_record(
        invoice=invoice, ref="=HYPERLINK(\"http://x.example\")", amount=Decimal("50.00"), currency="USD",
        network_reason="@SUM(1+1)", received_at=timezone.now(), evidence_due=None, fee=Decimal("0.00"),
        actor=roles[access.MANAGER])
    for role in (access.AGENT, access.FINANCE):
        assert _login(roles[role]).post("/admin/chargebacks/chargeback/export/", {"format": "0"}).status_code == 403
    assert not ExportRecord.objects.exists()

    response = _login(roles[access.MANAGER]).post("/admin/chargebacks/chargeback/export/", {"format": "0"})
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment")
    body = response.content.decode()
    assert "'=HYPERLINK" in body and "'@SUM(1+1)" in body
    assert ",=HYPERLINK" not in body and "\n=HYPERLINK" not in body
    record = ExportRecord.objects.get()
    assert (record.user, record.source, record.format, record.status, record.row_count) == (
        roles[access.MANAGER], ExportRecord.Source.MODEL, "csv", ExportRecord.Status.COMPLETED, 1)
    import hashlib

    assert record.sha256 == hashlib.sha256(response.content).hexdigest()


def test_evidence_pack_csvs_are_formula_neutralised(roles: dict[str, Any]) -> None:
    import csv
    import io
    import zipfile

    from januscaler_refunds.chargebacks.evidence import dispute_evidence_pack

    invoice = invoice_with_plan(Decimal("100.00"))
    line = invoice.lines.get()
    line.description = "=cmd|' /C calc'!A0"
    line.save()
    make_request(invoice=invoice, message="+1+1 please refund")
    chargeback = chargeback_services.chargeback_record(
        invoice=invoice, ref="CB-EVIDENCE", amount=Decimal("100.00"), currency="USD", network_reason="fraud",
        received_at=timezone.now(), evidence_due=None, fee=Decimal("0.00"), actor=None)
    archive = zipfile.ZipFile(io.BytesIO(dispute_evidence_pack(chargeback.dispute)))
    lines = list(csv.DictReader(io.StringIO(archive.read("CB-EVIDENCE/invoice_lines.csv").decode())))
    requests = list(csv.DictReader(io.StringIO(archive.read("CB-EVIDENCE/refund_requests.csv").decode())))
    assert lines[0]["description"] == "'=cmd|' /C calc'!A0"
    assert requests[0]["message"] == "'+1+1 please refund"
    assert lines[0]["amount"] == "100.00"  # numbers untouched


def test_import_and_export_posts_are_refused_to_every_role_the_table_refuses(roles: dict[str, Any]) -> None:
    """The same roles the GET table refuses may not POST an upload, a confirmation or an export."""
    superuser = get_user_model().objects.create_superuser("post-superuser", "su@example.com", "pw")
    users = {**roles, access.SUPERUSER: superuser}
    checked = 0
    for key, expected_row in access.TABLE.items():
        if not key.startswith("admin:") or not key.endswith(("_import", "_export")) or key.endswith("_process_import"):
            continue
        base = "/admin/" + "/".join(key.removeprefix("admin:").rsplit("_", 1)[0].split("_", 1)) + "/"
        urls = [base + "export/"] if key.endswith("_export") else [base + "import/", base + "process_import/"]
        for role, user in users.items():
            if expected_row[role] == access.ALLOW:
                continue
            client = _login(user)
            for url in urls:
                upload = SimpleUploadedFile("x.csv", b"a,b\n1,2\n", "text/csv")
                response = client.post(url, {"format": "0", "import_file": upload, "resource": "0"})
                assert response.status_code == 403, (role, url, response.status_code)
                checked += 1
    assert checked >= 20


def test_delete_posts_are_refused_to_roles_without_delete(roles: dict[str, Any]) -> None:
    world = build_world()
    targets = {
        "billing/customer": world["objects"]["billing.customer"],
        "refunds/refundrequest": world["objects"]["refunds.refundrequest"],
        "chargebacks/chargeback": world["objects"]["chargebacks.chargeback"],
        "billing/ledgerentry": LedgerEntry.objects.first(),
    }
    for role in (access.AGENT, access.MANAGER, access.FINANCE, access.SUPERUSER):
        client = _login(world["users"][role])
        for path, obj in targets.items():
            response = client.post(f"/admin/{path}/{obj.pk}/delete/", {"post": "yes"})
            assert response.status_code == 403, (role, path)
            assert type(obj)._base_manager.filter(pk=obj.pk).exists()


def test_actions_are_refused_to_roles_that_do_not_hold_them(roles: dict[str, Any]) -> None:
    invoice = InvoiceFactory(amount_paid=Decimal("50.00"))
    chargeback = chargeback_services.chargeback_record(
        invoice=invoice, ref="CB-ACTION", amount=Decimal("50.00"), currency="USD", network_reason="fraud",
        received_at=timezone.now(), evidence_due=None, fee=Decimal("0.00"), actor=None)
    customer = Customer.objects.get(pk=invoice.customer_id)
    assert customer.status == Customer.Status.SUSPENDED
    for role in (access.AGENT, access.FINANCE):
        client = _login(roles[role])
        client.post("/admin/billing/customer/", {"action": "reinstate", "_selected_action": [customer.pk],
                                                  "confirm_reinstate": "1", "reinstate_reason": "please"})
        client.post("/admin/chargebacks/dispute/", {"action": "dispute_win", "_selected_action": [chargeback.dispute.pk]})
        if role == access.AGENT:
            client.post("/admin/chargebacks/dispute/", {"action": "dispute_accept",
                                                         "_selected_action": [chargeback.dispute.pk]})
    customer.refresh_from_db()
    chargeback.dispute.refresh_from_db()
    assert customer.status == Customer.Status.SUSPENDED
    assert chargeback.dispute.state == "open"


def test_the_inbound_webhook_refuses_a_post_without_the_secret(settings: Any) -> None:
    settings.INBOUND_WEBHOOK_SECRET = "s3cret"
    response = Client().post("/intake/inbound/", data=b"From: a@example.com\n\nhi", content_type="message/rfc822")
    assert response.status_code in (401, 403)
    assert not InboundMessage.objects.exists()
