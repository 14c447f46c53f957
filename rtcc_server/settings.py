"""RTCC Relay settings.

Everything a deployment changes comes from the environment through the small
typed helpers below, which fail loudly at start-up on a bad value instead of
running with a surprise. With no environment at all the product runs embedded:
SQLite, in-memory channel layer, Celery tasks in process, files under var/.
Set DATABASE_URL and REDIS_URL for PostgreSQL, channels-redis and Celery on Redis.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


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


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from exc
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be >= {minimum}, got {value}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


DEBUG = env_bool("RTCC_DEBUG", False)
# The demo switch enables conveniences that must never reach production
# (printing demo credentials, the demo_totp command).
DEMO_MODE = env_bool("RTCC_DEMO", False)
VAR_DIR = Path(env_str("RTCC_VAR_DIR", str(BASE_DIR / "var")))



def _secret_key() -> str:
    """RTCC_SECRET_KEY, or a random key made on first run and kept under var/.

    Production sets the variable (every Daphne process must share it); a laptop
    run gets a key of its own that no one else knows.
    """
    configured = os.environ.get("RTCC_SECRET_KEY", "")
    if configured:
        if len(configured) < 32:
            raise ImproperlyConfigured("RTCC_SECRET_KEY must be at least 32 characters")
        return configured
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()

ALLOWED_HOSTS = env_list("RTCC_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("RTCC_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "apps.accounts.admin_config.RtccAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "channels",
    "apps.common",
    "apps.accounts",
    "apps.audit",
    "apps.cases",
    "apps.calls",
    "apps.hazards",
    "apps.briefings",
    "apps.delivery",
    "fixtures",
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
]

ROOT_URLCONF = "rtcc_server.urls"
ASGI_APPLICATION = "rtcc_server.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

DATABASE_URL = env_str("DATABASE_URL", "")
if DATABASE_URL:
    if not DATABASE_URL.startswith(("postgres://", "postgresql://")):
        raise ImproperlyConfigured("DATABASE_URL must be a postgres:// URL (psycopg 3)")
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "rtcc.sqlite3"),
            # IMMEDIATE: writers take the lock up front, so the audit hash chain
            # never sees two writers read the same tail.
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
        }
    }

REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL and not REDIS_URL.startswith(("redis://", "rediss://")):
    raise ImproperlyConfigured("REDIS_URL must be a redis:// URL")

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # Parallel test workers share one Redis but not one database: their user ids collide,
            # so each gets its own key prefix (PYTEST_XDIST_WORKER is unset everywhere else).
            "CONFIG": {"hosts": [REDIS_URL], "prefix": "rtcc" + os.environ.get("PYTEST_XDIST_WORKER", "")},
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "rtcc",
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CELERY_BROKER_URL = "memory://"
    CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = "UTC"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# guardian: no anonymous user row; everything in the API is authenticated.
ANONYMOUS_USER_NAME = None
GUARDIAN_MONKEY_PATCH_USER = False

# --- Sign-in policy (CJIS Security Policy 5.9.5 / AC-7, 5.6.2.2 MFA) ---
# Five consecutive failures inside fifteen minutes lock the account.
LOGIN_MAX_FAILURES = env_int("RTCC_LOGIN_MAX_FAILURES", 5, minimum=1)
LOGIN_FAILURE_WINDOW_SECONDS = env_int("RTCC_LOGIN_FAILURE_WINDOW_SECONDS", 15 * 60, minimum=1)
# 0 means the lock holds until an administrator releases it (the CJIS default);
# a positive number makes it a timed lock.
LOGIN_LOCK_SECONDS = env_int("RTCC_LOGIN_LOCK_SECONDS", 0)
# A device session ends after 30 minutes idle (CJIS 5.5.5 session lock) and,
# whatever its use, after one shift.
SESSION_IDLE_SECONDS = env_int("RTCC_SESSION_IDLE_SECONDS", 30 * 60, minimum=60)
SESSION_MAX_SECONDS = env_int("RTCC_SESSION_MAX_SECONDS", 12 * 60 * 60, minimum=60)
# last_used_at is written at most this often, so a busy phone does not write on every request.
SESSION_TOUCH_SECONDS = env_int("RTCC_SESSION_TOUCH_SECONDS", 30, minimum=1)
# The window between a correct password and its TOTP code.
MFA_CHALLENGE_SECONDS = env_int("RTCC_MFA_CHALLENGE_SECONDS", 5 * 60, minimum=30)
MFA_ISSUER = env_str("RTCC_MFA_ISSUER", "RTCC Relay")
# Signed media links stop working after this long.
MEDIA_LINK_SECONDS = env_int("RTCC_MEDIA_LINK_SECONDS", 5 * 60, minimum=10)

# --- Briefings ---
# A health area is a hotspot when its latest weekly rate is at or above this (per 100,000).
HOTSPOT_WEEKLY_RATE = env_int("RTCC_HOTSPOT_WEEKLY_RATE", 100, minimum=1)
# Health data older than this is shown as stale, never as current.
HEALTH_DATA_MAX_AGE_DAYS = env_int("RTCC_HEALTH_DATA_MAX_AGE_DAYS", 14, minimum=1)
# Prior calls "nearby": the 3x3 block of geohash-7 cells (about 450 m across) around the call.
PRIOR_CALLS_DAYS = env_int("RTCC_PRIOR_CALLS_DAYS", 365, minimum=1)

# --- Delivery: the event stream (docs/delivery.md) ---
# Server ping every 25 s: carrier NATs drop idle flows at 30-60 s.
DELIVERY_HEARTBEAT_SECONDS = env_int("RTCC_DELIVERY_HEARTBEAT_SECONDS", 25, minimum=1)
# An open socket re-checks its device session this often, so a revoked device is cut off within 5 s.
DELIVERY_SESSION_CHECK_SECONDS = env_int("RTCC_DELIVERY_SESSION_CHECK_SECONDS", 3, minimum=1)
# A stream ticket is single-use and lives this long: enough to open a socket right after asking.
DELIVERY_TICKET_SECONDS = env_int("RTCC_DELIVERY_TICKET_SECONDS", 30, minimum=5)
# Events read and sent per round trip to the database; the next batch is read only after these are sent.
DELIVERY_BATCH_SIZE = env_int("RTCC_DELIVERY_BATCH_SIZE", 200, minimum=1)
# A client further behind than this resyncs (refetches state) instead of replaying.
DELIVERY_MAX_BACKLOG = env_int("RTCC_DELIVERY_MAX_BACKLOG", 1000, minimum=1)

# Requests larger than this are refused with 413 before anything is parsed.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("RTCC_MAX_BODY_BYTES", 1024 * 1024, minimum=1024)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on a missing root
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = None
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "mobile_api.errors.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_RATES": {
        "login": env_str("RTCC_THROTTLE_LOGIN", "30/min"),
        "user": env_str("RTCC_THROTTLE_USER", "1200/min"),
    },
}

SPECTACULAR_SETTINGS = {
    "TITLE": "RTCC Relay mobile API",
    "DESCRIPTION": (
        "The contract between RTCC Relay and the phones and in-car terminals. "
        "Sign in with POST /api/v1/auth/login (and /auth/mfa where your role needs it), "
        "then press Authorize and paste the token as `Bearer <token>`."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "mobile_api.schema.add_error_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "CaseStatusEnum": "apps.cases.models.Case.Status",
        "WarrantStatusEnum": "apps.cases.models.Warrant.Status",
        "KindEnum": "apps.accounts.models.Device.Kind",
        "RecordHazardKindEnum": "apps.hazards.models.RecordHazard.Kind",
        "CallStatusEnum": "apps.calls.models.Call.Status",
        "CallCategoryEnum": "apps.calls.models.Category",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("RTCC_LOG_LEVEL", "INFO")},
    # Never log request bodies or query strings: they can hold passwords and tokens.
    "loggers": {"django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False}},
}

SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# Admin-site sessions: idle expiry by cookie age, renewed on every request (absolute limit in admin_site.py).
SESSION_COOKIE_AGE = SESSION_IDLE_SECONDS
SESSION_SAVE_EVERY_REQUEST = True
SESSION_COOKIE_SAMESITE = "Strict"
