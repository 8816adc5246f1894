"""Django settings, from environment variables only.

The defaults give the embedded mode (SQLite, Celery's filesystem transport, local-memory cache, mail
as files under var/) except DEBUG, which is off unless turned on (`palimpsest.settings_dev` does, for the
demo and the tests); with DEBUG off, SECRET_KEY, PALIMPSEST_PEPPER and PALIMPSEST_AUDIT_KEY must be set.
Production sets DATABASE_URL, CELERY_BROKER_URL, REDIS_URL and friends.
"""

import json
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url

from palimpsest.env import env_bool, env_int, env_list, env_rate_limits

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PALIMPSEST_VAR", BASE_DIR / "var"))

DEBUG = env_bool("DEBUG", default=False)


def _secret(name: str, embedded_default: str) -> str:
    """A secret from the environment; only the embedded mode (DEBUG on) may fall back to a known value."""
    value = os.environ.get(name, "")
    if value:
        return value
    if not DEBUG:
        raise RuntimeError(f"{name} must be set when DEBUG is off.")
    return embedded_default


SECRET_KEY = _secret("SECRET_KEY", "embedded-mode-only-insecure-key-not-for-production-use-0123456789")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

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
    "requests_app",
    "unlearn_jobs",
    "verification",
    # The synthetic demo world: its management commands (build_demo_world, seed_demo_users) only.
    "palimpsest.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "palimpsest.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "requests_app.staff.middleware.SecondFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "palimpsest.urls"
WSGI_APPLICATION = "palimpsest.wsgi.application"
ASGI_APPLICATION = "palimpsest.asgi.application"

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
                "palimpsest.context_processors.navigation",
                "palimpsest.csp.csp_nonce",
            ],
        },
    },
]

# Database: PostgreSQL in production and CI, a SQLite file in the embedded mode.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'palimpsest.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", default=0),
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Worker and web share the file: wait for locks instead of failing at once. A deferred transaction that
    # reads and then writes fails at once ("database is locked", no wait) when another process writes
    # meanwhile; IMMEDIATE takes the write lock at BEGIN, so the timeout applies.
    DATABASES["default"].setdefault("OPTIONS", {}).update(timeout=20, transaction_mode="IMMEDIATE")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache: Redis in production (rate limits and the suppression guard must be shared by every process).
REDIS_URL = os.environ.get("REDIS_URL", "")
CACHE_URL = os.environ.get("CACHE_URL", REDIS_URL)
if CACHE_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "staticfiles"))
# In the embedded mode whitenoise serves straight from the app folders (no collectstatic needed).
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
if DEBUG:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Mail: files under var/mail in the embedded mode, SMTP (the mail catcher in compose) in production.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Palimpsest <privacy@palimpsest.invalid>")
SERVER_EMAIL = os.environ.get("SERVER_EMAIL", DEFAULT_FROM_EMAIL)
# Who is alerted (mail_admins) when the periodic audit check finds the chain broken: "a@x.org,b@y.org".
ADMINS = [(address, address) for address in env_list("ADMINS", default=[])]

# Celery. The embedded default is the filesystem transport, so one worker process needs no Redis.
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL or "filesystem://")
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", "") or None
# The longest unlearning job may run for hours; a Redis broker must not redeliver it meanwhile.
CELERY_VISIBILITY_TIMEOUT = env_int(
    "CELERY_VISIBILITY_TIMEOUT", default=int(timedelta(hours=12).total_seconds())
)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=False)

# Where artifacts (model versions, checkpoints, reports) live: a local path or a shared volume.
PALIMPSEST_STORAGE = Path(os.environ.get("PALIMPSEST_STORAGE", VAR_DIR / "artifacts"))
PALIMPSEST_DEMO_ROOT = Path(os.environ.get("PALIMPSEST_DEMO_ROOT", VAR_DIR / "demo"))
# Any Hugging Face causal-LM directory; the default is the demo model the project trains itself.
PALIMPSEST_BASE_MODEL = Path(
    os.environ.get("PALIMPSEST_BASE_MODEL", PALIMPSEST_DEMO_ROOT / "models" / "base")
)
# Every PALIMPSEST_* setting the code reads is loaded here, from the environment, with its default;
# the README's configuration table lists them all.
# The GDPR clock (Art. 12(3)): one month from the confirmed identity, extendable by two further months.
PALIMPSEST_RESPONSE_MONTHS = env_int("PALIMPSEST_RESPONSE_MONTHS", default=1)
PALIMPSEST_MAX_EXTENSION_MONTHS = env_int("PALIMPSEST_MAX_EXTENSION_MONTHS", default=2)
# What one request may hold (the portal and the API refuse more, naming the limit).
PALIMPSEST_MAX_ITEMS = env_int("PALIMPSEST_MAX_ITEMS", default=500)
PALIMPSEST_MAX_ITEM_CHARS = env_int("PALIMPSEST_MAX_ITEM_CHARS", default=4000)
PALIMPSEST_MAX_REQUEST_CHARS = env_int("PALIMPSEST_MAX_REQUEST_CHARS", default=200_000)
PALIMPSEST_MAX_UPLOAD_BYTES = env_int("PALIMPSEST_MAX_UPLOAD_BYTES", default=1_000_000)
PALIMPSEST_MAX_UPLOAD_FILES = env_int("PALIMPSEST_MAX_UPLOAD_FILES", default=5)
PALIMPSEST_MAX_CONCEPT_EXAMPLES = env_int("PALIMPSEST_MAX_CONCEPT_EXAMPLES", default=10)
PALIMPSEST_MAX_EXAMPLE_CHARS = env_int("PALIMPSEST_MAX_EXAMPLE_CHARS", default=2000)
PALIMPSEST_MAX_CONCEPT_CHARS = env_int("PALIMPSEST_MAX_CONCEPT_CHARS", default=2000)
# Overrides of the portal's rate limits, e.g. "submit-ip=10/3600,submit-email=5/86400" (hits/seconds).
PALIMPSEST_RATE_LIMITS = env_rate_limits("PALIMPSEST_RATE_LIMITS")
# Days a closed request keeps its requester's name and e-mail address (for questions and complaints about
# it); then they are emptied. Texts go at once when a request closes.
PALIMPSEST_CLOSED_RETENTION_DAYS = env_int("PALIMPSEST_CLOSED_RETENTION_DAYS", default=365)
# How long a status link works; every e-mail carries a fresh one, and the requester can ask for another.
PALIMPSEST_STATUS_LINK_DAYS = env_int("PALIMPSEST_STATUS_LINK_DAYS", default=90)
# Proxies in front of the web server that append to X-Forwarded-For (0: use the peer address).
PALIMPSEST_TRUSTED_PROXY_COUNT = env_int("PALIMPSEST_TRUSTED_PROXY_COUNT", default=0)
# Officers, release managers and superusers must sign in with a second factor (TOTP); on by default
# outside the embedded mode.
PALIMPSEST_REQUIRE_TOTP = env_bool("PALIMPSEST_REQUIRE_TOTP", default=not DEBUG)
# Behind a TLS proxy: the header it sets to say the client used https, e.g. "X-Forwarded-Proto" (empty:
# no proxy, so a client's own header is never believed).
PALIMPSEST_TLS_PROXY_HEADER = os.environ.get("PALIMPSEST_TLS_PROXY_HEADER", "").strip()
# The secret mixed into every hash of personal data (item texts, reasons, the guard's fingerprints, rate-limit
# keys), so that a short value (a phone number) cannot be found by hashing every candidate. It must never
# change once hashes exist. PALIMPSEST_GUARD_PEPPER is its former name.
PALIMPSEST_PEPPER = _secret("PALIMPSEST_PEPPER", os.environ.get("PALIMPSEST_GUARD_PEPPER", ""))
# The key of the audit chain's HMAC: whoever can write the database but not read this cannot rewrite the
# chain without the check noticing.
PALIMPSEST_AUDIT_KEY = _secret("PALIMPSEST_AUDIT_KEY", "embedded-mode-only-audit-key")
# Where the periodic check appends the chain's head, outside the database (storage the database's users
# cannot write).
PALIMPSEST_AUDIT_EXPORT = os.environ.get("PALIMPSEST_AUDIT_EXPORT", str(VAR_DIR / "audit" / "heads.jsonl"))
# Screening's reference texts; empty: the demo world's files under PALIMPSEST_DEMO_ROOT/world.
PALIMPSEST_SCREENING_NONMEMBER_TEXTS = os.environ.get("PALIMPSEST_SCREENING_NONMEMBER_TEXTS", "")
PALIMPSEST_SCREENING_UTILITY_TEXTS = os.environ.get("PALIMPSEST_SCREENING_UTILITY_TEXTS", "")
PALIMPSEST_SCREENING_CORPUS = os.environ.get("PALIMPSEST_SCREENING_CORPUS", "")
PALIMPSEST_SCREENING_EMBEDDINGS = env_bool("PALIMPSEST_SCREENING_EMBEDDINGS", default=True)
PALIMPSEST_SCREENING_EMBED_PRECISION = os.environ.get("PALIMPSEST_SCREENING_EMBED_PRECISION", "auto")
PALIMPSEST_SCREENING_MAX_EXPANDED = env_int("PALIMPSEST_SCREENING_MAX_EXPANDED", default=100)
PALIMPSEST_SCREENING_BATCH_REQUESTS = env_int("PALIMPSEST_SCREENING_BATCH_REQUESTS", default=128)
# The Ed25519 key that signs verification reports and certificates: base64 of a 32-byte seed. Empty: a
# key file created on first use under PALIMPSEST_SIGNING_KEY_FILE (embedded mode and tests only).
PALIMPSEST_SIGNING_KEY = os.environ.get("PALIMPSEST_SIGNING_KEY", "")
PALIMPSEST_SIGNING_KEY_FILE = Path(
    os.environ.get("PALIMPSEST_SIGNING_KEY_FILE", VAR_DIR / "keys" / "signing.key")
)
# Public keys (base64) of earlier signing keys whose documents still verify after a key rotation.
PALIMPSEST_SIGNING_TRUSTED_KEYS = env_list("PALIMPSEST_SIGNING_TRUSTED_KEYS", default=[])
# The verification gate: "bounded" (sample and probe counts sized for a demo job on CPU) or "full".
PALIMPSEST_VERIFICATION_BUDGET = os.environ.get("PALIMPSEST_VERIFICATION_BUDGET", "bounded")
# A candidate that fails verification is retried with stronger settings this many times.
PALIMPSEST_VERIFICATION_MAX_RETRIES = env_int("PALIMPSEST_VERIFICATION_MAX_RETRIES", default=2)
# Days a superseded version that still holds erased data is kept (for a rollback) before the purge deletes it.
PALIMPSEST_PURGE_GRACE_DAYS = env_int("PALIMPSEST_PURGE_GRACE_DAYS", default=7)
# Where the e-mails tell a rejected requester they may complain (Art. 77 GDPR).
PALIMPSEST_COMPLAINT_URL = os.environ.get(
    "PALIMPSEST_COMPLAINT_URL", "https://edpb.europa.eu/about-edpb/about-edpb/members_en"
)


def _env_float(name: str, *, default: float) -> float:
    raw = os.environ.get(name, "")
    try:
        return float(raw) if raw.strip() else default
    except ValueError:
        raise RuntimeError(f"{name} must be a number, not {raw!r}.") from None


def _env_json_object(name: str) -> dict:
    raw = os.environ.get(name, "")
    try:
        value = json.loads(raw) if raw.strip() else {}
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise RuntimeError(f"{name} must be a JSON object, e.g. '{{\"beta\": 0.1}}', not {raw!r}.")
    return value


# Unlearning jobs (docs/jobs.md). The engine settings are frozen into each job when it is made.
# SimNPO in full mode at lr 2e-4 for 20 epochs, with 8 retain texts per item of which half are drawn at
# random (general knowledge, other people), is the first setting measured to pass the gate on the default
# demo world (docs/benchmarks/journey-notes.md): in LoRA mode 8/4-bit rounding brought the forgotten values
# back, and with look-alike retain texts only, full mode lost general utility (0.87-0.94 of the parent).
PALIMPSEST_UNLEARN_METHOD = os.environ.get("PALIMPSEST_UNLEARN_METHOD", "simnpo")
PALIMPSEST_UNLEARN_METHOD_CONFIG = _env_json_object("PALIMPSEST_UNLEARN_METHOD_CONFIG")
PALIMPSEST_UNLEARN_MODE = os.environ.get("PALIMPSEST_UNLEARN_MODE", "full")
PALIMPSEST_UNLEARN_LEARNING_RATE = _env_float("PALIMPSEST_UNLEARN_LEARNING_RATE", default=2e-4)
# Passes over the trained items; PALIMPSEST_UNLEARN_MAX_STEPS > 0 sets a fixed step count instead.
PALIMPSEST_UNLEARN_EPOCHS = _env_float("PALIMPSEST_UNLEARN_EPOCHS", default=20.0)
PALIMPSEST_UNLEARN_MAX_STEPS = env_int("PALIMPSEST_UNLEARN_MAX_STEPS", default=0)
# With epochs, a job trains at least this many steps: one person's 21 texts are 60 steps at 20 epochs, and
# such jobs failed the gate on the demo world where 200 steps passed (docs/benchmarks/quality-notes.md).
PALIMPSEST_UNLEARN_MIN_STEPS = env_int("PALIMPSEST_UNLEARN_MIN_STEPS", default=200)
PALIMPSEST_UNLEARN_FORGET_BATCH_SIZE = env_int("PALIMPSEST_UNLEARN_FORGET_BATCH_SIZE", default=8)
PALIMPSEST_UNLEARN_RETAIN_BATCH_SIZE = env_int("PALIMPSEST_UNLEARN_RETAIN_BATCH_SIZE", default=8)
PALIMPSEST_UNLEARN_MAX_LENGTH = env_int("PALIMPSEST_UNLEARN_MAX_LENGTH", default=512)
PALIMPSEST_UNLEARN_SEED = env_int("PALIMPSEST_UNLEARN_SEED", default=0)
PALIMPSEST_UNLEARN_DEVICE = os.environ.get("PALIMPSEST_UNLEARN_DEVICE", "auto")
PALIMPSEST_UNLEARN_PRECISION = os.environ.get("PALIMPSEST_UNLEARN_PRECISION", "auto")
# Processes one job runs on: 1 (the plain loop), a number (a process group started by the GPU worker,
# one process per GPU; on CPU, gloo), or auto (one per CUDA device the worker sees, 1 without CUDA).
# Frozen into each job like the rest; docs/engine.md, "Several GPUs and machines".
PALIMPSEST_UNLEARN_PROCESSES = os.environ.get("PALIMPSEST_UNLEARN_PROCESSES", "1")
PALIMPSEST_UNLEARN_CHECKPOINT_EVERY = env_int("PALIMPSEST_UNLEARN_CHECKPOINT_EVERY", default=50)
PALIMPSEST_UNLEARN_LOG_EVERY = env_int("PALIMPSEST_UNLEARN_LOG_EVERY", default=10)
# The collapse guard: a job whose retain NLL rises more than this is failed, not published (0: off).
PALIMPSEST_UNLEARN_MAX_RETAIN_NLL_RISE = _env_float("PALIMPSEST_UNLEARN_MAX_RETAIN_NLL_RISE", default=1.0)
# Retain data: texts from the training corpus (empty: PALIMPSEST_SCREENING_CORPUS, else the demo world's
# train.jsonl), this many per trained item, at most RETAIN_MAX in all; RANDOM_SHARE of them drawn at random
# from the corpus (what else the model must keep), the rest the trained items' look-alikes.
PALIMPSEST_UNLEARN_RETAIN_CORPUS = os.environ.get("PALIMPSEST_UNLEARN_RETAIN_CORPUS", "")
PALIMPSEST_UNLEARN_RETAIN_PER_ITEM = env_int("PALIMPSEST_UNLEARN_RETAIN_PER_ITEM", default=8)
PALIMPSEST_UNLEARN_RETAIN_RANDOM_SHARE = _env_float("PALIMPSEST_UNLEARN_RETAIN_RANDOM_SHARE", default=0.5)
PALIMPSEST_UNLEARN_RETAIN_MAX = env_int("PALIMPSEST_UNLEARN_RETAIN_MAX", default=2048)
# Attempts (first run, transient-error retries and reaped runs together) before a job fails for good.
PALIMPSEST_UNLEARN_MAX_ATTEMPTS = env_int("PALIMPSEST_UNLEARN_MAX_ATTEMPTS", default=5)
PALIMPSEST_UNLEARN_RETRY_BACKOFF_SECONDS = env_int("PALIMPSEST_UNLEARN_RETRY_BACKOFF_SECONDS", default=60)
PALIMPSEST_UNLEARN_RETRY_BACKOFF_MAX_SECONDS = env_int(
    "PALIMPSEST_UNLEARN_RETRY_BACKOFF_MAX_SECONDS", default=1800
)
PALIMPSEST_UNLEARN_HEARTBEAT_SECONDS = env_int("PALIMPSEST_UNLEARN_HEARTBEAT_SECONDS", default=30)
PALIMPSEST_UNLEARN_STALE_AFTER_SECONDS = env_int("PALIMPSEST_UNLEARN_STALE_AFTER_SECONDS", default=300)
PALIMPSEST_UNLEARN_REAPER_EVERY_SECONDS = env_int("PALIMPSEST_UNLEARN_REAPER_EVERY_SECONDS", default=60)
PALIMPSEST_UNLEARN_RECONCILE_EVERY_SECONDS = env_int(
    "PALIMPSEST_UNLEARN_RECONCILE_EVERY_SECONDS", default=300
)
# A queued job sent this long ago and no longer in the broker is sent again.
PALIMPSEST_UNLEARN_RESEND_AFTER_SECONDS = env_int("PALIMPSEST_UNLEARN_RESEND_AFTER_SECONDS", default=120)
PALIMPSEST_UNLEARN_VERIFICATION_RESEND_SECONDS = env_int(
    "PALIMPSEST_UNLEARN_VERIFICATION_RESEND_SECONDS", default=3600
)
# auto (incremental until the utility budget or the chain length is spent, then rebase), incremental, rebase.
PALIMPSEST_UNLEARN_STRATEGY = os.environ.get("PALIMPSEST_UNLEARN_STRATEGY", "auto")
PALIMPSEST_UNLEARN_UTILITY_BUDGET = _env_float("PALIMPSEST_UNLEARN_UTILITY_BUDGET", default=0.5)
PALIMPSEST_UNLEARN_MAX_INCREMENTAL = env_int("PALIMPSEST_UNLEARN_MAX_INCREMENTAL", default=8)
# The batcher (every minute): when approved requests become a job.
PALIMPSEST_BATCH_AUTO = env_bool("PALIMPSEST_BATCH_AUTO", default=True)
PALIMPSEST_BATCH_MIN_ITEMS = env_int("PALIMPSEST_BATCH_MIN_ITEMS", default=64)
PALIMPSEST_BATCH_MIN_TOKENS = env_int("PALIMPSEST_BATCH_MIN_TOKENS", default=20_000)
PALIMPSEST_BATCH_MAX_ITEMS = env_int("PALIMPSEST_BATCH_MAX_ITEMS", default=2000)
PALIMPSEST_BATCH_MAX_TOKENS = env_int("PALIMPSEST_BATCH_MAX_TOKENS", default=1_000_000)
PALIMPSEST_BATCH_MAX_WAIT_SECONDS = env_int(
    "PALIMPSEST_BATCH_MAX_WAIT_SECONDS", default=int(timedelta(days=3).total_seconds())
)
PALIMPSEST_BATCH_DEADLINE_MARGIN_SECONDS = env_int(
    "PALIMPSEST_BATCH_DEADLINE_MARGIN_SECONDS", default=int(timedelta(days=3).total_seconds())
)
PALIMPSEST_BATCH_JOB_OVERHEAD_SECONDS = env_int("PALIMPSEST_BATCH_JOB_OVERHEAD_SECONDS", default=900)
PALIMPSEST_BATCH_SECONDS_PER_ITEM = _env_float("PALIMPSEST_BATCH_SECONDS_PER_ITEM", default=5.0)
PALIMPSEST_BATCH_VERIFICATION_SECONDS = env_int(
    "PALIMPSEST_BATCH_VERIFICATION_SECONDS", default=int(timedelta(hours=2).total_seconds())
)
PALIMPSEST_BATCH_MAX_ACTIVE_JOBS = env_int("PALIMPSEST_BATCH_MAX_ACTIVE_JOBS", default=1)
PALIMPSEST_BATCH_MAX_REQUEST_FAILURES = env_int("PALIMPSEST_BATCH_MAX_REQUEST_FAILURES", default=3)

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.BasicAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["palimpsest.api.BoundedJSONParser"],
    "EXCEPTION_HANDLER": "palimpsest.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Palimpsest API",
    "DESCRIPTION": "Forget requests (GDPR Art. 17) for language models.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Production hardening; `palimpsest.settings_production` turns these on.
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_" + PALIMPSEST_TLS_PROXY_HEADER.upper().replace("-", "_"), "https")
    if PALIMPSEST_TLS_PROXY_HEADER
    else None
)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=False)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", default=False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
