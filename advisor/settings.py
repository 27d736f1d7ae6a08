"""One settings module for every environment, configured through environment variables.

Variables carry the ADVISOR_ prefix, plus DATABASE_URL and REDIS_URL as most platforms set them.
"""

import datetime as dt
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from advisor import limits
from advisor.accounts import oidc_settings

BASE_DIR = Path(__file__).resolve().parent.parent


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


def _env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true/false)")


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None


def _env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


DEBUG = _env_bool("ADVISOR_DEBUG", False)

SECRET_KEY = _env("ADVISOR_SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("ADVISOR_SECRET_KEY must be set when ADVISOR_DEBUG is off")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"
# Sessions, CSRF and password-reset links are only as strong as this key: outside debug mode a
# short one stops the app (the bar of Django's security.W009 check, which alone only warns).
if not DEBUG and (len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5):
    raise ImproperlyConfigured(
        f"ADVISOR_SECRET_KEY is too weak ({len(SECRET_KEY)} characters, {len(set(SECRET_KEY))} distinct): "
        "outside debug mode it needs at least 50 characters and 5 distinct ones. Generate one with: "
        "python -c 'import secrets; print(secrets.token_urlsafe(50))'"
    )

ALLOWED_HOSTS = _env_list("ADVISOR_ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = _env_list("ADVISOR_CSRF_TRUSTED_ORIGINS", [])
# A refused form (no or a stale CSRF token) gets the app's 403 page with the reason, not Django's bare one.
CSRF_FAILURE_VIEW = "advisor.views_errors.csrf_failure"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "axes",
    "ninja",
    "django_htmx",
    "template_partials",
    "django_celery_beat",
    "django_celery_results",
    "advisor.accounts",
    "advisor.registry",
    "advisor.findings",
    "advisor.audit",
    "advisor.reviews",
    "advisor.scans",
    "advisor.overview",
    "advisor.metrics",
    "advisor.demo",
    "advisor.notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before whitenoise, so that static files carry the policy too.
    "advisor.lib.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes requires: turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "advisor.urls"
WSGI_APPLICATION = "advisor.wsgi.application"

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
    }
]

VAR_DIR = Path(_env("ADVISOR_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DATABASES = {
    "default": dj_database_url.config(
        env="DATABASE_URL",
        default=f"sqlite:///{VAR_DIR / 'advisor.sqlite3'}",
        conn_max_age=_env_int("ADVISOR_DB_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # SQLite (make run, trials; production uses PostgreSQL) for several writers at once: readers
    # never block the writer (WAL), a writer waits for the lock instead of failing (timeout,
    # seconds), and a transaction takes the write lock when it begins (IMMEDIATE), since one that
    # read first and writes later cannot wait for it and fails with "database is locked".
    # https://docs.djangoproject.com/en/5.2/ref/databases/#sqlite-notes
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": _env_int("ADVISOR_SQLITE_TIMEOUT_S", 20),
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Personal API tokens expire: their owner picks 1..MAX days when creating one, DEFAULT otherwise.
ADVISOR_TOKEN_DEFAULT_DAYS = _env_int("ADVISOR_TOKEN_DEFAULT_DAYS", 90)
ADVISOR_TOKEN_MAX_DAYS = _env_int("ADVISOR_TOKEN_MAX_DAYS", 365)
if not 1 <= ADVISOR_TOKEN_DEFAULT_DAYS <= ADVISOR_TOKEN_MAX_DAYS:
    raise ImproperlyConfigured(
        f"ADVISOR_TOKEN_DEFAULT_DAYS={ADVISOR_TOKEN_DEFAULT_DAYS} must be between 1 and "
        f"ADVISOR_TOKEN_MAX_DAYS={ADVISOR_TOKEN_MAX_DAYS}"
    )

# Login throttling (django-axes, advisor/accounts/throttling.py): after LIMIT failed sign-ins for
# one username from one address, that pair is locked out for COOLOFF minutes after the last attempt.
ADVISOR_LOGIN_FAILURE_LIMIT = _env_int("ADVISOR_LOGIN_FAILURE_LIMIT", 5)
ADVISOR_LOGIN_COOLOFF_MINUTES = _env_int("ADVISOR_LOGIN_COOLOFF_MINUTES", 15)
if ADVISOR_LOGIN_FAILURE_LIMIT < 1 or ADVISOR_LOGIN_COOLOFF_MINUTES < 1:
    raise ImproperlyConfigured(
        "ADVISOR_LOGIN_FAILURE_LIMIT and ADVISOR_LOGIN_COOLOFF_MINUTES must be 1 or more"
    )
AUTHENTICATION_BACKENDS = [
    "advisor.accounts.throttling.LoginThrottleBackend",  # first: refuses a locked-out sign-in
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = ADVISOR_LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = dt.timedelta(minutes=ADVISOR_LOGIN_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "advisor.accounts.throttling.locked_out"
AXES_CLIENT_IP_CALLABLE = "advisor.accounts.throttling.client_address"
AXES_VERBOSE = False

# Sign-in with Microsoft Entra ID or another OpenID Connect provider (advisor/accounts/oidc.py), from
# ADVISOR_OIDC_* (advisor/accounts/oidc_settings.py); None when not configured, and then nothing of
# it shows. ADVISOR_LOCAL_LOGIN=false turns password sign-in off, the admin's form included.
ADVISOR_OIDC = oidc_settings.from_environ(os.environ)
ADVISOR_LOCAL_LOGIN = _env_bool("ADVISOR_LOCAL_LOGIN", True)
if not ADVISOR_LOCAL_LOGIN and ADVISOR_OIDC is None:
    raise ImproperlyConfigured(
        "ADVISOR_LOCAL_LOGIN=false needs single sign-on (ADVISOR_OIDC_TENANT or ADVISOR_OIDC_ISSUER): "
        "nobody could sign in"
    )
if ADVISOR_OIDC is not None:
    # After the lockout check, which axes wants first; it takes no password, so axes counts nothing.
    AUTHENTICATION_BACKENDS.insert(1, "advisor.accounts.oidc.OidcBackend")
if not ADVISOR_LOCAL_LOGIN:
    AUTHENTICATION_BACKENDS.remove("django.contrib.auth.backends.ModelBackend")

LANGUAGE_CODE = "en-us"
TIME_ZONE = _env("ADVISOR_TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(_env("ADVISOR_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # The manifest needs collectstatic, as the Docker image runs; development and tests don't.
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if _env_bool("ADVISOR_STATIC_MANIFEST", not DEBUG)
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# Security: everything below is on unless explicitly relaxed for local development.
SESSION_COOKIE_HTTPONLY = True
# htmx takes the token from the page; the interactive API docs (Swagger UI) read it from the cookie.
CSRF_COOKIE_HTTPONLY = False
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SESSION_COOKIE_SECURE = _env_bool("ADVISOR_SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    SECURE_SSL_REDIRECT = _env_bool("ADVISOR_SSL_REDIRECT", False)
    # Health probes of a load balancer or orchestrator often speak plain HTTP inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^api/health$"]
    SECURE_HSTS_SECONDS = _env_int("ADVISOR_HSTS_SECONDS", 0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_bool("ADVISOR_HSTS_INCLUDE_SUBDOMAINS", False)
    SECURE_HSTS_PRELOAD = _env_bool("ADVISOR_HSTS_PRELOAD", False)
# Trust X-Forwarded-Proto only behind a proxy that sets it; anyone could send it otherwise.
ADVISOR_BEHIND_PROXY = _env_bool("ADVISOR_BEHIND_PROXY", False)
if ADVISOR_BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

EMAIL_BACKEND = _env(
    "ADVISOR_EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = _env("ADVISOR_EMAIL_HOST", "localhost")
EMAIL_PORT = _env_int("ADVISOR_EMAIL_PORT", 25)
DEFAULT_FROM_EMAIL = _env("ADVISOR_EMAIL_FROM", "redis-advisor@localhost")
ADVISOR_BASE_URL = _env("ADVISOR_BASE_URL", "http://127.0.0.1:8000")

# Redis: the Celery broker, and the one key prefix for everything the app itself writes there.
REDIS_URL = _env("REDIS_URL", "redis://127.0.0.1:6379/0")
ADVISOR_REDIS_PREFIX = _env("ADVISOR_REDIS_PREFIX", "advisor:")

CELERY_BROKER_URL = REDIS_URL
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "global_keyprefix": ADVISOR_REDIS_PREFIX,
    "visibility_timeout": 3600,
    # A broker host that does not answer fails a scan start in seconds, not minutes.
    "socket_connect_timeout": 5,
}
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_RESULT_EXPIRES = 7 * 24 * 3600
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = _env_int("ADVISOR_TASK_TIME_LIMIT", 3 * 3600)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 60
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ALWAYS_EAGER = _env_bool("ADVISOR_CELERY_EAGER", False)

# Scanning: only hosts on this list may be scanned, so the scanner cannot be turned into a
# port scanner of the internal network. Entries starting with "." are suffixes.
_AZURE_REDIS_SUFFIXES = [".redis.cache.windows.net", ".redis.azure.net", ".redisenterprise.cache.azure.net"]
ADVISOR_SCAN_ALLOWED_HOSTS = _env_list(
    "ADVISOR_SCAN_ALLOWED_HOSTS",
    _AZURE_REDIS_SUFFIXES + (["localhost", "127.0.0.1", "::1"] if DEBUG else []),
)
ADVISOR_SCAN_RETENTION_DAYS = _env_int("ADVISOR_SCAN_RETENTION_DAYS", 90)
ADVISOR_SCAN_DEFAULT_CRON = _env("ADVISOR_SCAN_DEFAULT_CRON", "0 2 * * *")
# Commands per second a scan may send to a cache (the ops budget), and how a dead worker is noticed:
# the per-instance scan lock lapses after LOCK_TTL without renewal, a run without heartbeat for
# STALE_AFTER is marked failed.
ADVISOR_SCAN_MAX_OPS = _env_int("ADVISOR_SCAN_MAX_OPS", 50_000)
ADVISOR_SCAN_LOCK_TTL_S = _env_int("ADVISOR_SCAN_LOCK_TTL_S", 60)
ADVISOR_SCAN_STALE_AFTER_S = _env_int("ADVISOR_SCAN_STALE_AFTER_S", 120)
# Deadlines: each reply from a scanned cache, the whole scan (by default 10 minutes inside the task's
# time limit, so a scan ends with its own reason before Celery kills it; 0: none), and a queued run
# no worker has started (the housekeeping task fails it).
ADVISOR_SCAN_REPLY_TIMEOUT_S = _env_int("ADVISOR_SCAN_REPLY_TIMEOUT_S", 10)
ADVISOR_SCAN_DEADLINE_S = _env_int("ADVISOR_SCAN_DEADLINE_S", max(60, CELERY_TASK_TIME_LIMIT - 600))
ADVISOR_SCAN_QUEUED_TIMEOUT_S = _env_int("ADVISOR_SCAN_QUEUED_TIMEOUT_S", 6 * 3600)
for _name, _low in (
    ("ADVISOR_SCAN_REPLY_TIMEOUT_S", 1),
    ("ADVISOR_SCAN_DEADLINE_S", 0),
    ("ADVISOR_SCAN_QUEUED_TIMEOUT_S", 60),
):
    if globals()[_name] < _low:
        raise ImproperlyConfigured(f"{_name}={globals()[_name]} is below its minimum of {_low} seconds")

# Notifications (advisor/notifications). Webhooks go only to hosts on this list, entries as for the
# scan allowlist (names, .suffixes, addresses, CIDR ranges; checked at startup), and only over
# https: plain http only to a loopback address the list names itself (tests). By default Slack's
# incoming webhooks (https://hooks.slack.com/services/..., https://api.slack.com/messaging/webhooks)
# and Logic Apps request triggers, on which Teams Workflows URLs are served (https://prod-NN.<region>.
# logic.azure.com/workflows/..., https://learn.microsoft.com/powershell/module/az.logicapp/get-azlogicapptriggercallbackurl).
ADVISOR_WEBHOOK_ALLOWED_HOSTS = _env_list(
    "ADVISOR_WEBHOOK_ALLOWED_HOSTS", ["hooks.slack.com", ".logic.azure.com"]
)
# A signed webhook's secret is a reference: an environment variable's name, or a file in one of these.
ADVISOR_WEBHOOK_SECRET_DIRS = _env_list("ADVISOR_WEBHOOK_SECRET_DIRS", ["/run/secrets"])
# Each webhook request: connect and reply deadlines in seconds. A delivery that fails for a passing
# reason (timeout, refused connection, 5xx, 429) is tried up to ATTEMPTS times, waiting BACKOFF_S,
# then twice as long each time (30, 60, 120, 240 s by default), then marked failed.
ADVISOR_NOTIFY_TIMEOUT_S = _env_int("ADVISOR_NOTIFY_TIMEOUT_S", 5)
ADVISOR_NOTIFY_ATTEMPTS = _env_int("ADVISOR_NOTIFY_ATTEMPTS", 5)
ADVISOR_NOTIFY_BACKOFF_S = _env_int("ADVISOR_NOTIFY_BACKOFF_S", 30)
for _name, _low, _high in (
    ("ADVISOR_NOTIFY_TIMEOUT_S", 1, 60),
    ("ADVISOR_NOTIFY_ATTEMPTS", 1, 20),
    ("ADVISOR_NOTIFY_BACKOFF_S", 1, 3600),
):
    if not _low <= globals()[_name] <= _high:
        raise ImproperlyConfigured(f"{_name}={globals()[_name]} must be between {_low} and {_high}")

# Prometheus metrics (advisor/metrics): GET /metrics answers a scraper sending this bearer token;
# unset, there is no endpoint (404). At least 32 characters, e.g. secrets.token_urlsafe(32).
ADVISOR_METRICS_TOKEN = (_env("ADVISOR_METRICS_TOKEN", "") or "").strip()
if ADVISOR_METRICS_TOKEN and len(ADVISOR_METRICS_TOKEN) < 32:
    raise ImproperlyConfigured(
        f"ADVISOR_METRICS_TOKEN is too short ({len(ADVISOR_METRICS_TOKEN)} characters, at least 32). "
        "Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
    )

NINJA_PAGINATION_PER_PAGE = 50

# Design files (upload page, POST /api/lint, import_designs, the linter) are refused above this
# size before they are parsed; advisor.limits reads the same variable for the settings-free linter.
try:
    ADVISOR_MAX_DESIGN_BYTES = limits.max_design_bytes()
except ValueError as e:
    raise ImproperlyConfigured(str(e)) from None
# Request bodies: a design file sent to the API plus room for the rest of the request; uploaded
# files stay in memory up to the limit, and a bigger one is cut off unread by the first handler.
DATA_UPLOAD_MAX_MEMORY_SIZE = ADVISOR_MAX_DESIGN_BYTES + 64 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = ADVISOR_MAX_DESIGN_BYTES
FILE_UPLOAD_HANDLERS = [
    "advisor.registry.uploads.DesignSizeLimitHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": _env("ADVISOR_LOG_LEVEL", "INFO")},
    # axes: failed sign-ins and lockouts are warnings; its per-attempt bookkeeping is not worth a line.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}
