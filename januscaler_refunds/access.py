"""Who may open what: the declared access table, reviewed like code (docs/access.md).

``tests/security/test_access_matrix.py`` walks every URL the resolver knows, fetches it as each role
and compares the outcome with this table; a URL without a row fails the test. Change a row only
together with the permission or admin code that makes it true, and say why in the commit.

Outcomes (GET): ``allow`` (2xx, or a redirect that is not to the login page), ``403``, ``login``
(redirect to the login page), ``404`` (the page does not exist for that user), ``405`` (wrong method).
"""

from __future__ import annotations

from collections.abc import Iterable

ANONYMOUS = "anonymous"
AGENT = "agent"
MANAGER = "manager"
FINANCE = "finance"
SUPERUSER = "superuser"
ROLES = (ANONYMOUS, AGENT, MANAGER, FINANCE, SUPERUSER)

ALLOW = "allow"
FORBIDDEN = "403"
LOGIN = "login"
NOT_FOUND = "404"
METHOD = "405"

Row = dict[str, str]

# Role sets used below (the anonymous visitor is never in one: admin pages send them to log in).
STAFF = frozenset({AGENT, MANAGER, FINANCE, SUPERUSER})
AGENTS = frozenset({AGENT, MANAGER, SUPERUSER})  # managers can do everything agents can
MANAGERS = frozenset({MANAGER, SUPERUSER})
FINANCE_TEAM = frozenset({FINANCE, SUPERUSER})
SUPER = frozenset({SUPERUSER})
NOBODY: frozenset[str] = frozenset()


def row(allowed: Iterable[str], *, anonymous: str = LOGIN, refused: str = FORBIDDEN) -> Row:
    """Allowed roles get ``allow``, other staff ``refused``, the anonymous visitor ``anonymous``."""
    allowed = set(allowed)
    result = {role: (ALLOW if role in allowed else refused) for role in ROLES if role != ANONYMOUS}
    result[ANONYMOUS] = anonymous
    return result


SKIP: Row = {}  # a URL another test owns; see OPTIONAL


def model_rows(
    app: str,
    model: str,
    *,
    view: frozenset[str],
    add: frozenset[str] = NOBODY,
    change: frozenset[str] = NOBODY,
    delete: frozenset[str] = NOBODY,
    import_: frozenset[str] | None = None,
    export: frozenset[str] | None = None,
) -> dict[str, Row]:
    """The standard admin pages of one model.

    ``view``: list, read-only change page and history; ``change``: saving the change form (its GET
    is allowed to viewers); ``import_``/``export``: only for admins that have those pages.
    """
    prefix = f"admin:{app}_{model}"
    seen = view | change
    rows = {
        f"{prefix}_changelist": row(seen),
        f"{prefix}_add": row(add),
        f"{prefix}_change": row(seen),
        f"{prefix}_history": row(seen),
        f"{prefix}_delete": row(delete),
        # /<id>/ only redirects to /<id>/change/ for any staff user; the change page decides.
        f"admin/{app}/{model}/<path:object_id>/": row(STAFF),
    }
    if import_ is not None:
        rows[f"{prefix}_import"] = row(import_)
        # POST only (GET: 405 for everyone); the POST check refuses it to the roles the import row refuses.
        rows[f"{prefix}_process_import"] = row(NOBODY, refused=METHOD)
    if export is not None:
        rows[f"{prefix}_export"] = row(export)
    return rows


TABLE: dict[str, Row] = {
    # --- outside the admin ---
    "/": row(STAFF, anonymous=ALLOW),  # redirects to /admin/
    "intake:inbound": row(NOBODY, anonymous=METHOD, refused=METHOD),  # POST only, with the shared secret
    "health": SKIP,  # public by design (no login, nothing secret; 200/503 by the parts' state): its own tests
    "media/(?P<path>.*)": SKIP,  # direct media serving is removed by issue 12 item 4 (its own tests)
    # --- the admin site itself ---
    "admin:login": row(STAFF, anonymous=ALLOW),
    "admin:logout": row(NOBODY, anonymous=ALLOW, refused=METHOD),  # POST only
    "admin:index": row(STAFF),
    "admin:search": row(STAFF),
    "admin:password_change": row(STAFF),
    "admin:password_change_done": row(STAFF),
    "admin:jsi18n": row(STAFF),
    "admin:autocomplete": row(NOBODY),  # without a valid field reference it refuses everyone
    "admin:view_on_site": row(NOBODY, refused=NOT_FOUND),  # no model has a public page
    "admin/(?P<url>.*)": row(NOBODY, refused=NOT_FOUND),
    # An app's index page lists the models the user may see; with none it does not exist for them.
    **{f"admin:app_list[{label}]": row(roles, refused=NOT_FOUND) for label, roles in {
        "auth": SUPER, "billing": STAFF, "chargebacks": STAFF, "refunds": STAFF, "intake": AGENTS,
        "deadlines": AGENTS, "reports": MANAGERS, "axes": MANAGERS, "otp_totp": SUPER}.items()},
    # --- reports (mounted under /admin/reports/) ---
    "reports:refund_export": row(MANAGERS),
    "reports:exports": row(STAFF),  # each user sees their own exports; managers all
    "reports:export_download": row(MANAGERS),  # the world's export belongs to the manager
    "reports:dashboard": row(STAFF),
    # --- users and roles: superusers only ---
    **model_rows("auth", "group", view=SUPER, add=SUPER, change=SUPER, delete=SUPER),
    **model_rows("auth", "user", view=SUPER, add=SUPER, change=SUPER, delete=SUPER),
    "admin:auth_user_password_change": row(SUPER),
    # --- billing facts: everyone reads them, managers keep them (and import them) ---
    # Customers and ledger entries are never deleted (their history is the record); a customer's
    # status changes only through the chargeback services.
    **model_rows("billing", "customer", view=STAFF, add=MANAGERS, change=MANAGERS, import_=MANAGERS),
    **model_rows("billing", "violation", view=STAFF, add=MANAGERS, change=MANAGERS, delete=SUPER,
                 import_=MANAGERS),
    # The world's invoice has a decided request: frozen, so nobody deletes it or its line.
    **model_rows("billing", "invoice", view=STAFF, add=MANAGERS, change=MANAGERS, import_=MANAGERS),
    **model_rows("billing", "invoiceline", view=STAFF, add=MANAGERS, change=MANAGERS, import_=MANAGERS),
    **model_rows("billing", "usagerecord", view=STAFF, add=MANAGERS, change=MANAGERS, delete=SUPER,
                 import_=MANAGERS),
    **model_rows("billing", "incident", view=STAFF, add=MANAGERS, change=MANAGERS, delete=SUPER,
                 import_=MANAGERS),
    **model_rows("billing", "abusereport", view=STAFF, add=MANAGERS, change=MANAGERS, delete=SUPER,
                 import_=MANAGERS),
    **model_rows("billing", "companyholiday", view=STAFF, add=MANAGERS, change=MANAGERS, delete=MANAGERS,
                 import_=MANAGERS),
    **model_rows("billing", "policyversion", view=STAFF, add=MANAGERS, change=MANAGERS),
    **model_rows("billing", "ledgerentry", view=STAFF),  # written by services only
    # Large admin imports run by the worker: a list only, each importer sees their own jobs.
    "admin:billing_importjob_changelist": row(MANAGERS),
    # --- chargebacks: managers and finance record them; only managers import or export them ---
    **model_rows("chargebacks", "chargeback", view=STAFF, add=frozenset({MANAGER, FINANCE, SUPERUSER}),
                 import_=MANAGERS, export=MANAGERS),
    **model_rows("chargebacks", "dispute", view=STAFF),
    "admin:chargebacks_dispute_evidence_pack": row({MANAGER, FINANCE, SUPERUSER}),
    **model_rows("chargebacks", "suspensionevent", view=STAFF),
    **model_rows("chargebacks", "webhookevent", view=MANAGERS),
    # --- intake ---
    **model_rows("intake", "inboundmessage", view=AGENTS),
    **model_rows("intake", "triageitem", view=AGENTS),
    "admin:intake_triageitem_attach": row(AGENTS),
    "admin:intake_triageitem_discard": row(AGENTS),
    "admin:intake_triageitem_attach_matched": row(NOBODY),  # POST only (resolve permission); GET is 403
    **model_rows("intake", "refundrequestimport", view=MANAGERS, import_=MANAGERS),
    **model_rows("intake", "mailboxhealth", view=MANAGERS),  # IMAP poll health, written by the poller; managers get its alerts
    # --- the review console ---
    **model_rows("refunds", "refundrequest", view=STAFF, add=AGENTS),
    # The console's own pages take POST only; GET is refused for everyone.
    **{f"admin:refunds_refundrequest_{name}": row(NOBODY, refused=METHOD)
       for name in ("transition", "reason", "overcharge", "note", "reevaluate", "documents", "payout_method")},
    "admin:refunds_refundrequest_document": row(STAFF),
    **model_rows("refunds", "transitionlog", view=STAFF),
    **model_rows("refunds", "payout", view=STAFF),
    **model_rows("refunds", "accountcredit", view=STAFF),
    **model_rows("refunds", "customermessage", view=STAFF),
    **model_rows("refunds", "approvallimit", view=AGENTS, add=MANAGERS, change=MANAGERS, delete=SUPER),
    # --- sign-in: lockouts for managers (deleting an attempt releases it), the second factor ---
    **model_rows("axes", "accessattempt", view=MANAGERS, delete=MANAGERS),
    **model_rows("axes", "accessfailurelog", view=MANAGERS),
    "accounts:otp_verify": row(STAFF),
    "accounts:otp_enrol": row(STAFF),
    # TOTP devices in the admin (django-otp's own admin): superusers only; users enrol themselves.
    **model_rows("otp_totp", "totpdevice", view=SUPER, add=SUPER, change=SUPER, delete=SUPER),
    "admin:otp_totp_totpdevice_config": row(SUPER),
    "admin:otp_totp_totpdevice_qrcode": row(SUPER),
    # --- deadlines and exports ---
    **model_rows("deadlines", "alert", view=AGENTS),
    **model_rows("deadlines", "digestrun", view=AGENTS),
    **model_rows("reports", "exportrecord", view=MANAGERS),
}

# Rows for URLs that exist only in some configurations (e.g. media in DEBUG).
OPTIONAL: set[str] = {"media/(?P<path>.*)"}


def expected(key: str) -> Row | None:
    return TABLE.get(key)
