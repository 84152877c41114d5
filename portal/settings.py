"""One settings module for both modes, driven by environment variables.

Embedded default (no variable set): SQLite in WAL mode, media under ./data, in-memory channel
layer, a Celery worker inside the server process on an in-memory broker, console email.
Services mode: DATABASE_URL (PostgreSQL), REDIS_URL (Celery + channels_redis), S3_* (storage),
EMAIL_URL/EMAIL_HOST (SMTP). PORTAL_ENV=production switches on the hardened deploy settings.
"""

from __future__ import annotations

import os
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def env_bool(name: str, default: bool = False) -> bool:
    value = env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = env(name)
    return int(value) if value is not None else default


PORTAL_ENV = env("PORTAL_ENV", "development")
PRODUCTION = PORTAL_ENV == "production"
DATA_DIR = Path(env("PORTAL_DATA_DIR", str(BASE_DIR / "data")))

DEBUG = env_bool("DEBUG", default=not PRODUCTION)
if PRODUCTION:
    SECRET_KEY = os.environ.get("SECRET_KEY", "")  # no default in production: fail loudly
    if not SECRET_KEY:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            "PORTAL_ENV=production needs SECRET_KEY in the environment (at least 50 random characters), e.g. "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(45))'"
        )
else:
    SECRET_KEY = env("SECRET_KEY", "dev-only-insecure-key-change-me-0123456789-abcdefghijklmnop")

ALLOWED_HOSTS = (env("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver") or "").split(",")
CSRF_TRUSTED_ORIGINS = [o for o in (env("CSRF_TRUSTED_ORIGINS", "") or "").split(",") if o]
# The audit chain's HMAC key (kept outside the database; unset: derived from SECRET_KEY) and where each
# chain's head is written at intervals (unset: the media storage, under audit-anchors/).
AUDIT_HMAC_KEY = env("AUDIT_HMAC_KEY", "")
AUDIT_ANCHOR_DIR = env("AUDIT_ANCHOR_DIR", "")

# Emailed links point here; unset, it follows the port `make run PORT=...` serves on (PORT).
SITE_URL = env("SITE_URL", f"http://127.0.0.1:{env('PORT', '8000')}")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "channels",
    "portal.core",
    "portal.accounts",
    "portal.studios",
    "portal.projects",
    "portal.footage",
    "portal.toolruns",
    "portal.characters",
    "portal.providers",
    "portal.review",
    "portal.webhooks",
    "portal.access",
    "portal.audit",
    "portal.jobs",
    "portal.live",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "portal.core.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Kept copies of signed-in pages and list APIs, served before the sign-in's queries while every
    # table they were made from is unchanged (portal/core/page_cache.py)
    "portal.core.page_cache.PageCacheMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "portal.core.middleware.RequestContextMiddleware",
    "portal.accounts.middleware.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Axes must be last: it turns lockouts raised by the backend into a response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
ASGI_APPLICATION = "portal.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.core.context_processors.portal",
            ],
        },
    }
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env("DATABASE_URL")
if DATABASE_URL:
    # A pool of connections per server process (psycopg_pool). Persistent connections (CONN_MAX_AGE)
    # never persisted under ASGI: Django runs each request in a thread of its own, so every request
    # opened a new PostgreSQL session (~3.5 ms plus the server's start-up). With the pool a request
    # borrows an open connection and gives it back when Django closes it. CONN_MAX_AGE must be 0
    # with a pool; connections are checked by the pool when they are handed out.
    # Size: the requests one process serves at once run in at most min(32, cores + 4) threads;
    # DATABASE_POOL_MAX_SIZE x server processes (+ workers) must stay under PostgreSQL's max_connections.
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
    # Not in Celery processes: the prefork pool forks its children from a parent that has set Django
    # up, and a pool opened there would hand one socket to several processes. Workers keep
    # persistent connections (each child is one thread, so those do persist).
    _argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path()
    CELERY_PROCESS = _argv0.name == "celery" or (_argv0.name == "__main__.py" and _argv0.parent.name == "celery")
    DATABASE_POOL = env_bool("DATABASE_POOL", not CELERY_PROCESS)
    if DATABASE_POOL:
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": env_int("DATABASE_POOL_MIN_SIZE", 2),
            "max_size": env_int("DATABASE_POOL_MAX_SIZE", 10),
            "timeout": env_int("DATABASE_POOL_TIMEOUT", 10),  # seconds a request waits for a free connection
            "max_idle": 300,
        }
    else:
        DATABASES["default"].update({"CONN_MAX_AGE": 60, "CONN_HEALTH_CHECKS": True})
    EMBEDDED = False
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env("SQLITE_PATH", str(DATA_DIR / "portal.sqlite3")),
            "OPTIONS": {
                # WAL lets readers proceed while the in-process worker writes; IMMEDIATE takes the
                # write lock at BEGIN so concurrent writers queue instead of failing mid-transaction.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
            # Tests run on a file too, not Django's shared-cache in-memory database: that one has no
            # busy timeout, so two threads writing at once fail with "table is locked" instead of
            # queueing the way the embedded default does.
            # One file per test process, so two test runs in one checkout never share a database.
            "TEST": {"NAME": env("SQLITE_TEST_PATH", os.path.join(tempfile.gettempdir(), f"portal-test-{os.getpid()}.sqlite3"))},
        }
    }
    EMBEDDED = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# --- Redis: Celery broker/results and channel layer ----------------------------------------
REDIS_URL = env("REDIS_URL")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    CHANNELS_REDIS_SOCKET_TIMEOUT = 30  # seconds; must stay above channels_redis's 5 s blocking read
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # redis-py's default read timeout (5 s) equals channels_redis's blocking read (5 s), so an
                # idle socket's receive timed out and dropped the websocket every 5 s: reads may wait
                # longer than the blocking read, and the connection is kept alive and health-checked.
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "socket_timeout": CHANNELS_REDIS_SOCKET_TIMEOUT,
                        "socket_connect_timeout": 5,
                        "socket_keepalive": True,
                        "health_check_interval": 15,
                    }
                ],
                "prefix": env("CHANNELS_PREFIX", "portal"),
            },
        }
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    CELERY_EMBEDDED_WORKER = False
else:
    CELERY_BROKER_URL = "memory://"
    CELERY_RESULT_BACKEND = "cache+memory://"
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # The ASGI server starts a thread-pool worker inside its own process (portal.celery).
    CELERY_EMBEDDED_WORKER = env_bool("CELERY_EMBEDDED_WORKER", default=True)

CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TIMEZONE = "UTC"

# --- Storage ----------------------------------------------------------------------------------
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(DATA_DIR / "media")))
MEDIA_URL = "/media/"  # never served directly: downloads go through authorizing views
STATIC_URL = "/static/"
# collectstatic target for production; in development WhiteNoise serves straight from the finders.
STATIC_ROOT = Path(env("STATIC_ROOT", str(BASE_DIR / "staticfiles"))) if PRODUCTION else None
STATICFILES_DIRS = [BASE_DIR / "static"]

S3_BUCKET = env("S3_BUCKET")
if S3_BUCKET:
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": env("S3_ENDPOINT_URL"),
            "region_name": env("S3_REGION", "us-east-1"),
            "access_key": env("S3_ACCESS_KEY_ID"),
            "secret_key": env("S3_SECRET_ACCESS_KEY"),
            "querystring_auth": True,
            "querystring_expire": 900,  # signed URLs live at most 15 minutes
            "signature_version": "s3v4",
            "file_overwrite": False,
            "default_acl": None,
        },
    }
    # signed media URLs point there: the pages' Content-Security-Policy allows that origin for media
    _endpoint = env("S3_ENDPOINT_URL") or f"https://{S3_BUCKET}.s3.{env('S3_REGION', 'us-east-1')}.amazonaws.com"
    CSP_STORAGE_ORIGINS = [_endpoint.rstrip("/")]
else:
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    CSP_STORAGE_ORIGINS = []

STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION

# --- Footage: uploads and ingest -------------------------------------------------------------
FOOTAGE_MAX_FILE_SIZE = env_int("FOOTAGE_MAX_FILE_SIZE", 50 * 1024**3)
TUS_EXPIRY_HOURS = env_int("TUS_EXPIRY_HOURS", 24)
# An upload that writes no byte for this long stops holding its declared size of the studio's quota.
TUS_IDLE_RELEASE_MINUTES = env_int("TUS_IDLE_RELEASE_MINUTES", 60)
# How long one PATCH may hold an upload before another request may take over.
TUS_LEASE_SECONDS = env_int("TUS_LEASE_SECONDS", 120)
TUS_CHECKSUM_ALGORITHMS = ("sha256",)
# Chunk size the browser uploader sends: small enough that a drop loses little, large enough to be fast.
TUS_BROWSER_CHUNK_SIZE = env_int("TUS_BROWSER_CHUNK_SIZE", 16 * 1024 * 1024)
# Scratch space for ingest and tool runs (chunks on object storage, probes, proxies).
FOOTAGE_TEMP_DIR = env("FOOTAGE_TEMP_DIR", str(DATA_DIR / "tmp"))
Path(FOOTAGE_TEMP_DIR).mkdir(parents=True, exist_ok=True)
FOOTAGE_INGEST_MAX_ATTEMPTS = 3
FOOTAGE_INGEST_LEASE_SECONDS = env_int("FOOTAGE_INGEST_LEASE_SECONDS", 600)
FOOTAGE_INGEST_SOFT_TIME_LIMIT = 60 * 60 * 3
FOOTAGE_INGEST_TIME_LIMIT = FOOTAGE_INGEST_SOFT_TIME_LIMIT + 120

# Periodic work: `celery -A portal beat` in services mode, a timer thread on the embedded default.
CELERY_BEAT_SCHEDULE = {
    "expire-uploads": {"task": "footage.expire_uploads", "schedule": 15 * 60},
    "email-notifications": {"task": "review.email_notifications", "schedule": 60},
    "recover-credentials": {"task": "review.recover_credentials", "schedule": 5 * 60},
    # every 15 s, the one recovery pass of every job kind (ingest, tool run): jobs queued when the
    # broker restarted are sent again within 30 s (a cheap pass)
    "recover-jobs": {"task": "jobs.recover", "schedule": 15},
    "audit-anchor": {"task": "audit.anchor_heads", "schedule": 5 * 60},
    # webhook deliveries that are due and whose message was lost (retries are also sent with a countdown)
    "webhooks-dispatch-due": {"task": "webhooks.dispatch_due", "schedule": 30},
}

# --- Tool runs (portal/toolruns) ---------------------------------------------------------------
TOOLRUNS_QUEUE = env("TOOLRUNS_QUEUE", "tools")
# Each job kind names its queue when it is sent (portal/jobs): tool runs go to TOOLRUNS_QUEUE.
# Extra tool packages besides studio_tools' built-ins (comma-separated module names with a TOOL).
TOOLRUNS_EXTRA_TOOL_PACKAGES = [p.strip() for p in (env("TOOLRUNS_EXTRA_TOOL_PACKAGES", "") or "").split(",") if p.strip()]
TOOLRUN_SOFT_TIME_LIMIT = env_int("TOOLRUN_SOFT_TIME_LIMIT", 2 * 60 * 60)
TOOLRUN_TIME_LIMIT = TOOLRUN_SOFT_TIME_LIMIT + 5 * 60
TOOLRUN_MAX_ATTEMPTS = 3  # a run that kills its worker this many times is failed, not retried forever
# The worker renews a run's lease every third of this; a lapsed lease means the worker died.
TOOLRUN_LEASE_SECONDS = env_int("TOOLRUN_LEASE_SECONDS", 90)
TOOLRUN_REDISPATCH_SECONDS = env_int("TOOLRUN_REDISPATCH_SECONDS", 10 * 60)
TOOLRUN_QUEUED_TIMEOUT_SECONDS = env_int("TOOLRUN_QUEUED_TIMEOUT_SECONDS", 24 * 60 * 60)
TOOLRUN_MAX_EVENTS_PER_SECOND = 4
TOOLRUN_CANCEL_CHECK_SECONDS = 1.0
if REDIS_URL:
    # Above every task's hard time limit (ingest: 3 h + 2 min), or Redis would hand a running job to
    # a second worker; portal/toolruns/checks.py refuses to start a worker otherwise.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 4 * 60 * 60)}

# --- Review ---------------------------------------------------------------------------------
# However many notes, replies and decisions happen, a person gets at most one email per project
# in this many minutes (the in-app list is immediate).
REVIEW_EMAIL_INTERVAL_MINUTES = env_int("REVIEW_EMAIL_INTERVAL_MINUTES", 5)

# --- Webhooks (portal/webhooks, docs/webhooks.md) ---------------------------------------------
# Signing secrets are stored encrypted with this key (comma-separated: the first encrypts, all decrypt,
# so a key can be rotated); unset, a key derived from SECRET_KEY.
WEBHOOKS_ENCRYPTION_KEYS = [k.strip() for k in (env("WEBHOOKS_ENCRYPTION_KEY", "") or "").split(",") if k.strip()] or [SECRET_KEY]
# Production always requires https and public addresses (the SSRF guard); elsewhere they can be relaxed
# for a receiver on this machine.
WEBHOOKS_REQUIRE_HTTPS = PRODUCTION or env_bool("WEBHOOKS_REQUIRE_HTTPS", False)
WEBHOOKS_ALLOW_LOCAL_ADDRESSES = (not PRODUCTION) and env_bool("WEBHOOKS_ALLOW_LOCAL_ADDRESSES", DEBUG)
WEBHOOKS_TIMEOUT_SECONDS = env_int("WEBHOOKS_TIMEOUT_SECONDS", 10)
# The queue deliveries go to (workers consume `default,tools`; a queue of their own keeps slow endpoints
# from delaying other work when dedicated workers consume it).
WEBHOOKS_QUEUE = env("WEBHOOKS_QUEUE", "default")
WEBHOOKS_LEASE_SECONDS = 60  # above the timeout: a claim that outlives it means the worker died
# Backoff after the n-th failure: base * 2^(n-1), at most the max delay, for a day after the event.
WEBHOOKS_RETRY_BASE_SECONDS = env_int("WEBHOOKS_RETRY_BASE_SECONDS", 30)
WEBHOOKS_RETRY_MAX_DELAY_SECONDS = env_int("WEBHOOKS_RETRY_MAX_DELAY_SECONDS", 2 * 60 * 60)
WEBHOOKS_RETRY_WINDOW_SECONDS = env_int("WEBHOOKS_RETRY_WINDOW_SECONDS", 24 * 60 * 60)
# After a secret rotation the old secret keeps signing (a second v1) this long by default.
WEBHOOKS_SECRET_GRACE_HOURS = 24
WEBHOOKS_SECRET_GRACE_MAX_HOURS = 7 * 24

# --- Email ------------------------------------------------------------------------------------
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "AI Studio Partner Portal <no-reply@portal.localhost>")
if env("EMAIL_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env("EMAIL_HOST")
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

# --- Auth, sessions, throttling, 2FA -----------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first, so a locked-out login never reaches the password check
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"

AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
# The lock is on the account: one account hammered from anywhere, or from one address. Never on an
# address alone: one careless person behind a shared office or studio address (NAT) locked out
# everyone behind it, across studios.
AXES_LOCKOUT_PARAMETERS = ["username", ["ip_address", "username"]]
AXES_USERNAME_FORM_FIELD = "username"
AXES_RESET_ON_SUCCESS = True
# The client address: X-Forwarded-For is believed only from the reverse proxies listed here
# (comma-separated addresses or CIDR ranges, e.g. "127.0.0.1,10.0.0.0/8"); none by default, so the
# header is ignored and nobody can forge their address into the lockout or the audit log.
AXES_CLIENT_IP_CALLABLE = "portal.core.request_context.client_ip"
TRUSTED_PROXIES = [entry.strip() for entry in env("TRUSTED_PROXIES", "").split(",") if entry.strip()]
AXES_LOCKOUT_CALLABLE = "portal.accounts.views.locked_out"
AXES_VERBOSE = False
AXES_ENABLE_ACCESS_FAILURE_LOG = False

OTP_TOTP_ISSUER = "AI Studio Partner Portal"

# Sessions are read on every signed-in request: from the cache (Redis in services mode, this process's
# memory on the embedded default, which is one process), with the database behind it as the record
# (a cache miss or a restarted Redis reads the row again). Writes and sign-out go to both, through the
# session engine; nothing deletes session rows behind its back. The user row is still read afresh on
# every request, so a disabled account or a changed password takes effect at once.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
# A signed-in user's marked pages and list APIs are kept rendered until a write to a table they read
# commits (portal/core/page_cache.py); at most PAGE_CACHE_SECONDS old in any case (each copy a random
# 50-100% of it).
PAGE_CACHE = env_bool("PAGE_CACHE", True)
PAGE_CACHE_SECONDS = env_int("PAGE_CACHE_SECONDS", 60)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 60 * 60 * 12
INVITATION_EXPIRY_DAYS = env_int("INVITATION_EXPIRY_DAYS", 7)
PASSWORD_RESET_TIMEOUT = 60 * 60 * 2

# --- REST API ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "portal.accounts.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "portal.core.schema.PortalAutoSchema",
    "DEFAULT_PAGINATION_CLASS": "portal.core.pagination.Pagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "portal.core.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "AI Studio Partner Portal API",
    "DESCRIPTION": "Studios, projects, members, invitations and the audit log of the partner portal.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "StudioRoleEnum": "portal.studios.models.StudioMembership.Role",
        "ProjectRoleEnum": "portal.projects.models.ProjectMembership.Role",
        "StudioStatusEnum": "portal.studios.models.Studio.Status",
        "ProjectStatusEnum": "portal.projects.models.Project.Status",
    },
}

# --- i18n -------------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("fr", _("French"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

# --- Production hardening (manage.py check --deploy: 0 warnings) ---------------------------
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # sign-in tokens in URLs (invitations, password resets) never reach a log line
    "filters": {"redact_secrets": {"()": "portal.core.logsafe.RedactSecrets"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact_secrets"]}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        "axes": {"level": "WARNING"},
        # Django's own default handler for "django" would print request errors (with their URLs) unredacted
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # the ASGI server's access log, through the same redacting handler
        "uvicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "uvicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

# --- Content credentials (C2PA) on approved generated outputs (portal/review/credentials.py) ---
# The platform's signing certificate chain (PEM: leaf first, then intermediates) and its private key
# (PEM), by file path; never in the database. Without them approval still works and the page says
# the original is not signed; the production check warns unless C2PA_SIGNING_OFF says so on purpose.
C2PA_SIGN_CERT = env("C2PA_SIGN_CERT", "") or ""
C2PA_SIGN_KEY = env("C2PA_SIGN_KEY", "") or ""
C2PA_SIGN_ALG = (env("C2PA_SIGN_ALG", "es256") or "es256").lower()
# Optional PEM bundle of the roots a reader should trust (the platform's CA): shown as "trusted".
C2PA_TRUST_ANCHORS = env("C2PA_TRUST_ANCHORS", "") or ""
# Optional RFC 3161 time-stamp authority; unset keeps signing offline.
C2PA_TIMESTAMP_URL = env("C2PA_TIMESTAMP_URL", "") or ""
C2PA_SIGNING_OFF = env_bool("C2PA_SIGNING_OFF", default=False)
