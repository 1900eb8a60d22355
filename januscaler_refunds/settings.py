"""Settings for Januscaler Refunds: one file, read from the environment.

Every variable is documented in README.md ("Configuration"). Parsers are
strict: a malformed value stops the process at start-up rather than being
silently replaced by a default.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


# --- Core -------------------------------------------------------------------

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "unfold",
    "unfold.contrib.filters",
    "unfold.contrib.import_export",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_fsm",
    "import_export",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "januscaler_refunds.accounts",
    "januscaler_refunds.billing",
    "januscaler_refunds.refunds",
    "januscaler_refunds.chargebacks",
    "januscaler_refunds.intake",
    "januscaler_refunds.deadlines",
    "januscaler_refunds.reports",
    "januscaler_refunds.ops",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "januscaler_refunds.ops.logging.RequestContextMiddleware",
    "januscaler_refunds.accounts.middleware.SecondFactorRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "januscaler_refunds.errors.StyledErrorPagesMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a lockout raised during sign-in into the 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "januscaler_refunds.urls"
WSGI_APPLICATION = "januscaler_refunds.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
# SQLite under var/ is the zero-configuration default; PostgreSQL in production
# and CI via DATABASE_URL=postgres://user@host:5432/name.

DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'januscaler.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 0))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Wait for a writer instead of failing at once: web, worker and beat share the file.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"
# The console's address; moving it off /admin/ keeps scanners away from the login form.
ADMIN_URL = os.environ.get("ADMIN_URL", "admin/")
if not ADMIN_URL.endswith("/") or ADMIN_URL.startswith("/"):
    raise ImproperlyConfigured(f"ADMIN_URL must end with '/' and not start with one, got {ADMIN_URL!r}")

# Sign-in hardening (SECURITY.md, docs/security.md). django-axes locks a username+IP pair after
# AXES_FAILURE_LIMIT failures for AXES_COOLOFF_MINUTES; behind a proxy, TRUSTED_PROXY_COUNT=1 takes
# the client address from the last X-Forwarded-For entry (the one our proxy wrote).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# The lock lasts AXES_COOLOFF_MINUTES from the lockout; tries during it do not extend it.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_ENABLE_ADMIN = False  # listed by januscaler_refunds.accounts in the admin's own look
AXES_CLIENT_IP_CALLABLE = "januscaler_refunds.accounts.client_ip.client_ip"
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
if TRUSTED_PROXY_COUNT not in (0, 1):
    raise ImproperlyConfigured(f"TRUSTED_PROXY_COUNT must be 0 or 1, got {TRUSTED_PROXY_COUNT}")
# Roles (group names, or "superuser") that must pass a TOTP second factor before any admin page.
# Default: managers and finance in production; nobody with DEBUG on, so the one-command demo
# (`scripts/dev.py start`, demo users) works without an authenticator app.
OTP_REQUIRED_ROLES = env_list("OTP_REQUIRED_ROLES", [] if DEBUG else ["manager", "finance"])
OTP_TOTP_ISSUER = "Januscaler Refunds"
# Idle sessions end after 8 hours; each request moves the expiry.
SESSION_COOKIE_AGE = env_int("SESSION_IDLE_SECONDS", 8 * 60 * 60)
SESSION_SAVE_EVERY_REQUEST = True
SESSION_COOKIE_HTTPONLY = True

# --- Time and language -----------------------------------------------------------
# The policy counts days in the company's zone (policy-decisions.md, "Time").

LANGUAGE_CODE = "en-gb"
TIME_ZONE = os.environ.get("TIME_ZONE", "Asia/Kolkata")
USE_I18N = True
# One date-time format everywhere (formats/en_GB): "7 May 2026, 19:31", company time.
FORMAT_MODULE_PATH = ["januscaler_refunds.formats"]
USE_TZ = True

# --- Static and media files -----------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
DATA_UPLOAD_MAX_MEMORY_SIZE = 30 * 1024 * 1024
# Uploads above 256 KiB are spooled to a temporary file; refunds.documents then reads them in chunks
# and refuses one past MAX_DOCUMENT_BYTES, so a huge upload never sits in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024
MAX_DOCUMENT_BYTES = env_int("MAX_DOCUMENT_BYTES", 10 * 1024 * 1024)

# --- Email ------------------------------------------------------------------------

# The default logs one line per message, never the body (januscaler_refunds/ops/mail.py).
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "januscaler_refunds.ops.mail.LogEmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Januscaler Billing <billing@januscaler.com>")
BILLING_QUEUE_EMAIL = os.environ.get("BILLING_QUEUE_EMAIL", "billing@januscaler.com")

# --- Celery -------------------------------------------------------------------------
# Redis in production and CI. Without REDIS_URL/CELERY_BROKER_URL the broker is
# kombu's filesystem transport under var/, so a fresh machine runs web, worker
# and beat with no server to install.

REDIS_URL = os.environ.get("REDIS_URL", "")
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or REDIS_URL or "filesystem://"
# Every task's hard limit (the export sets its own, longer one: see docs/operations.md).
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 15 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 14 * 60)
# Redis hands an unacknowledged message to another worker after this long: a task lost with a killed
# worker comes back within it. It must exceed the task time limit (a running task is not handed out
# twice) and every retry countdown (an ETA message waits unacknowledged), hence the cap below.
CELERY_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", 20 * 60)
CELERY_RETRY_COUNTDOWN_MAX = env_int("CELERY_RETRY_COUNTDOWN_MAX", CELERY_VISIBILITY_TIMEOUT // 2)
if CELERY_VISIBILITY_TIMEOUT <= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured(
        f"CELERY_VISIBILITY_TIMEOUT ({CELERY_VISIBILITY_TIMEOUT}) must exceed CELERY_TASK_TIME_LIMIT ({CELERY_TASK_TIME_LIMIT})"
    )
if not 0 < CELERY_RETRY_COUNTDOWN_MAX < CELERY_VISIBILITY_TIMEOUT:
    raise ImproperlyConfigured("CELERY_RETRY_COUNTDOWN_MAX must be positive and below CELERY_VISIBILITY_TIMEOUT")
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = VAR_DIR / "celery-broker"
    for _sub in ("out", "processed"):
        (_queue_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir / "out"),
        "data_folder_out": str(_queue_dir / "out"),
        "processed_folder": str(_queue_dir / "processed"),
        "store_processed": False,
        # kombu's broadcast (pidbox) files; under var/, which git ignores.
        "control_folder": str(_queue_dir / "control"),
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
        # A task a killed worker left unacknowledged comes back once its visibility timeout has
        # passed, at the next sweep. kombu's default sweep period is interval x throttle = 10 s x 10
        # = 100 s; sweep every quarter of the timeout (at most a minute) and scan on every sweep, so
        # a lost task returns within ~1.25x the visibility timeout (docs/operations.md).
        "unacked_restore_interval": max(1, min(60, CELERY_VISIBILITY_TIMEOUT // 4)),
        "unacked_restore_throttle": 1,
    }
# The web process must not hang on a dead broker: fail fast, and the caller decides (docs/operations.md).
CELERY_BROKER_CONNECTION_TIMEOUT = env_int("CELERY_BROKER_CONNECTION_TIMEOUT", 3)
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_ENABLE_UTC = True
# Acknowledge late only where a task says it is idempotent (each declares acks_late=True); a worker
# that dies mid-task then hands it back instead of losing it.
CELERY_TASK_ACKS_LATE = False
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
DEADLINE_SCAN_MINUTES = env_int("DEADLINE_SCAN_MINUTES", 15)
if not 1 <= DEADLINE_SCAN_MINUTES <= 59:
    raise ImproperlyConfigured(f"DEADLINE_SCAN_MINUTES must be between 1 and 59, got {DEADLINE_SCAN_MINUTES}")
# Test-only knobs (tests/deadlines): a seconds interval instead of the crontab, a slow scan.
DEADLINE_SCAN_SECONDS = env_int("DEADLINE_SCAN_SECONDS", 0)
DEADLINE_SCAN_TEST_DELAY = env_int("DEADLINE_SCAN_TEST_DELAY", 0)
DEADLINE_SCAN_TEST_MARKER = os.environ.get("DEADLINE_SCAN_TEST_MARKER", "")
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "celery")
# Long exports run on a queue of their own (Procfile "exports" line) so customer mail never waits
# behind them.
CELERY_EXPORT_QUEUE = os.environ.get("CELERY_EXPORT_QUEUE", "exports")
CELERY_TASK_ROUTES = {"reports.run_export": {"queue": CELERY_EXPORT_QUEUE}}
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(VAR_DIR / "emails"))
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    # Customer mail made while the broker was down is sent once it is back.
    "refunds-resend-queued-messages": {
        "task": "januscaler_refunds.refunds.tasks.resend_queued_customer_messages",
        "schedule": 600.0,
    },
}
# Liveness for GET /health/ (januscaler_refunds/ops): worker and beat stamp a row this often; the
# check calls a process down after three missed stamps. Beat wakes at least this often to stamp.
HEARTBEAT_SECONDS = env_int("HEARTBEAT_SECONDS", 30)
CELERY_BEAT_SCHEDULER = "januscaler_refunds.ops.heartbeat:HeartbeatScheduler"
CELERY_BEAT_MAX_LOOP_INTERVAL = HEARTBEAT_SECONDS

# Deadline scan and managers' digest (docs/deadlines.md), crontabs in CELERY_TIMEZONE (Kolkata).
# A beat task that waited past its next run is dropped (expires): the next run does the same work.
CELERY_BEAT_SCHEDULE["deadlines-scan"] = {
    "task": "januscaler_refunds.deadlines.tasks.scan_deadlines",
    "schedule": float(DEADLINE_SCAN_SECONDS) if DEADLINE_SCAN_SECONDS else crontab(minute=f"*/{DEADLINE_SCAN_MINUTES}"),
    "options": {"expires": float(DEADLINE_SCAN_SECONDS or DEADLINE_SCAN_MINUTES * 60)},
}
# The dashboard's day figures are exact at every moment; folding their deltas keeps them small.
CELERY_BEAT_SCHEDULE["reports-fold-day-figures"] = {
    "task": "reports.fold_day_figures",
    "schedule": 600.0,
    "options": {"expires": 600.0},
}
CELERY_BEAT_SCHEDULE["deadlines-manager-digest"] = {
    "task": "januscaler_refunds.deadlines.tasks.send_manager_digest",
    "schedule": crontab(hour=9, minute=0),
}

# --- Email intake (docs/intake.md) ---------------------------------------------------------
# IMAP_URL: imaps://user:password@host:993/INBOX (or imap://... without TLS); empty disables polling.

IMAP_URL = os.environ.get("IMAP_URL", "")
if IMAP_URL and not IMAP_URL.startswith(("imap://", "imaps://")):
    raise ImproperlyConfigured(f"IMAP_URL must start with imap:// or imaps://, got {IMAP_URL.split(':', 1)[0]!r}")
IMAP_POLL_SECONDS = env_int("IMAP_POLL_SECONDS", 120)
IMAP_TIMEOUT_SECONDS = env_int("IMAP_TIMEOUT_SECONDS", 60)
# After a failed poll the next waits twice as long, up to this; managers are emailed at once for a
# missing mailbox or refused login, after this many failures in a row when the server is unreachable.
IMAP_MAX_BACKOFF_SECONDS = env_int("IMAP_MAX_BACKOFF_SECONDS", 3600)
IMAP_ALERT_AFTER_FAILURES = env_int("IMAP_ALERT_AFTER_FAILURES", 3)
# Shared secret of the inbound-mail webhook; the endpoint refuses every call while it is empty.
INBOUND_WEBHOOK_SECRET = os.environ.get("INBOUND_WEBHOOK_SECRET", "")
INTAKE_MAX_MESSAGE_BYTES = env_int("INTAKE_MAX_MESSAGE_BYTES", 25 * 1024 * 1024)
INTAKE_MAX_STORED_BYTES = env_int("INTAKE_MAX_STORED_BYTES", 64 * 1024 * 1024)
if IMAP_URL:
    CELERY_BEAT_SCHEDULE["intake-poll-imap"] = {
        "task": "januscaler_refunds.intake.tasks.poll_imap_mailbox",
        "schedule": float(IMAP_POLL_SECONDS),
    }

# --- Logging ------------------------------------------------------------------------
# Every line names the request id or task id and the user (januscaler_refunds/ops/logging.py);
# LOG_FORMAT=json makes each line one JSON object. Celery leaves the root logger to this config.

LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain")
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, got {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "januscaler_refunds.ops.logging.ContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(context)s] %(message)s"},
        "json": {"()": "januscaler_refunds.ops.logging.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Chargebacks (docs/chargebacks.md) ---------------------------------------------------
# A suspension (section 6.1) is POSTed to CHARGEBACK_WEBHOOK_URL, signed with HMAC-SHA256 under
# CHARGEBACK_WEBHOOK_SECRET; empty URL: events are stored but not sent.

CHARGEBACK_WEBHOOK_URL = os.environ.get("CHARGEBACK_WEBHOOK_URL", "")
if CHARGEBACK_WEBHOOK_URL and not CHARGEBACK_WEBHOOK_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured("CHARGEBACK_WEBHOOK_URL must start with http:// or https://")
CHARGEBACK_WEBHOOK_SECRET = os.environ.get("CHARGEBACK_WEBHOOK_SECRET", "")
if CHARGEBACK_WEBHOOK_URL and not CHARGEBACK_WEBHOOK_SECRET:
    if not DEBUG:
        raise ImproperlyConfigured("CHARGEBACK_WEBHOOK_SECRET must be set when CHARGEBACK_WEBHOOK_URL is")
    CHARGEBACK_WEBHOOK_SECRET = "insecure-development-webhook-secret"
CHARGEBACK_WEBHOOK_TIMEOUT_SECONDS = env_int("CHARGEBACK_WEBHOOK_TIMEOUT_SECONDS", 10)
CHARGEBACK_WEBHOOK_MAX_RETRIES = env_int("CHARGEBACK_WEBHOOK_MAX_RETRIES", 8)
CHARGEBACK_EVIDENCE_BUSINESS_DAYS = env_int("CHARGEBACK_EVIDENCE_BUSINESS_DAYS", 7)
CHARGEBACK_EVIDENCE_NEAR_BUSINESS_DAYS = env_int("CHARGEBACK_EVIDENCE_NEAR_BUSINESS_DAYS", 2)
CELERY_BEAT_SCHEDULE["chargebacks-scan-evidence-due"] = {
    "task": "januscaler_refunds.chargebacks.tasks.scan_evidence_due",
    "schedule": crontab(minute=5),
}

# --- Admin look (django-unfold) ---------------------------------------------------------


def _admin_link(name: str, query: str = "") -> object:
    """A sidebar link to a named URL, or "" while the app that owns it is not built yet."""

    def link(request: object) -> str:
        from django.urls import NoReverseMatch, reverse

        try:
            return reverse(name) + query
        except NoReverseMatch:
            return ""

    return link


def _static(path: str) -> object:
    def url(request: object) -> str:
        from django.templatetags.static import static

        return static(path)

    return url


def _visible(name: str, perm: str | None = None) -> object:
    """Show a sidebar item only when its URL exists and the user holds ``perm``."""

    def check(request: object) -> bool:
        if not _admin_link(name)(request):  # type: ignore[operator]
            return False
        return perm is None or request.user.has_perm(perm)  # type: ignore[attr-defined]

    return check


UNFOLD = {
    "SITE_TITLE": "Januscaler Refunds",
    "SITE_HEADER": "Januscaler Refunds",
    "SITE_SUBHEADER": "Billing back-office",
    "SITE_SYMBOL": "currency_exchange",
    "SHOW_HISTORY": True,
    "SHOW_VIEW_ON_SITE": False,
    # The admin index: the user's start-of-day figures (templates/admin/index.html).
    "DASHBOARD_CALLBACK": "januscaler_refunds.reports.index.dashboard_callback",
    "STYLES": [_static("css/console.css")],
    "COLORS": {
        "primary": {
            "50": "238 242 255", "100": "224 231 255", "200": "199 210 254", "300": "165 180 252",
            "400": "129 140 248", "500": "99 102 241", "600": "79 70 229", "700": "67 56 202",
            "800": "55 48 163", "900": "49 46 129", "950": "30 27 75",
        },
    },
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": True,
        "navigation": [
            {
                "title": "Review",
                "items": [
                    {
                        "title": "Refund queue",
                        "icon": "inbox",
                        "link": _admin_link("admin:refunds_refundrequest_changelist"),
                        "permission": _visible("admin:refunds_refundrequest_changelist", "refunds.view_refundrequest"),
                    },
                    {
                        "title": "My requests",
                        "icon": "person",
                        "link": _admin_link("admin:refunds_refundrequest_changelist", "?assignee=mine"),
                        "permission": _visible("admin:refunds_refundrequest_changelist", "refunds.review_refundrequest"),
                        "active": False,
                    },
                    {
                        "title": "Log a request",
                        "icon": "add_circle",
                        "link": _admin_link("admin:refunds_refundrequest_add"),
                        "permission": _visible("admin:refunds_refundrequest_add", "refunds.add_refundrequest"),
                    },
                    {
                        "title": "Intake triage",
                        "icon": "move_to_inbox",
                        "link": _admin_link("admin:intake_triageitem_changelist"),
                        "permission": _visible("admin:intake_triageitem_changelist", "intake.view_triageitem"),
                    },
                    {
                        "title": "Deadline alerts",
                        "icon": "notifications_active",
                        "link": _admin_link("admin:deadlines_alert_changelist"),
                        "permission": _visible("admin:deadlines_alert_changelist", "deadlines.view_alert"),
                    },
                ],
            },
            {
                "title": "Money out",
                "items": [
                    {
                        "title": "Payouts",
                        "icon": "payments",
                        "link": _admin_link("admin:refunds_payout_changelist"),
                        "permission": _visible("admin:refunds_payout_changelist", "refunds.view_payout"),
                    },
                    {
                        "title": "Account credits",
                        "icon": "account_balance_wallet",
                        "link": _admin_link("admin:refunds_accountcredit_changelist"),
                        "permission": _visible("admin:refunds_accountcredit_changelist", "refunds.view_accountcredit"),
                    },
                    {
                        "title": "Approval limits",
                        "icon": "tune",
                        "link": _admin_link("admin:refunds_approvallimit_changelist"),
                        "permission": _visible("admin:refunds_approvallimit_changelist", "refunds.view_approvallimit"),
                    },
                ],
            },
            {
                "title": "Billing facts",
                "collapsible": True,
                "items": [
                    {
                        "title": title,
                        "icon": icon,
                        "link": _admin_link(f"admin:{model}_changelist"),
                        "permission": _visible(f"admin:{model}_changelist", perm),
                    }
                    for title, icon, model, perm in (
                        ("Customers", "group", "billing_customer", "billing.view_customer"),
                        ("Invoices", "receipt_long", "billing_invoice", "billing.view_invoice"),
                        ("Chargebacks", "gpp_maybe", "chargebacks_chargeback", "chargebacks.view_chargeback"),
                        ("Policy versions", "policy", "billing_policyversion", "billing.view_policyversion"),
                        ("Company holidays", "event_busy", "billing_companyholiday", "billing.view_companyholiday"),
                    )
                ],
            },
            {
                "title": "Reports",
                "items": [
                    {
                        "title": "Dashboard",
                        "icon": "monitoring",
                        "link": _admin_link("reports:dashboard"),
                        "permission": _visible("reports:dashboard", "refunds.view_refundrequest"),
                    },
                    {
                        "title": "Transition log",
                        "icon": "history",
                        "link": _admin_link("admin:refunds_transitionlog_changelist"),
                        "permission": _visible("admin:refunds_transitionlog_changelist", "refunds.view_transitionlog"),
                    },
                    {
                        "title": "Customer messages",
                        "icon": "mail",
                        "link": _admin_link("admin:refunds_customermessage_changelist"),
                        "permission": _visible("admin:refunds_customermessage_changelist", "refunds.view_customermessage"),
                    },
                ],
            },
        ],
    },
}

# --- Production security (manage.py check --deploy; SECURITY.md) ------------------------
# Behind a TLS-terminating proxy, say which header marks an HTTPS request:
# SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO=https (only if the proxy always sets or strips it).

_proxy_header = os.environ.get("SECURE_PROXY_SSL_HEADER", "")
if _proxy_header:
    _name, _sep, _value = _proxy_header.partition("=")
    if not _sep or not _name.startswith("HTTP_") or not _value:
        raise ImproperlyConfigured(
            f"SECURE_PROXY_SSL_HEADER must look like HTTP_X_FORWARDED_PROTO=https, got {_proxy_header!r}"
        )
    SECURE_PROXY_SSL_HEADER = (_name, _value)
if not DEBUG:
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off")
    if len(SECRET_KEY) < 50:
        raise ImproperlyConfigured("SECRET_KEY must be at least 50 random characters when DEBUG is off")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 365 * 24 * 60 * 60)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
CSRF_COOKIE_HTTPONLY = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy on every response (django-csp 4). Unfold's Alpine.js is the standard
# build, which compiles x-data/@click expressions with the Function constructor: the admin needs
# 'unsafe-eval' for scripts (no inline <script> is allowed). Unfold and our templates set style
# attributes, hence 'unsafe-inline' for styles only. Images: the SVG charts are inline markup;
# data: covers the TOTP QR code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", "'unsafe-eval'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# --- Product ----------------------------------------------------------------------

DEMO_PASSWORD = os.environ.get("DEMO_PASSWORD", "demo")
# Admin exports of more rows than this run as a Celery task and are offered as a download.
EXPORT_ASYNC_THRESHOLD_ROWS = env_int("EXPORT_ASYNC_THRESHOLD_ROWS", 50_000)
# Admin imports of more rows than this run in the worker (billing.ImportJob) instead of the request.
IMPORT_ASYNC_ROWS = env_int("IMPORT_ASYNC_ROWS", 2_000)
