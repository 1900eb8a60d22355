"""The console read as a billing agent, manager and finance user would (issue 15, items 2-7).

One walk over every console page as each role, in one browser, logging each role in once. On
each page it saves a screenshot under artifacts/ui/, runs axe-core (shipped inside
axe-playwright-python, no CDN) and fails on serious or critical violations, and scans the
rendered text for raw stored values: every enumeration value of shared/interfaces.md and every
reason code, outside ``code-detail`` elements, plus a literal "None" or a repository path.
Problems are collected over the whole walk and reported together.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import factories
import pytest
from browser.conftest import login
from django.template.loader import render_to_string
from django.utils import timezone

from januscaler_refunds.billing.models import Invoice
from januscaler_refunds.chargebacks.models import Chargeback
from januscaler_refunds.deadlines.services import raise_alert
from januscaler_refunds.policy.codes import REASON_CODES
from januscaler_refunds.refunds import services
from januscaler_refunds.refunds.models import CustomerMessage, RefundRequest
from januscaler_refunds.refunds.services import DocumentUpload

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)

# The page's visible text without code-detail elements (the one place a stored code may show),
# scripts and styles; each element's own text is listed too, to catch a cell that is a bare enum.
TEXT_JS = """() => {
    const body = document.body.cloneNode(true);
    body.querySelectorAll('.code-detail, script, style, template, noscript').forEach(n => n.remove());
    const cells = [];
    body.querySelectorAll('*').forEach(el => {
        if (el.children.length === 0) { const t = (el.textContent || '').trim(); if (t) cells.push(t); }
    });
    return {text: body.textContent || '', cells: cells};
}"""


def interface_values() -> set[str]:
    """Every backticked value of the "Enumerations" section of shared/interfaces.md, and the codes."""
    for candidate in (ROOT.parent / "shared" / "interfaces.md", ROOT / "shared" / "interfaces.md"):
        if candidate.exists():
            text = candidate.read_text(encoding="utf-8")
            break
    else:  # pragma: no cover - the coordinator lays shared/ beside the checkout
        raise AssertionError("shared/interfaces.md not found beside the project")
    section = text.split("## Enumerations", 1)[1].split("\n## ", 1)[0]
    values = set(re.findall(r"`([a-z][a-z0-9_]*)`", section))
    return values | {str(code) for code in REASON_CODES}


class Walk:
    """Collects screenshots, axe violations and raw values page by page."""

    def __init__(self, artifacts: Path) -> None:
        from axe_playwright_python.sync_playwright import Axe

        self.axe = Axe()
        # artifacts/ at the project root is gitignored; the walk's screenshots go there.
        self.dir = ROOT / "artifacts" / "ui"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.values = interface_values()
        self.snake = sorted(v for v in self.values if "_" in v)
        self.words = {v for v in self.values if "_" not in v}
        self.problems: list[str] = []
        self.pages = 0

    def check(self, page: Any, name: str, *, axe: bool = True) -> None:
        self.pages += 1
        page.wait_for_load_state("load")
        page.screenshot(path=str(self.dir / f"{name}.png"), full_page=True)
        if axe:
            result = self.axe.run(page)
            for violation in result.response["violations"]:
                if violation["impact"] in ("serious", "critical"):
                    targets = [node["target"] for node in violation["nodes"]][:3]
                    self.problems.append(f"{name}: axe {violation['id']} ({violation['impact']}) at {targets}")
        seen = page.evaluate(TEXT_JS)
        text = seen["text"]
        for value in self.snake:
            if re.search(rf"(?<![\w/.-]){re.escape(value)}(?![\w/-])", text):
                self.problems.append(f"{name}: raw value {value!r} shown")
        for cell in seen["cells"]:
            if cell in self.words:
                self.problems.append(f"{name}: a cell shows the bare value {cell!r}")
        if re.search(r"\bNone\b", text):
            self.problems.append(f"{name}: literal None shown")
        if re.search(r"\bdocs/[\w-]+\.md\b", text):
            self.problems.append(f"{name}: repository path shown")


@pytest.fixture
def walk(artifacts_dir: Path) -> Walk:
    return Walk(artifacts_dir)


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def as_user(browser: Any, live_server: Any) -> Iterator[Any]:
    """One logged-in page per role, reused for the whole walk."""
    pages: dict[str, Any] = {}
    contexts = []

    def open_as(username: str) -> Any:
        if username not in pages:
            context = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=live_server.url)
            contexts.append(context)
            page = context.new_page()
            page.set_default_timeout(30_000)  # the shared test machine can be slow
            login(page, username)
            pages[username] = page
        return pages[username]

    yield open_as
    for context in contexts:
        context.close()


def review_url(refund: RefundRequest) -> str:
    return f"/admin/refunds/refundrequest/{refund.pk}/change/"


def _states(agent: Any, manager: Any, finance: Any) -> dict[str, RefundRequest]:
    """One request in every state, reached through the services, plus the cases the issue names."""
    now = timezone.now()
    issued = (now - dt.timedelta(days=3)).date()

    def fresh(amount: str = "100.00", **kw: Any) -> Invoice:
        return factories.invoice_with_plan(Decimal(amount), issued_on=issued, **kw)

    received = now - dt.timedelta(days=1)
    out: dict[str, RefundRequest] = {}
    out["submitted"] = factories.make_request(
        invoice=fresh(), received_at=received, documents=[DocumentUpload("receipt.png", PNG, "image/png")]
    )
    billing = factories.make_request(invoice=fresh("250000.00", currency="INR"), reason="billing_error",
                                     received_at=received, requested_amount=Decimal("7948.41"))
    billing = services.refund_request_start_review(request=billing, actor=agent)
    out["under_review"] = services.refund_request_set_verified_overcharge(
        request=billing, actor=agent, amount=Decimal("7948.41"))
    asked = services.refund_request_start_review(
        request=factories.make_request(invoice=fresh(), received_at=received), actor=agent)
    out["info_requested"] = services.refund_request_request_information(
        request=asked, actor=agent, missing="A copy of your bank statement.")
    approved = services.refund_request_start_review(
        request=factories.make_request(invoice=fresh(), received_at=received), actor=manager)
    out["approved"] = services.refund_request_approve(request=approved, actor=manager, amount=Decimal("100.00"))
    # Paid in INR, large enough that the dashboard's INR chart needs wide axis labels.
    paid = services.refund_request_start_review(
        request=factories.make_request(invoice=fresh("250000.00", currency="INR"), received_at=received),
        actor=manager)
    paid = services.refund_request_approve(request=paid, actor=manager, amount=Decimal("250000.00"))
    out["paid"] = services.refund_request_record_payout(
        request=paid, actor=finance, method="card", reference="ch_1", amount=Decimal("250000.00"))
    crypto = factories.make_request(invoice=fresh(payment_method="crypto"), reason="billing_error",
                                    received_at=received, requested_amount=Decimal("40.00"))
    crypto = services.refund_request_start_review(request=crypto, actor=manager)
    crypto = services.refund_request_approve(request=crypto, actor=manager, amount=Decimal("40.00"))
    out["credited"] = services.refund_request_grant_credit(request=crypto, actor=finance, amount=Decimal("40.00"))
    out["withdrawn"] = services.refund_request_withdraw(
        request=factories.make_request(invoice=fresh(), received_at=received), actor=agent)
    denied = services.refund_request_start_review(
        request=factories.make_request(invoice=fresh(), reason="other", received_at=received), actor=agent)
    out["denied"] = services.refund_request_deny(
        request=denied, actor=agent, codes=["not_a_ground_dissatisfaction"], message="We are sorry.")
    out["to_deny"] = services.refund_request_start_review(
        request=factories.make_request(invoice=fresh(), reason="other", received_at=received,
                                       requested_amount=Decimal("50.00")), actor=agent)
    out["jpy"] = factories.make_request(invoice=fresh("12000", currency="JPY"), received_at=received,
                                        requested_amount=Decimal("12000"))
    out["logged"] = factories.make_request(invoice=fresh(), received_at=received, channel="admin", actor=agent)
    return out


def test_every_console_page_reads_in_plain_words_and_passes_axe(as_user: Any, walk: Walk, live_server: Any) -> None:
    agent, manager, finance = factories.agent(), factories.manager(), factories.finance()
    r = _states(agent, manager, finance)
    raise_alert(subject_type="refund_request", subject_id=r["submitted"].pk, kind="review", level="near",
                due_at=r["submitted"].review_due_at, recipients=["billing@example.com"], subject="Review near", body="Due soon",
                request=r["submitted"])
    Chargeback.objects.create(ref="CB-7", invoice=r["paid"].invoice, amount=Decimal("100.00"), currency="INR",
                              received_at=timezone.now())

    # --- agent: landing page and the queue as a worklist ------------------------------------
    page = as_user("agent")
    page.goto("/admin/")
    walk.check(page, "agent-index")

    page.goto("/admin/refunds/refundrequest/")
    walk.check(page, "agent-queue-open")
    listed = page.locator("#result_list").inner_text()
    assert r["submitted"].reference in listed and r["paid"].reference not in listed, "open requests by default"
    # Fits 1440 px: the assignee column is on screen and references stay on one line.
    header = page.locator("#result_list th.column-assignee_display").bounding_box()
    assert header is not None and header["x"] + header["width"] <= 1440, header
    ref = page.locator("#result_list th.field-reference a, #result_list td.field-reference a").first.bounding_box()
    assert ref is not None and ref["height"] < 30, ref
    for view, must_show, must_hide in (
        ("mine", "under_review", "submitted"),
        ("unassigned", "submitted", "under_review"),
        ("payout", "approved", "submitted"),
    ):
        page.click(f'.jc-queue-views a[data-view="{view}"]')
        page.wait_for_load_state()
        listed = page.locator("#result_list").inner_text()
        assert r[must_show].reference in listed and r[must_hide].reference not in listed, view
        assert page.locator(f'.jc-queue-views a[data-view="{view}"]').get_attribute("aria-current") == "page"
    page.goto("/admin/refunds/refundrequest/")
    page.click('.jc-queue-views a[data-scope="closed"]')
    page.wait_for_load_state()
    walk.check(page, "agent-queue-closed")
    assert r["paid"].reference in page.locator("#result_list").inner_text()

    # --- the review page in each state -------------------------------------------------------
    for state in ("submitted", "under_review", "info_requested", "approved", "denied", "paid", "credited",
                  "withdrawn", "jpy", "logged"):
        page.goto(review_url(r[state]))
        walk.check(page, f"agent-review-{state}")
    # JPY has no minor unit; INR amounts are grouped.
    page.goto(review_url(r["jpy"]))
    assert "12,000 JPY" in page.locator(".jc-kpis").inner_text()
    assert "12,000.00" not in page.locator("#review").inner_text()
    page.goto(review_url(r["logged"]))
    assert "logged by agent (manual intake)" in page.locator(".jc-head").inner_text()
    page.goto(review_url(r["info_requested"]))
    banner = page.locator('[data-testid="deadline"]').inner_text()
    assert "statement”." in banner and ".”." not in banner and ".." not in banner

    # Billing error: the breakdown adds up (no "Sum of allowances 0.00"), header and table agree.
    page.goto(review_url(r["under_review"]))
    breakdown = page.locator('[data-testid="breakdown"]').inner_text()
    assert "Overcharge verified by the billing team" in breakdown and "7,948.41" in breakdown
    assert "Sum of allowances" not in breakdown
    assert page.locator('[data-step="result"] td.jc-num').inner_text().strip() == "7,948.41"
    assert page.locator('[data-testid="refundable"]').inner_text().strip() == "7,948.41 INR"
    assert "250,000.00 INR" in page.locator(".jc-kpis").inner_text()

    # Decisive clauses first; passing ones folded; not-applicable ones behind a toggle.
    page.goto(review_url(r["denied"]))
    first = page.locator('[data-group="decisive"] li').first
    assert first.get_attribute("data-verdict") == "fail"
    assert not page.locator('[data-group="not-applicable"]').is_visible()
    page.click('[data-toggle="not-applicable"]')
    page.locator('[data-group="not-applicable"]').wait_for(state="visible")
    assert "Dissatisfaction is not a ground" in page.locator(".jc-side").inner_text()

    # --- keyboard only: tabs with arrow keys, dialogs open, close with Escape ----------------
    page.goto(review_url(r["to_deny"]))
    page.focus('[role="tab"][data-tab="evaluation"]')
    page.keyboard.press("ArrowRight")
    history = page.locator('[role="tab"][data-tab="history"]')
    assert history.get_attribute("aria-selected") == "true"
    assert page.evaluate("document.activeElement.dataset.tab") == "history"
    page.locator("#panel-history").wait_for(state="visible")  # Alpine shows it on its next tick
    page.keyboard.press("End")
    assert page.locator('[role="tab"][data-tab="log"]').get_attribute("aria-selected") == "true"
    page.keyboard.press("Home")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", ""), "focus is visible"
    page.focus('summary[data-action="deny"]')
    page.keyboard.press("Enter")
    assert page.locator('details:has(summary[data-action="deny"])').get_attribute("open") is not None
    # review.js moves focus on the <details> toggle event, which fires after Enter returns.
    page.wait_for_function("document.activeElement.closest('[role=dialog]') !== null", timeout=5000)
    walk.check(page, "agent-deny-dialog")
    page.keyboard.press("Escape")
    assert page.locator('details:has(summary[data-action="deny"])').get_attribute("open") is None
    assert page.evaluate("document.activeElement.dataset.action") == "deny"

    # --- deny in one step: proposed codes ticked, filterable, message from their wording ------
    page.click('summary[data-action="deny"]')
    form = page.locator('form[data-form="deny"]')
    proposed = form.locator('input[name="codes"]:checked')
    assert proposed.count() >= 1
    assert [b.get_attribute("value") for b in proposed.all()] == ["not_a_ground_dissatisfaction"]
    message = form.locator("textarea[name=message]")
    assert REASON_CODES["not_a_ground_dissatisfaction"].description in message.input_value()
    form.locator("[data-deny-filter]").fill("filing window")
    visible = [o for o in form.locator("[data-deny-option]").all() if o.is_visible()]
    assert len(visible) == 1 and "deadline" in visible[0].inner_text().lower()
    visible[0].locator("input").check()
    assert REASON_CODES["window_expired"].description in message.input_value()
    message.fill(message.input_value() + "\nWe are sorry we cannot help this time.")
    form.locator('button[data-submit="deny"]').click()
    page.wait_for_load_state()
    assert "denied" in page.locator('[data-testid="state"]').inner_text().lower()
    walk.check(page, "agent-review-denied-now")
    decision = CustomerMessage.objects.filter(request=r["to_deny"], kind="decision").get()
    assert decision.body.count(REASON_CODES["window_expired"].description) == 1, decision.body

    # --- refusals and error pages --------------------------------------------------------------
    page.goto(review_url(r["approved"]))
    with page.expect_navigation():  # the forged form's answer, not the page it was built on
        page.evaluate("""(url) => {
            const f = document.createElement('form'); f.method = 'post'; f.action = url;
            const t = document.createElement('input'); t.name = 'csrfmiddlewaretoken';
            t.value = document.querySelector('[name=csrfmiddlewaretoken]').value; f.appendChild(t);
            for (const [k, v] of [['method', 'card'], ['reference', 'x'], ['amount', '100.00']]) {
                const i = document.createElement('input'); i.name = k; i.value = v; f.appendChild(i); }
            document.body.appendChild(f); f.submit(); }""",
                      f"/admin/refunds/refundrequest/{r['approved'].pk}/transition/mark_paid/")
    page.wait_for_load_state()
    refused = page.locator("#main, main, body").first.inner_text()
    assert "Record payout refused: your role may not record payout; Finance can." in refused, refused[:400]

    response = page.goto(f"/admin/refunds/refundrequest/{r['submitted'].pk}/transition/approve/")
    assert response is not None and response.status == 405
    assert "Approve is a button on the review page" in page.inner_text("body")
    walk.check(page, "agent-405-transition")

    response = page.goto("/admin/reports/dashboard/")
    assert response is not None
    if response.status == 403:
        assert "You may not open this page" in page.inner_text("body")
        assert "can open it" in page.inner_text("body")
    walk.check(page, f"agent-dashboard-{response.status}")

    response = page.goto("/no-such-page/")
    assert response is not None and response.status == 404
    walk.check(page, "error-404")

    page.goto(review_url(r["submitted"]))
    page.evaluate("""() => { const f = document.querySelector('form[data-form="start_review"]');
        f.querySelector('[name=csrfmiddlewaretoken]').value = 'stale'; f.submit(); }""")
    page.wait_for_load_state()
    assert "That form could not be accepted" in page.inner_text("body")
    walk.check(page, "error-403-csrf")

    html_500 = render_to_string("500.html")
    page.route("**/boom/", lambda route: route.fulfill(status=500, body=html_500, content_type="text/html"))
    page.goto("/boom/")
    walk.check(page, "error-500")

    for name, url in (
        ("agent-triage", "/admin/intake/triageitem/"),
        ("agent-alerts", "/admin/deadlines/alert/"),
        ("agent-chargebacks", "/admin/chargebacks/chargeback/"),
        ("agent-exports", "/admin/reports/exports/"),
        ("agent-log-a-request", "/admin/refunds/refundrequest/add/"),
        ("agent-transition-log", "/admin/refunds/transitionlog/"),
        ("agent-customer-messages", "/admin/refunds/customermessage/"),
        ("agent-payouts", "/admin/refunds/payout/"),
    ):
        page.goto(url)
        walk.check(page, name)
        if name == "agent-alerts":
            link = page.locator(f"#result_list a:text('{r['submitted'].reference}')")
            assert link.get_attribute("href") == review_url(r["submitted"])
        if name == "agent-exports":
            body = page.inner_text("body")
            assert "Export CSV" not in body and "ask one for a report" in body

    # --- manager: dashboard, exports, the queue with export links ---------------------------
    page = as_user("manager")
    page.goto("/admin/reports/dashboard/")
    walk.check(page, "manager-dashboard")
    # The INR chart's axis labels ("250,000") sit wholly inside the chart, not clipped at its edge.
    chart = page.locator("#chart-amounts-INR svg").bounding_box()
    assert chart is not None
    axis = page.locator("#chart-amounts-INR svg text.axis").all()
    assert any("," in (t.text_content() or "") for t in axis)
    for label in axis:
        box = label.bounding_box()
        assert box is not None and box["x"] >= chart["x"] - 0.5, (label.text_content(), box, chart)
    page.goto("/admin/reports/exports/")
    walk.check(page, "manager-exports")
    page.goto("/admin/refunds/refundrequest/")
    walk.check(page, "manager-queue")

    # --- finance: the payout worklist and a payout dialog -----------------------------------
    page = as_user("finance")
    page.goto("/admin/refunds/refundrequest/?state__exact=approved")
    walk.check(page, "finance-awaiting-payout")
    assert r["approved"].reference in page.locator("#result_list").inner_text()
    page.goto(review_url(r["approved"]))
    page.click('summary[data-action="mark_paid"]')
    walk.check(page, "finance-payout-dialog")

    assert walk.pages >= 25
    assert not walk.problems, "\n".join(walk.problems)
