"""Billing-data import: example files round-trip, re-imports change nothing, one bad row saves nothing."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest
import tablib
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.utils.module_loading import import_string
from factories import make_user

from januscaler_refunds.billing.models import Customer, Invoice, InvoiceLine, UsageRecord
from januscaler_refunds.intake.importing import IMPORT_FILES, read_csv
from januscaler_refunds.refunds.models import RefundRequest, TransitionLog

pytestmark = pytest.mark.django_db
EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
BILLING_FILES = [name for name in IMPORT_FILES if name not in ("refund_requests.csv", "chargebacks.csv")]


def _chargebacks_available() -> bool:
    try:
        import_string(IMPORT_FILES["chargebacks.csv"])
        return True
    except ImportError:
        return False


@pytest.fixture
def examples(tmp_path: Path) -> Path:
    target = tmp_path / "examples"
    shutil.copytree(EXAMPLES, target)
    if not _chargebacks_available():
        (target / "chargebacks.csv").unlink()
    return target


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("import_billing", *args, stdout=out, stderr=out)
    return out.getvalue()


def test_every_import_file_has_an_example_with_the_documented_key_column_first() -> None:
    keys = {"customers.csv": "email", "violations.csv": "customer_email", "invoices.csv": "number",
            "invoice_lines.csv": "invoice_number", "usage.csv": "invoice_number", "incidents.csv": "ref",
            "abuse_reports.csv": "ref", "company_holidays.csv": "date", "chargebacks.csv": "ref",
            "refund_requests.csv": "reference"}  # fmt: skip
    for name in IMPORT_FILES:
        with (EXAMPLES / name).open(encoding="utf-8") as handle:
            assert next(csv.reader(handle))[0] == keys[name], name


def test_import_billing_imports_the_examples_then_a_second_run_changes_nothing(examples: Path) -> None:
    first = _run(str(examples))
    assert "customers.csv: 3 new, 0 updated, 0 skipped" in first
    assert "refund_requests.csv: 2 new" in first
    assert Invoice.objects.count() == 4 and InvoiceLine.objects.count() == 6 and UsageRecord.objects.count() == 2
    snapshot = {
        "customers": list(Customer.objects.order_by("email").values()),
        "requests": list(RefundRequest.objects.order_by("reference").values("reference", "state", "updated_at")),
        "log": TransitionLog.objects.count(),
    }
    second = _run(str(examples))
    for line in second.strip().splitlines():
        assert " 0 new, 0 updated," in line, line
    assert snapshot == {
        "customers": list(Customer.objects.order_by("email").values()),
        "requests": list(RefundRequest.objects.order_by("reference").values("reference", "state", "updated_at")),
        "log": TransitionLog.objects.count(),
    }


def test_dry_run_counts_but_saves_nothing(examples: Path) -> None:
    out = _run(str(examples), "--dry-run")
    assert "invoices.csv: 4 new" in out and "nothing was saved" in out
    assert not Customer.objects.exists() and not RefundRequest.objects.exists()


def test_history_is_imported_through_the_state_machine_and_logged_as_an_import_by_the_user(examples: Path) -> None:
    make_user("importer")
    # Segregation of duties (issue 12): a user who imports a paid request would both approve and pay it.
    with pytest.raises(CommandError):
        _run(str(examples), "--user", "importer")
    assert not RefundRequest.objects.exists()
    _run(str(examples))
    paid = RefundRequest.objects.get(reference="LEG-000001")
    assert paid.state == "paid" and paid.channel == "import"
    assert paid.payout.amount == paid.approved_amount
    entry = paid.log.get(transition="import_history")
    assert (entry.from_state, entry.to_state, entry.actor_label) == ("submitted", "paid", "import by system")
    assert not paid.messages.filter(kind="acknowledgement").exists()
    open_one = RefundRequest.objects.get(reference="LEG-000002")
    assert open_one.state == "submitted"
    assert open_one.documents.get().name == "bala-statement.txt"
    assert "invoice_customer_mismatch" in open_one.evaluation_codes


def test_one_bad_row_saves_nothing_and_names_file_line_and_reason(examples: Path) -> None:
    with (examples / "invoice_lines.csv").open("a", encoding="utf-8") as handle:
        handle.write("INV-2026-000101,3,not_a_category,Broken,abc,,,,\n")
    with pytest.raises(CommandError) as failure:
        out = io.StringIO()
        call_command("import_billing", str(examples), stdout=out, stderr=out)
    text = out.getvalue()
    assert "invoice_lines.csv, line 8:" in text
    assert "category: 'not_a_category' is not one of" in text and "amount: 'abc' is not a decimal amount" in text
    assert "nothing was saved" in str(failure.value)
    assert not Customer.objects.exists() and not Invoice.objects.exists()


def test_a_row_naming_an_unknown_customer_is_refused_with_its_line(examples: Path) -> None:
    (examples / "invoices.csv").write_text(
        "number,customer_email,issued_on,kind,payment_method,currency,amount_paid,paid_at\n"
        "INV-1,nobody@example.com,2026-05-04,initial,card,USD,1.00,\n"
    )
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_billing", str(examples), stdout=out, stderr=out)
    assert "invoices.csv, line 2: customer_email: no customer with email nobody@example.com" in out.getvalue()


def test_document_paths_may_not_leave_the_import_folder(examples: Path) -> None:
    text = (examples / "refund_requests.csv").read_text().replace("documents/bala-statement.txt", "../../etc/passwd")
    (examples / "refund_requests.csv").write_text(text)
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_billing", str(examples), stdout=out, stderr=out)
    assert "outside the import folder" in out.getvalue()


@pytest.mark.parametrize("name", [*BILLING_FILES])
def test_each_resource_round_trips_its_example_file(examples: Path, name: str) -> None:
    for earlier in IMPORT_FILES:
        if earlier == name:
            break
        if (examples / earlier).exists() and earlier in BILLING_FILES:
            assert not import_string(IMPORT_FILES[earlier])().import_data(read_csv(examples / earlier)).has_errors()
    resource = import_string(IMPORT_FILES[name])()
    dataset = read_csv(examples / name)
    result = resource.import_data(dataset, user=None)
    assert not result.has_errors() and not result.has_validation_errors()
    exported = resource.export()
    key_columns = dataset.headers
    original = sorted(tuple(row) for row in dataset.dict and [[r[h] for h in key_columns] for r in dataset.dict])
    again = sorted(tuple(r[h] for h in key_columns) for r in exported.dict)
    assert again == original
    assert resource.import_data(exported, user=None).totals["skip"] == len(dataset)


def test_the_import_command_of_django_import_export_uses_the_same_resources(tmp_path: Path) -> None:
    bad = tmp_path / "customers.csv"
    bad.write_text("email,name,status,identity_verified\nok@example.com,Ok,active,\nbad@example.com,Bad,bogus,\n")
    with pytest.raises(SystemExit):
        call_command("import", IMPORT_FILES["customers.csv"], str(bad), "--noinput", stderr=io.StringIO())
    assert not Customer.objects.exists()
    call_command("import", IMPORT_FILES["customers.csv"], str(EXAMPLES / "customers.csv"), "--noinput", stderr=io.StringIO())
    assert Customer.objects.count() == 3


def test_chargebacks_file_uses_the_chargebacks_resource(examples: Path) -> None:
    if not _chargebacks_available():
        pytest.skip("januscaler_refunds.chargebacks.resources.ChargebackResource is not there yet")
    out = _run(str(examples))
    assert "chargebacks.csv: " in out and "(FAILED)" not in out
    again = _run(str(examples))
    assert "chargebacks.csv: 0 new, 0 updated" in again


# --- admin import with preview -----------------------------------------------------------------


def _upload(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, (EXAMPLES / name).read_bytes(), content_type="text/csv")


def test_admin_import_previews_then_imports(client) -> None:  # type: ignore[no-untyped-def]
    user = make_user("boss", is_superuser=True)
    client.force_login(user)
    page = client.get("/admin/billing/customer/import/")
    assert page.status_code == 200
    preview = client.post(
        "/admin/billing/customer/import/", {"import_file": _upload("customers.csv"), "format": "0", "resource": "0"}
    )
    assert preview.status_code == 200
    assert b"asha@example.com" in preview.content and not Customer.objects.exists()
    confirm = preview.context["confirm_form"]
    done = client.post("/admin/billing/customer/process_import/", {**confirm.initial, "resource": "0"})
    assert done.status_code == 302
    assert Customer.objects.count() == 3


def test_a_user_without_the_import_permission_cannot_import(client) -> None:  # type: ignore[no-untyped-def]
    viewer = make_user("viewer")
    viewer.user_permissions.add(*Permission.objects.filter(codename__in=["view_customer", "view_refundrequestimport"]))
    client.force_login(viewer)
    assert client.get("/admin/billing/customer/import/").status_code == 403
    response = client.post(
        "/admin/billing/customer/import/", {"import_file": _upload("customers.csv"), "format": "0", "resource": "0"}
    )
    assert response.status_code == 403
    assert client.get("/admin/intake/refundrequestimport/import/").status_code == 403
    assert not Customer.objects.exists()


def test_refund_requests_have_their_own_admin_import_with_its_permission(client) -> None:  # type: ignore[no-untyped-def]
    importer = make_user("importer2")
    importer.user_permissions.add(Permission.objects.get(codename="import_refundrequestimport"))
    client.force_login(importer)
    assert client.get("/admin/intake/refundrequestimport/import/").status_code == 200
    assert isinstance(tablib.Dataset, type)
