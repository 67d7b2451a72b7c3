"""The one settings module. Production differs from development only by env vars.

Every variable read here is listed once in README.md ("Configuration").
"""

import secrets
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_float, env_int, env_list, env_networks, env_str
from config.queues import QUEUES, ROUTES
from outreach.channels.registry import backend_conf, channels_load

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)
_DEV_SECRET = "dev-only-insecure-secret-key-change-me"
SECRET_KEY = env_str("SECRET_KEY", _DEV_SECRET if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is false.")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "crispy_forms",
    "crispy_bootstrap5",
    "rest_framework",
    # Only for the history of its migrations (keys were copied as digests into ApiToken).
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served by us (README: dependencies)
    "core",
    "intent",
    "contacts",
    "outreach",
    "deliverability",
    "anymail",
    "webhooks",
    "pipelines",
    "campaigns",
    "analytics",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.security.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "outreach.context_processors.sending_switch",
                "campaigns.context_processors.tasks_due",
                "contacts.accounts_views.user_menu",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
# Embedded default: a SQLite file, so `make run` needs no system service.
_default_db = f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
try:
    DATABASES = {
        "default": dj_database_url.parse(
            env_str("DATABASE_URL", _default_db),
            conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
            conn_health_checks=True,
        )
    }
except ValueError as exc:
    raise ImproperlyConfigured(f"Unexpected value DATABASE_URL: {exc}") from None

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite has no row locks: select_for_update is silently a no-op there. Correctness
    # comes from compare-and-set updates, IMMEDIATE transactions (one writer at a time)
    # and WAL so readers never block the writer. See docs/reliability.md#sqlite-embedded-default.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not :memory:, so live worker processes in tests share the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth, i18n, static ---------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# The app's own login (contacts/accounts_urls.py) for every active user; staff status only
# opens /admin/, which keeps its own login page.
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"
# Logins (the admin's included) lock for a username+IP after this many failures in a row.
AUTHENTICATION_BACKENDS = ["config.security.ThrottledModelBackend"]
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_LOCKOUT_MINUTES = env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1)

# --- HTTPS (what `manage.py check --deploy` asks for; set behind TLS in production) -----
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# Load balancers probe over plain HTTP inside the network (docs/operations.md).
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
if env_bool("SECURE_PROXY_SSL_HEADER", False):  # behind a proxy that sets X-Forwarded-Proto
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Uploaded media library files (outreach.MediaAsset): stored outside any web root, served by
# a view to users who may see them, and to platforms through signed links that expire.
MEDIA_ROOT = VAR_DIR
MEDIA_URL = "/files/"
MEDIA_LINK_MAX_AGE = env_int("MEDIA_LINK_MAX_AGE", 7 * 86400, minimum=60)

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- Redis (cache, optional pre-checks) --------------------------------------------
REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery -----------------------------------------------------------------------
# Embedded default: kombu's filesystem transport. It needs no system service, works across
# the processes `make run` starts on one machine, and loses nothing we care about: the
# database is the source of truth and the dispatcher re-offers any lost task.
_broker_dir = VAR_DIR / "broker"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("queue", "processed", "control"):
        (_broker_dir / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
        "polling_interval": 0.2,
    }
elif CELERY_BROKER_URL.split("://")[0] not in {
    "redis",
    "rediss",
    "amqp",
    "amqps",
    "pyamqp",
    "memory",
}:
    raise ImproperlyConfigured(
        f"Unexpected value CELERY_BROKER_URL={CELERY_BROKER_URL!r}: "
        "use filesystem://, redis://... or amqp://..."
    )
# Tasks are idempotent by compare-and-set on their row, so redelivery is harmless and a
# worker killed mid-task gives its message back (docs/reliability.md#worker-killed-mid-task).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Even at a multiplier of 1 a worker holds one message beyond the task it runs: a reply
# queued behind a worker busy with a long import waited for the import to end while the
# other workers sat idle (docs/performance.md#inbound-processing). Redis only (Celery
# ignores it elsewhere, with a warning).
CELERY_WORKER_DISABLE_PREFETCH = CELERY_BROKER_URL.startswith(("redis://", "rediss://"))
# Celery's Django fixup closes the database connection after every task unless told to
# reuse it; a reconnect per send cut throughput about threefold
# (docs/performance.md#database-connections-in-celery-workers).
CELERY_DB_REUSE_MAX = 100
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 90
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_REDIRECT_STDOUTS_LEVEL = "INFO"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Queues by urgency; which task goes where is decided in config/queues.py only.
CELERY_TASK_ROUTES = ROUTES

# --- Health, readiness, metrics (config/health.py, config/metrics.py) ------------------
# The queues /readyz wants at least one live worker on, and /metrics reports the depth of.
READY_QUEUES = env_list("READY_QUEUES", list(QUEUES))
# Seconds between a worker's heartbeats (config/worker_beat.py); /readyz counts a worker
# gone after three missed ones.
WORKER_HEARTBEAT_SECONDS = env_float("WORKER_HEARTBEAT_SECONDS", 10.0, minimum=0.5)
# /readyz turns unready when the oldest due step has waited longer than this.
READY_DISPATCH_LAG_SECONDS = env_float("READY_DISPATCH_LAG_SECONDS", 300.0, minimum=1.0)
# Bearer token of /metrics; empty: /metrics answers 404.
METRICS_TOKEN = env_str("METRICS_TOKEN", "")

DISPATCH_INTERVAL = env_float("DISPATCH_INTERVAL", 2.0, minimum=0.05)
# Seconds between IMAP polls of each email sender's mailbox (those with an IMAP host).
MAILBOX_POLL_INTERVAL = env_float("MAILBOX_POLL_INTERVAL", 60.0, minimum=1.0)
CELERY_BEAT_SCHEDULE = {
    "dispatch-tick": {
        "task": "campaigns.tasks.dispatch_tick",
        "schedule": DISPATCH_INTERVAL,
        # A tick that waited longer than one interval is stale; the next one replaces it.
        "options": {"expires": max(DISPATCH_INTERVAL * 5, 5)},
    },
    "inbound-sweep": {
        "task": "outreach.tasks.sweep_inbound_events",
        "schedule": 60.0,
        "options": {"expires": 60},
    },
    "inbound-media-sweep": {  # downloads of inbound media whose task was lost
        "task": "outreach.tasks.sweep_inbound_media",
        "schedule": 300.0,
        "options": {"expires": 300},
    },
    "webhook-retries": {
        "task": "webhooks.tasks.deliver_due_webhooks",
        "schedule": 10.0,
        "options": {"expires": 10},
    },
    "message-retention": {
        "task": "campaigns.tasks.blank_old_message_bodies",
        "schedule": 3600.0,
        "options": {"expires": 3600},
    },
    "mailbox-poll": {
        "task": "outreach.tasks.poll_mailboxes",
        "schedule": MAILBOX_POLL_INTERVAL,
        "options": {"expires": MAILBOX_POLL_INTERVAL},
    },
    "whatsapp-sync": {
        "task": "deliverability.tasks.sync_whatsapp_accounts",
        "schedule": 86400.0,
        "options": {"expires": 3600},
    },
    "sending-domains-check": {  # SPF, DKIM, DMARC of every email sender's domain, daily
        "task": "deliverability.tasks.check_sending_domains",
        "schedule": 86400.0,
        "options": {"expires": 3600},
    },
    "lost-jobs-sweep": {  # long jobs (imports) whose run stopped proving it is alive
        "task": "contacts.tasks.sweep_lost_imports",
        "schedule": 60.0,
        "options": {"expires": 60},
    },
    "worker-heartbeat": {
        "task": "outreach.tasks.worker_heartbeat",
        "schedule": 30.0,
        "options": {"expires": 30},
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- Engine ------------------------------------------------------------------------
# Keys for credentials at rest (Fernet). First key encrypts; all keys decrypt, so a new key
# can be prepended and old rows re-encrypted with `manage.py rotate_credentials`.
CREDENTIALS_KEYS = env_list("CREDENTIALS_KEYS", [])
# Pepper of the hashed suppressions an erasure leaves behind; set it apart from SECRET_KEY
# so rotating SECRET_KEY does not forget who must never be contacted again.
SUPPRESSION_PEPPER = env_str("SUPPRESSION_PEPPER", SECRET_KEY)
# Seconds after which a queued message whose Celery task never ran is offered again.
REQUEUE_AFTER = env_float("REQUEUE_AFTER", 120.0, minimum=0.1)
# Seconds after which a send that never recorded its outcome is marked "unknown".
SEND_GRACE = env_float("SEND_GRACE", 300.0, minimum=0.1)
# Long jobs (imports): seconds without a heartbeat after which a running job's task counts
# as lost and the sweeper resumes it from its last committed chunk; after JOB_MAX_LOST_RUNS
# lost runs in a row without progress it is marked failed with the reason.
JOB_STALE_AFTER = env_float("JOB_STALE_AFTER", 300.0, minimum=1.0)
JOB_MAX_LOST_RUNS = env_int("JOB_MAX_LOST_RUNS", 3, minimum=1)
# Rows an import commits at a time: its checkpoint, and at most what a lost run redoes.
IMPORT_BATCH_SIZE = env_int("IMPORT_BATCH_SIZE", 10_000, minimum=1)
# Optional per-contact cap across all campaigns: at most N messages in 24 h (0 = off).
CONTACT_DAILY_MESSAGE_CAP = env_int("CONTACT_DAILY_MESSAGE_CAP", 0, minimum=0)

# --- Seams between apps ---------------------------------------------------------------
# Dotted paths of what the apps above are told of by outreach (outreach/seams.py:
# OutreachEvents: sends, failures, replies, engagements) and contacts (contacts/seams.py:
# ContactsEvents: opt-outs, imports); docs/architecture.md "Seams between apps". Loaded once.
OUTREACH_EVENTS = env_str("OUTREACH_EVENTS", "campaigns.seams.CampaignEvents")
CONTACTS_EVENTS = env_str("CONTACTS_EVENTS", "campaigns.seams.CampaignContactEvents")

# --- Inbox and reply intent -----------------------------------------------------------
# Dotted path of the reply-intent classifier (intent/): a class with classify().
INTENT_CLASSIFIER = env_str("INTENT_CLASSIFIER", "intent.rules.RuleClassifier")
# Minutes a rep has to answer an open conversation before it shows as over its SLA.
INBOX_SLA_MINUTES = env_int("INBOX_SLA_MINUTES", 240, minimum=1)
# Days an out-of-office reply without a return date pauses the sequence.
OUT_OF_OFFICE_DEFAULT_DAYS = env_int("OUT_OF_OFFICE_DEFAULT_DAYS", 7, minimum=1)
# Soft bounces (mailbox full, gave up after retrying) of one address before it counts as hard.
SOFT_BOUNCE_LIMIT = env_int("SOFT_BOUNCE_LIMIT", 3, minimum=1)
# Seconds before a soft-bounced message is sent again; doubled for each later soft bounce.
SOFT_BOUNCE_RETRY_AFTER = env_int("SOFT_BOUNCE_RETRY_AFTER", 3600, minimum=1)

# Every channel the engine knows: the dotted path of each one's description, a Channel
# declared by its package under outreach/channels/<name>/ (outreach/channels/registry.py;
# docs/channels.md#adding-a-channel). Adding a channel is its package plus one entry here.
CHANNELS = env_list(
    "CHANNELS",
    [
        "outreach.channels.email.CHANNEL",
        "outreach.channels.whatsapp.CHANNEL",
        "outreach.channels.meta.INSTAGRAM",
        "outreach.channels.meta.MESSENGER",
        "outreach.channels.x.CHANNEL",
        "outreach.channels.telegram.CHANNEL",
        "outreach.channels.manual.LINKEDIN",
        "outreach.channels.manual.TIKTOK",
        "outreach.channels.manual.SNAPCHAT",
        "outreach.channels.manual.CALL",
    ],
)
# One backend for every automated channel: handy for the demo and for tests.
CHANNEL_BACKEND = env_str("CHANNEL_BACKEND", "")
FAKE_PLATFORM_URL = env_str("FAKE_PLATFORM_URL", "http://127.0.0.1:8765")

# Base of the links in emails (one-click unsubscribe); by default the address `make run`
# serves the web process on, so the links work whatever WEB_PORT it was given.
WEB_PORT = env_int("WEB_PORT", 8000, minimum=1)
PUBLIC_URL = env_str("PUBLIC_URL", f"http://127.0.0.1:{WEB_PORT}")
# How the email backend hands mail over: SMTP in production; `make run` prints it instead.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
# Signs each outgoing email (DKIM in the app, deliverability/dkim.py); empty: no signing.
EMAIL_MESSAGE_SIGNER = env_str("EMAIL_MESSAGE_SIGNER", "deliverability.dkim.message_sign")
# Name servers for the sending-domain DNS checks, "ip[:port],…"; empty: the system's.
DNS_NAMESERVERS = env_list("DNS_NAMESERVERS", [])
DNS_TIMEOUT = env_float("DNS_TIMEOUT", 5.0, minimum=0.1)  # seconds per look-up
# The SPF mechanism your SMTP provider documents (e.g. include:_spf.example.net), added to
# the SPF record the domain page tells you to publish; empty: "mx".
SPF_INCLUDE = env_str("SPF_INCLUDE", "")
# Email through an ESP (a sender whose transport is Postmark, Mailgun, SendGrid, Brevo or
# Amazon SES; docs/deliverability.md#esps): django-anymail's backends send, its webhooks at
# /anymail/<esp>/tracking/ and /anymail/<esp>/inbound/ answer. Every webhook needs the
# basic-auth "user:password" ANYMAIL_WEBHOOK_SECRET in its URL; unset, a random one nobody
# knows refuses them all. Mailgun's are also checked with its HTTP webhook signing key,
# SendGrid's with its signed-webhook public key when given. *_API_URL: another API host
# (a regional one, or the tests' fake ESP).
ANYMAIL: dict[str, Any] = {
    "WEBHOOK_SECRET": env_str("ANYMAIL_WEBHOOK_SECRET", "") or secrets.token_urlsafe(32),
    **{
        name: value
        for name in (
            "MAILGUN_WEBHOOK_SIGNING_KEY",
            "SENDGRID_TRACKING_WEBHOOK_VERIFICATION_KEY",
            "POSTMARK_API_URL",
            "MAILGUN_API_URL",
            "SENDGRID_API_URL",
            "BREVO_API_URL",
            # Brevo's inbound webhook downloads attachments through the API with this key.
            "BREVO_API_KEY",
        )
        if (value := env_str(name, ""))
    },
    # boto3's client for Amazon SES (and SNS, to confirm a tracking subscription): its
    # region, and another endpoint when set (a test's fake ESP). SNS confirmations use the
    # standard AWS credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY); each sender's
    # own key sends its mail.
    "AMAZON_SES_CLIENT_PARAMS": {
        "region_name": env_str("AMAZON_SES_REGION", "us-east-1"),
        **({"endpoint_url": url} if (url := env_str("AMAZON_SES_ENDPOINT_URL", "")) else {}),
    },
}
# Inbound-email webhook bodies (raw RFC 5322, attachments included) up to this size are
# read; Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) would refuse a reply with a PDF.
INBOUND_EMAIL_MAX_BYTES = env_int("INBOUND_EMAIL_MAX_BYTES", 40 * 1024 * 1024, minimum=1024)
# Inbound media (images, voice notes, files people send us) is downloaded from the platform
# into the default storage (MEDIA_ROOT, under inbound/) by outreach/inbound_media.py: files
# over this size are refused; failed downloads are tried this many times in all, waiting
# INBOUND_MEDIA_RETRY_SECONDS, then twice as long each time.
INBOUND_MEDIA_MAX_BYTES = env_int("INBOUND_MEDIA_MAX_BYTES", 25 * 1024 * 1024, minimum=1024)
INBOUND_MEDIA_ATTEMPTS = env_int("INBOUND_MEDIA_ATTEMPTS", 6, minimum=1)
INBOUND_MEDIA_RETRY_SECONDS = env_float("INBOUND_MEDIA_RETRY_SECONDS", 10.0, minimum=0.1)
# Real platform backends (each channel's `backend`) instead of the console; PLATFORM_BASE_URL
# points every one of them but email at another host, e.g. the fake platform for the demo.
PLATFORM_BACKENDS = env_bool("PLATFORM_BACKENDS", False)
PLATFORM_BASE_URL = env_str("PLATFORM_BASE_URL", "")
# The real backends' options, by each channel's `secrets` entry.
CHANNEL_SECRETS: dict[str, dict[str, str | bool]] = {
    "meta": {
        "app_secret": env_str("META_APP_SECRET", ""),
        "verify_token": env_str("META_VERIFY_TOKEN", ""),
    },
    "x": {"consumer_secret": env_str("X_CONSUMER_SECRET", ""), "poll": env_bool("X_POLL", False)},
    "telegram": {"secret_token": env_str("TELEGRAM_WEBHOOK_SECRET", "")},
    "email": {"webhook_secret": env_str("EMAIL_WEBHOOK_SECRET", "")},
}
# X API pay-per-use prices in USD (since February 2026), for the forecast's cost of a
# campaign: PLACEHOLDERS, set them to the account's actual rates (docs/deliverability.md#costs).
X_PRICE_PER_DM = env_float("X_PRICE_PER_DM", 0.01, minimum=0.0)
X_PRICE_PER_EVENT_READ = env_float("X_PRICE_PER_EVENT_READ", 0.005, minimum=0.0)
# The backend of each channel (dotted path and options), from the settings above; a test or
# a deployment may replace any entry.
OUTREACH_CHANNELS: dict[str, dict] = {
    key: backend_conf(
        channel,
        secrets=CHANNEL_SECRETS,
        platform=PLATFORM_BACKENDS,
        base_url=PLATFORM_BASE_URL,
        override=CHANNEL_BACKEND,
    )
    for key, channel in channels_load(CHANNELS).items()
}

# --- REST API, outgoing webhooks, retention -------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.api_tokens.HashedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["core.api_support.RolePermissions"],
    "DEFAULT_THROTTLE_CLASSES": ["core.api_support.TokenRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "core.api_support.FilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api_support.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "DM Outreach Engine API",
    "VERSION": "1",
    "DESCRIPTION": "Token auth: `Authorization: Token <key>`. POSTs that create accept an "
    "`Idempotency-Key` header; a retry with the same key returns the first response.",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # /api/v1/docs/ loads Swagger UI from our static files, not a CDN: it works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
# Requests per API token, e.g. "600/min" (DRF rate syntax; counted in the cache, Redis).
API_RATE_LIMIT = env_str("API_RATE_LIMIT", "600/min")
# Days a token from POST /api/v1/token/ stays valid, and the tokens page's default (0 = never).
API_TOKEN_DEFAULT_DAYS = env_int("API_TOKEN_DEFAULT_DAYS", 90, minimum=0)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 8, minimum=1)
# First retry after this many seconds, doubling each time (capped at one hour).
WEBHOOK_BACKOFF_SECONDS = env_float("WEBHOOK_BACKOFF_SECONDS", 30.0, minimum=0.0)
WEBHOOK_TIMEOUT = env_float("WEBHOOK_TIMEOUT", 10.0, minimum=0.1)
# Outgoing webhooks go to public addresses only; these networks (an internal CRM) are let in
# despite that rule. Cloud metadata addresses never are (webhooks/targets.py).
WEBHOOK_ALLOWED_NETWORKS = env_networks("WEBHOOK_ALLOWED_NETWORKS")
# Message bodies older than this many days are blanked (0 keeps them forever).
MESSAGE_BODY_RETENTION_DAYS = env_int("MESSAGE_BODY_RETENTION_DAYS", 0, minimum=0)

# "json": one JSON object per line, through structlog (config/logs.py), carrying the ids the
# send and inbound paths bind; "plain" (default): the text lines below, the same ids appended
# as key=value.
LOG_FORMAT = env_str("LOG_FORMAT", "plain")
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"Unexpected value LOG_FORMAT={LOG_FORMAT!r}: use plain or json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {
            "()": "config.logs.PlainFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
        "json": {"()": "config.logs.json_formatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # httpx logs every request line at INFO, and some platform APIs (Telegram) put the
    # token in the URL: keep those lines out of the logs whatever LOG_LEVEL says.
    "loggers": {
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}
