"""Every page carries a Content-Security-Policy, and the console works under it in Chromium.

The browser records each violation (the securitypolicyviolation event and the console's CSP
messages) while a manager opens the index, the queue, a review page (tabs, an action form) and the
dashboard with its SVG charts. Zero violations is the pass mark.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from browser.conftest import login
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from factories import finance, make_request, manager
from reports.helpers import paid_request

RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', e =>
    window.__csp.push(e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') + ' at ' + e.sourceFile + ':' + e.lineNumber));
"""


@pytest.mark.django_db
def test_every_page_sends_the_policy() -> None:
    client = Client()
    for response in (client.get(reverse("admin:login")), client.get("/no-such-page/")):
        policy = response["Content-Security-Policy"]
        assert "default-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
        assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";", 1)[0]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_console_runs_without_a_csp_violation(page: Any, settings: Any) -> None:  # noqa: F811
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    boss, fin = manager("boss"), finance("fin")
    paid_request(manager=boss, finance=fin, received_at=timezone.now() - dt.timedelta(days=2), amount=Decimal("40.00"))
    refund = make_request(requested_amount=Decimal("30.00"))
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text) if "Content Security Policy" in m.text else None)
    page.add_init_script(RECORD_VIOLATIONS)

    login(page, "boss")
    seen: list[str] = []
    for path, ready in (
        ("/admin/", "#content, main"),
        ("/admin/refunds/refundrequest/", f"text={refund.reference}"),
        (f"/admin/refunds/refundrequest/{refund.pk}/change/", "[data-testid=state]"),
        ("/admin/reports/dashboard/", "#dashboard"),
    ):
        page.goto(path)
        page.wait_for_selector(ready)
        if "/change/" in path:
            page.click("button[data-tab=log]")  # Alpine.js tabs (needs 'unsafe-eval')
            page.wait_for_selector("button[data-tab=log].is-active")
            page.click('summary[data-action="start_review"]')  # an action's dialog opens
            page.wait_for_selector('form[data-form="start_review"]', state="visible")
        seen.extend(page.evaluate("window.__csp"))
    assert seen == [] and messages == [], seen + messages
