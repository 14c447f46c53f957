"""RTCC Relay settings.

Everything a deployment changes comes from the environment through the small
typed helpers below, which fail loudly at start-up on a bad value instead of
running with a surprise. With no environment at all the product runs embedded:
SQLite, in-memory channel layer, Celery tasks in process, files under var/.
Set DATABASE_URL and REDIS_URL for PostgreSQL, channels-redis and Celery on Redis.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import sys
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from apps.common.wire import WIRE_DATETIME_FORMAT

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


def env_tile_url(name: str) -> str:
    """An XYZ tile URL template (https://host/{z}/{x}/{y}.png), or "" when unset."""
    raw = os.environ.get(name, "").strip()
    parts = urlsplit(raw)
    if raw and (parts.scheme not in {"https", "http"} or not parts.netloc
                or not all(part in raw for part in ("{z}", "{x}", "{y}"))):
        raise ImproperlyConfigured(f"{name} must be an http(s) URL with {{z}}, {{x}} and {{y}}, got {raw!r}")
    return raw


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

def env_networks(name: str, default: list[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """A comma-separated list of addresses or CIDR networks."""
    networks = []
    for item in env_list(name, default):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError as exc:
            raise ImproperlyConfigured(f"{name} must list IP addresses or networks, got {item!r}") from exc
    return networks


# The load balancers and reverse proxies in front of the web processes: only a request from one of these
# may name its client in X-Forwarded-For (apps/common/addresses.py). Empty: the header is ignored.
TRUSTED_PROXIES = env_networks("RTCC_TRUSTED_PROXIES", [])

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
    "apps.web",
    "apps.cameras",
    "apps.media",
    "apps.sensors",
    "apps.referrals",
    "apps.locations",
    "apps.emergencies",
    "apps.bolos",
    "fixtures",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "apps.common.security.ContentSecurityPolicyMiddleware",
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

# An ASGI server (Daphne, as the Procfile runs it) imports rtcc_server.asgi, whose django.setup() loads
# these settings: the module is in sys.modules while it runs. Every other process (manage.py, Celery, the
# dispatcher, pytest) loads them itself first, and one that imports rtcc_server.asgi later changes nothing.
ASGI_SERVER = "rtcc_server.asgi" in sys.modules

DATABASE_URL = env_str("DATABASE_URL", "")
if DATABASE_URL:
    if not DATABASE_URL.startswith(("postgres://", "postgresql://")):
        raise ImproperlyConfigured("DATABASE_URL must be a postgres:// URL (psycopg 3)")
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
    # Under Daphne every HTTP request runs on a thread of its own (asgiref's ThreadSensitiveContext), so
    # persistent connections leak one PostgreSQL connection per request: 1,000 phones asking for stream
    # tickets hit "too many clients" (bench/fanout.py), and each new one is a PostgreSQL backend with cold
    # caches (bench/dispatch.py). RTCC_DB_POOL_SIZE > 0 shares a psycopg pool of that size per process
    # instead: 10 unless set in an ASGI server, 0 elsewhere (Celery, the dispatcher, management commands
    # and the test runner keep persistent connections, one per thread that uses the database).
    DB_POOL_SIZE = env_int("RTCC_DB_POOL_SIZE", 10 if ASGI_SERVER else 0)
    if DB_POOL_SIZE:
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1, "max_size": DB_POOL_SIZE, "timeout": 30}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "rtcc.sqlite3"),
            # IMMEDIATE: writers take the lock up front (SQLite has one writer anyway), so a
            # read-then-write transaction never fails half-way on a lock upgrade.
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
            "CONFIG": {"hosts": [REDIS_URL], "prefix": "rtcc"},
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "apps.common.cache.SharedClientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "rtcc",
            # Django's cache objects live per request under ASGI: share the pool, not a connect per request.
            "OPTIONS": {"pool_class": "apps.common.cache.SharedConnectionPool"},
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
# Our tasks are idempotent: acknowledge a message only once its task has finished, and hand it out again
# when the process running it dies (SIGKILL, OOM) instead of recording a failure: a briefing assembly
# lost with a worker would otherwise never reach the officers (tests/faults/test_worker_killed.py).
# No result backend: nothing reads a task's return value, and without this every .delay() looked one up.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# With late acks a worker holds the messages it prefetched unacknowledged; one killed outright leaves
# them to Redis's visibility timeout (an hour: it must outlast media.clip_job_run's 10-minute countdown).
# One message per process beyond the one it runs keeps that to a minimum.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fix-up closes every database connection before and after each task unless this is set,
# so each briefing assembly paid for a new PostgreSQL backend (a fork with cold catalog caches). Workers
# keep their connections instead; rtcc_server/celery.py drops an unusable or expired one around each task,
# as Django does around each request (CONN_MAX_AGE, CONN_HEALTH_CHECKS).
CELERY_DB_REUSE_MAX = 1000

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
# "At this address" also needs the two points this close when both have coordinates: a Seattle hundred
# block is 100-250 m long and its calls sit at the block's centre; the same street name in the next
# township is kilometres away.
PLACE_SAME_ADDRESS_M = env_int("RTCC_PLACE_SAME_ADDRESS_M", 250, minimum=10)
# Premises on the same hundred block as a call's house, shown "on this block" (never as this address).
BLOCK_PREMISES_SHOWN = env_int("RTCC_BLOCK_PREMISES_SHOWN", 5, minimum=0)

# --- Cameras ---
# "Cameras near this call": how far to look (1 km is a few blocks either way in a city grid),
# and how many a briefing lists besides the pinned ones (a phone screen shows about five).
CAMERAS_NEAR_CALL_RADIUS_M = env_int("RTCC_CAMERAS_NEAR_CALL_RADIUS_M", 1000, minimum=50)
CAMERAS_IN_BRIEFING = env_int("RTCC_CAMERAS_IN_BRIEFING", 5, minimum=1)
# Fernet keys for camera stream credentials, newest first (rotate by prepending a key).
# Empty: one key derived from SECRET_KEY, enough for the embedded default and the demo.
CAMERA_CREDENTIALS_KEYS = env_list("RTCC_CAMERA_CREDENTIALS_KEYS", [])

# --- Map (apps/web/static/web/map.js) ---
# An agency's own raster tile server, as an XYZ template: https://tiles.example.gov/{z}/{x}/{y}.png.
# Empty: the offline basemap shipped in the repo (apps/web/basemap.py), which needs no network at all.
MAP_TILE_URL = env_tile_url("RTCC_MAP_TILE_URL")
# Shown in the map's corner: most tile licences (OpenStreetMap's among them) require it.
MAP_TILE_ATTRIBUTION = env_str("RTCC_MAP_TILE_ATTRIBUTION", "")

# --- Sensors: gunshot detection, licence plate readers, video analytics (docs/sensors.md) ---
# A webhook's signed timestamp may be this far from our clock: sensors keep NTP time, 5 min covers drift
# and queueing; a replay inside the window is refused by the signature cache.
SENSOR_SIGNATURE_TOLERANCE_SECONDS = env_int("RTCC_SENSOR_SIGNATURE_TOLERANCE_SECONDS", 300, minimum=10)
# Webhook requests per source: a flood answers 429 while the events already accepted stay stored.
SENSOR_THROTTLE_RATE = env_str("RTCC_SENSOR_THROTTLE_RATE", "6000/min")
# Plate reads that hit nothing are kept this long, then purged (sensors.purge_reads, audited).
SENSOR_READ_RETENTION_DAYS = env_int("RTCC_SENSOR_READ_RETENTION_DAYS", 30, minimum=1)
# An image in a payload (plate crop, analytics snapshot): a 1280x720 JPEG is 100-300 KB.
SENSOR_IMAGE_MAX_BYTES = env_int("RTCC_SENSOR_IMAGE_MAX_BYTES", 1024 * 1024, minimum=1024)
# A read's state/region below this confidence (0-100) counts as unknown: matching then says state_unknown.
SENSOR_REGION_MIN_CONFIDENCE = env_int("RTCC_SENSOR_REGION_MIN_CONFIDENCE", 70, minimum=0)
# Units whose devices are this close get the alert (a patrol car covers 1.5 km in about 2 min).
SENSOR_PUSH_RADIUS_M = env_int("RTCC_SENSOR_PUSH_RADIUS_M", 1500, minimum=50)
# Gunfire joins an open weapons/violence call this close and this recent instead of raising a new one.
SENSOR_ATTACH_RADIUS_M = env_int("RTCC_SENSOR_ATTACH_RADIUS_M", 300, minimum=10)
SENSOR_ATTACH_MINUTES = env_int("RTCC_SENSOR_ATTACH_MINUTES", 30, minimum=1)
# Fernet keys for sources' HMAC secrets, newest first. Empty: one key derived from SECRET_KEY.
SENSOR_SECRET_KEYS = env_list("RTCC_SENSOR_SECRET_KEYS", [])
# Celery beat: the read purge hourly, the silent-source sweep every minute.
CELERY_BEAT_SCHEDULE = {
    **globals().get("CELERY_BEAT_SCHEDULE", {}),
    "sensors.purge_reads": {"task": "sensors.purge_reads", "schedule": 3600.0},
    "sensors.health_check": {"task": "sensors.health_check", "schedule": 60.0},
    "bolos.purge_unused_photos": {"task": "bolos.purge_unused_photos", "schedule": 3600.0},
}

# --- Audit log (docs/audit.md) ---
# Ed25519 private key, base64 of its 32 raw bytes (`manage.py audit_keygen` prints one). Every process
# that signs checkpoints (the dispatcher) must share it; keep it out of the database so that someone
# with the database alone cannot re-sign a rewritten log. Empty: made on first use and kept under var/.
AUDIT_SIGNING_KEY = env_str("RTCC_AUDIT_SIGNING_KEY", "")
AUDIT_SIGNING_KEY_FILE = VAR_DIR / "audit_signing_key"
# Named in every checkpoint note, so a checkpoint of one deployment cannot pass for another's.
AUDIT_LOG_ORIGIN = env_str("RTCC_AUDIT_LOG_ORIGIN", "rtcc-relay/audit")
# A signed checkpoint at least this often: an auditor's copy is never more than a minute behind.
AUDIT_CHECKPOINT_SECONDS = env_int("RTCC_AUDIT_CHECKPOINT_SECONDS", 60, minimum=1)
# A committed row still unsequenced after this long raises the alarm (log + admin): the sequencer places
# rows within a second, so 30 s means it is down or stuck.
AUDIT_UNSEQUENCED_ALARM_SECONDS = env_int("RTCC_AUDIT_UNSEQUENCED_ALARM_SECONDS", 30, minimum=1)
# A sequencer that stops renewing its lease for this long is replaced by the stand-by.
AUDIT_SEQUENCER_LEASE_SECONDS = env_int("RTCC_AUDIT_SEQUENCER_LEASE_SECONDS", 5, minimum=1)

# --- Delivery: the event stream (docs/delivery.md) ---
# Server ping every 25 s: carrier NATs drop idle flows at 30-60 s.
DELIVERY_HEARTBEAT_SECONDS = env_int("RTCC_DELIVERY_HEARTBEAT_SECONDS", 25, minimum=1)
# An open socket re-checks its device session this often, so a revoked device is cut off within 5 s.
DELIVERY_SESSION_CHECK_SECONDS = env_int("RTCC_DELIVERY_SESSION_CHECK_SECONDS", 3, minimum=1)
# A stream ticket is single-use and lives this long: enough to open a socket right after asking.
DELIVERY_TICKET_SECONDS = env_int("RTCC_DELIVERY_TICKET_SECONDS", 30, minimum=5)
# A socket whose hello asks for it is handed a ticket for its next socket, valid this long and replaced at half
# of it, so a phone that drops comes straight back without asking over HTTP (a reconnect storm's longest wait).
DELIVERY_RESUME_TICKET_SECONDS = env_int("RTCC_DELIVERY_RESUME_TICKET_SECONDS", 120, minimum=10)
# Events read and sent per round trip to the database; the next batch is read only after these are sent.
DELIVERY_BATCH_SIZE = env_int("RTCC_DELIVERY_BATCH_SIZE", 200, minimum=1)
# A client further behind than this resyncs (refetches state) instead of replaying.
DELIVERY_MAX_BACKLOG = env_int("RTCC_DELIVERY_MAX_BACKLOG", 1000, minimum=1)

# --- Delivery: push alerts through FCM HTTP v1 (apps/delivery/fcm.py) ---
# Production sets the project and a service-account JSON file; tests, bench and demo set
# RTCC_FCM_ENDPOINT to a local fake (tests/fakes/fcm_server.py) instead, with a fixed bearer
# token (the endpoint wins over the file). No project, or neither: push is off ("push_disabled").
FCM_PROJECT_ID = env_str("RTCC_FCM_PROJECT_ID", "")
FCM_CREDENTIALS_FILE = env_str("RTCC_FCM_CREDENTIALS_FILE", "")
FCM_ENDPOINT = env_str("RTCC_FCM_ENDPOINT", "")
# Per request (connect, read, pool wait): a hung FCM answers "timeout" after this long.
FCM_TIMEOUT_SECONDS = env_int("RTCC_FCM_TIMEOUT_SECONDS", 10, minimum=1)
# Total time one send may spend waiting on Retry-After or backoff before it reports failure.
FCM_RETRY_SECONDS = env_int("RTCC_FCM_RETRY_SECONDS", 10, minimum=0)
# FCM answering 500 is retried this many times (backoff 0.5 s, 1 s, ...), then reported.
FCM_INTERNAL_RETRIES = env_int("RTCC_FCM_INTERNAL_RETRIES", 2, minimum=0)
# The one Redis channel every server process subscribes to for wake-ups.
DELIVERY_WAKE_CHANNEL = env_str("RTCC_DELIVERY_WAKE_CHANNEL", "rtcc.wake")
# A device with an open socket that has not acknowledged an event this long after it was sent gets the
# push alert; one without a socket gets it at once.
DELIVERY_ACK_TIMEOUT_SECONDS = env_int("RTCC_DELIVERY_ACK_TIMEOUT_SECONDS", 5, minimum=1)
# A push nobody acknowledged within its priority's time goes to the on-duty supervisors, once. Priority 1
# in two minutes (a P1 officer is en route, lights on); lower priorities wait longer, 0 means never.
DELIVERY_ESCALATE_SECONDS = env_int("RTCC_DELIVERY_ESCALATE_SECONDS", 120, minimum=5)
DELIVERY_ESCALATE_SECONDS_BY_PRIORITY = {
    1: DELIVERY_ESCALATE_SECONDS,
    2: env_int("RTCC_DELIVERY_ESCALATE_P2_SECONDS", 300),
    3: env_int("RTCC_DELIVERY_ESCALATE_P3_SECONDS", 900),
    # Priorities 4 to 9 (routine reports, administrative calls).
    4: env_int("RTCC_DELIVERY_ESCALATE_P4_SECONDS", 1800),
}
# Events are kept this long for replay; a client further behind resyncs. Delivery records stay (audit).
DELIVERY_EVENT_RETENTION_DAYS = env_int("RTCC_DELIVERY_EVENT_RETENTION_DAYS", 7, minimum=1)
# Push alerts expire with the call: at most this long after they were sent.
DELIVERY_ALERT_TTL_SECONDS = env_int("RTCC_DELIVERY_ALERT_TTL_SECONDS", 4 * 3600, minimum=60)
# A device position older than this does not count for "everyone within a radius".
DELIVERY_LOCATION_MAX_AGE_SECONDS = env_int("RTCC_DELIVERY_LOCATION_MAX_AGE_SECONDS", 900, minimum=60)

# --- Unit locations (AVL) and the officer emergency (docs/locations.md) ---
# A unit's track is kept this long, then purged (locations.purge_tracks, hourly, audited).
LOCATIONS_RETENTION_DAYS = env_int("RTCC_LOCATIONS_RETENTION_DAYS", 30, minimum=1)
# At most one report a second per device: a phone's GPS fix is 1 Hz, so more is noise or a loop.
LOCATIONS_MIN_INTERVAL_MS = env_int("RTCC_LOCATIONS_MIN_INTERVAL_MS", 1000, minimum=100)
# A device's clock may run this far ahead of ours (NTP-less phones drift a few seconds).
LOCATIONS_FUTURE_SKEW_SECONDS = env_int("RTCC_LOCATIONS_FUTURE_SKEW_SECONDS", 30, minimum=1)
# A background app may hold reports this long (a tunnel, a dead zone); older ones are refused.
LOCATIONS_MAX_AGE_SECONDS = env_int("RTCC_LOCATIONS_MAX_AGE_SECONDS", 3600, minimum=60)
# Reports in one HTTP batch: two minutes at 1 Hz.
LOCATIONS_BATCH_MAX = env_int("RTCC_LOCATIONS_BATCH_MAX", 120, minimum=1)
# Faster than this between two fixes is flagged as an impossible jump (kept: 90 m/s is 320 km/h).
LOCATIONS_JUMP_MPS = env_int("RTCC_LOCATIONS_JUMP_MPS", 90, minimum=10)
# Officers see the units within this distance of their own (a block or two either side in a city).
LOCATIONS_NEAR_M = env_int("RTCC_LOCATIONS_NEAR_M", 1000, minimum=50)
# How often a server process's threads may take the GIL from the event loop (rtcc_server/asgi.py says why).
ASGI_GIL_SWITCH_MS = env_int("RTCC_ASGI_GIL_SWITCH_MS", 1, minimum=1)
# The threads a server process runs its HTTP requests on (rtcc_server/asgi.py); more requests wait for one.
ASGI_REQUEST_THREADS = env_int("RTCC_ASGI_REQUEST_THREADS", 16, minimum=1)
# Stream reports are gathered this long per server process and written together (docs/locations.md).
LOCATIONS_BATCH_WINDOW_MS = env_int("RTCC_LOCATIONS_BATCH_WINDOW_MS", 100, minimum=0)
# Who may see which units is worked out again this often for open sockets (a referral ending, a call).
LOCATIONS_SCOPE_REFRESH_SECONDS = env_int("RTCC_LOCATIONS_SCOPE_REFRESH_SECONDS", 5, minimum=1)
# A viewer gets at most one update a second per unit.
LOCATIONS_LIVE_INTERVAL_MS = env_int("RTCC_LOCATIONS_LIVE_INTERVAL_MS", 1000, minimum=100)
# "Nearest available units" and the emergency radius ignore positions older than this.
LOCATIONS_FRESH_SECONDS = env_int("RTCC_LOCATIONS_FRESH_SECONDS", 900, minimum=60)
# Units within this distance of an officer who needs help are told at once (about 3 min at speed).
EMERGENCY_RADIUS_M = env_int("RTCC_EMERGENCY_RADIUS_M", 3000, minimum=100)
# Nobody acknowledged by then: the whole agency on duty is told.
EMERGENCY_ESCALATE_SECONDS = env_int("RTCC_EMERGENCY_ESCALATE_SECONDS", 15, minimum=1)
# While an emergency is open the officer's device reports this often.
EMERGENCY_FOLLOW_SECONDS = env_int("RTCC_EMERGENCY_FOLLOW_SECONDS", 2, minimum=1)
# The nearest shareable cameras pinned to the emergency, and the clip asked of each (with pre-roll).
EMERGENCY_CAMERAS = env_int("RTCC_EMERGENCY_CAMERAS", 2, minimum=0)
EMERGENCY_CLIP_SECONDS = env_int("RTCC_EMERGENCY_CLIP_SECONDS", 30, minimum=1)
CELERY_BEAT_SCHEDULE = {
    **CELERY_BEAT_SCHEDULE,
    "locations.purge_tracks": {"task": "locations.purge_tracks", "schedule": 3600.0},
}

# --- Co-responder referrals (docs/referrals.md) ---
# An offer nobody answers goes to the next person on call after this long: a crisis call cannot wait
# much more than two minutes for a yes, and a technician driving needs a moment to pull over and answer.
REFERRAL_OFFER_SECONDS = env_int("RTCC_REFERRAL_OFFER_SECONDS", 120, minimum=10)
# The longest span one report covers, so a CSV export stays a few thousand rows at most.
REFERRAL_REPORT_MAX_DAYS = env_int("RTCC_REFERRAL_REPORT_MAX_DAYS", 366, minimum=1)

# --- BOLOs (apps/bolos, docs/bolos.md) ---
# A bulletin must say when it ends; the console offers this many days. Longer than a year is a case, not a lookout.
BOLO_DEFAULT_DAYS = env_int("RTCC_BOLO_DEFAULT_DAYS", 30, minimum=1)
BOLO_MAX_DAYS = env_int("RTCC_BOLO_MAX_DAYS", 365, minimum=1)
# A sighting may be reported this long after it happened (an officer writes it up after the stop).
BOLO_SIGHTING_MAX_AGE_HOURS = env_int("RTCC_BOLO_SIGHTING_MAX_AGE_HOURS", 72, minimum=1)

# --- Media: photos, clips, signed links (apps/media; settings explained in docs/media.md) ---
# Photo uploads: a 12 MP phone JPEG is 3-6 MB; PNG screenshots of the same size can reach 20 MB.
MEDIA_PHOTO_MAX_BYTES = env_int("RTCC_MEDIA_PHOTO_MAX_BYTES", 25 * 1024 * 1024, minimum=1024)
# Video uploads for clips (body cams, drones): 60 s of 4K at 40 Mbit/s is about 300 MB.
MEDIA_VIDEO_MAX_BYTES = env_int("RTCC_MEDIA_VIDEO_MAX_BYTES", 300 * 1024 * 1024, minimum=1024)
# A clip is at most this long: under 4 MB at 360p, so it plays within seconds on LTE. An uploaded
# video longer than this is refused (a 2-hour recording belongs in the evidence system, not on a phone).
MEDIA_CLIP_MAX_SECONDS = env_int("RTCC_MEDIA_CLIP_MAX_SECONDS", 60, minimum=1)
# A live camera that has not sent a readable stream after this long fails the job (source_timeout).
MEDIA_SOURCE_OPEN_TIMEOUT_SECONDS = env_int("RTCC_MEDIA_SOURCE_OPEN_TIMEOUT_SECONDS", 5, minimum=1)
# Progress is written to the job at most this often: the phone polls every few seconds anyway.
MEDIA_PROGRESS_WRITE_SECONDS = float(env_int("RTCC_MEDIA_PROGRESS_WRITE_MS", 500, minimum=50)) / 1000
# A running job whose worker died is taken over by another worker after this long (Celery acks_late
# redelivers it); longer than the slowest clip (60 s of 1080p at 2x real time) with a margin.
MEDIA_CLIP_LEASE_SECONDS = env_int("RTCC_MEDIA_CLIP_LEASE_SECONDS", 10 * 60, minimum=30)
# The pre-roll worker writes the last seconds of each pinned camera here every second; a clip job
# of that camera starts with them (apps.media.preroll). Local to the host running both.
MEDIA_PREROLL_DIR = Path(env_str("RTCC_MEDIA_PREROLL_DIR", str(VAR_DIR / "preroll")))
# Object storage: RTCC_MEDIA_STORAGE=s3 puts photos and clips in an S3-compatible bucket through
# django-storages (boto3 reads AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the instance role).
# Files are never served from the bucket directly: only through the API's signed links.
MEDIA_STORAGE = env_str("RTCC_MEDIA_STORAGE", "local")
if MEDIA_STORAGE not in {"local", "s3"}:
    raise ImproperlyConfigured(f"RTCC_MEDIA_STORAGE must be local or s3, got {MEDIA_STORAGE!r}")

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
if MEDIA_STORAGE == "s3":
    _S3_BUCKET = env_str("RTCC_MEDIA_S3_BUCKET", "")
    if not _S3_BUCKET:
        raise ImproperlyConfigured("RTCC_MEDIA_STORAGE=s3 needs RTCC_MEDIA_S3_BUCKET")
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {  # type: ignore[dict-item]
            "bucket_name": _S3_BUCKET,
            "endpoint_url": env_str("RTCC_MEDIA_S3_ENDPOINT_URL", "") or None,  # MinIO, Ceph; empty for AWS
            "region_name": env_str("RTCC_MEDIA_S3_REGION", "") or None,
            "location": env_str("RTCC_MEDIA_S3_PREFIX", "media"),
            "default_acl": None,  # the bucket's policy: private
            "file_overwrite": False,  # an upload never replaces evidence of the same name
            "querystring_auth": True,
            "object_parameters": {"ServerSideEncryption": "AES256"},
        },
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "mobile_api.errors.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["mobile_api.parsers.JSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "UNAUTHENTICATED_USER": None,
    # One timestamp form for the phones (apps/common/wire.py): 2026-11-20T08:00:00.000000Z, never +00:00.
    "DATETIME_FORMAT": WIRE_DATETIME_FORMAT,
    "DEFAULT_THROTTLE_RATES": {
        "login": env_str("RTCC_THROTTLE_LOGIN", "30/min"),
        # Per username, from any address: well above a person retrying after a lockout ran out (about 11
        # tries), it holds a spray over many addresses to 20 guesses a minute per account.
        "login_username": env_str("RTCC_THROTTLE_LOGIN_USERNAME", "20/min"),
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
        "CallSourceEnum": "apps.calls.models.Call.Source",  # Call and EidoCall share it
        "CallCategoryEnum": "apps.calls.models.Category",
        # Without a name of their own these collide on "state" and "kind" and get hashed names
        # (State9e7Enum) that change whenever a choice does; a generated client's types must not.
        "ReferralStateEnum": "apps.referrals.models.Referral.State",
        "PushStateEnum": "apps.delivery.models.Push.State",
        "AlertStateEnum": "apps.sensors.models.Alert.State",
        "AlertKindEnum": "apps.sensors.models.Alert.Kind",
        "CameraKindEnum": "apps.cameras.models.Camera.Kind",
        "HotListKindEnum": "apps.sensors.models.HotList.Kind",
        "EmergencySourceEnum": "apps.emergencies.models.Emergency.Source",
        "EmergencyStepKindEnum": "apps.emergencies.models.EmergencyStep.Kind",
        "EmergencyCloseReasonEnum": "apps.emergencies.models.Emergency.CloseReason",
        "BoloStateEnum": "apps.bolos.models.Bolo.State",
        "BoloSubjectEnum": "apps.bolos.models.Bolo.Subject",
        # Briefing rules and referrals name the same two team kinds.
        "ResponderKindEnum": "apps.referrals.models.ResponderKind",
        # The referral views' discriminators, one value each.
        "AgencyViewEnum": ["agency"],
        "CoResponderViewEnum": ["co_responder"],
        "HandedOnViewEnum": ["handed_on"],
        "HandedOnStateEnum": ["declined"],
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Signed media links are bearer credentials while they live: no log line shows one (apps/common/redaction.py).
    "filters": {"media_links": {"()": "apps.common.redaction.RedactMediaLinks"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["media_links"]}},
    "root": {"handlers": ["console"], "level": env_str("RTCC_LOG_LEVEL", "INFO")},
    # Never log request bodies or query strings: they can hold passwords and tokens.
    "loggers": {
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        # httpx logs every FCM request URL at INFO: thousands of lines per fan-out, and nothing we need.
        "httpx": {"level": "WARNING"},
    },
}

# --- Transport: TLS ends at the load balancer, which sends X-Forwarded-Proto (docs/operations.md) ---
# On by default everywhere but the embedded laptop run (no DATABASE_URL), the demo and the test suite
# (pytest sets PYTEST_VERSION, before it reads these settings); local stacks that serve plain HTTP on
# 127.0.0.1 (tests/harness/processes.py, bench) set RTCC_TLS=false.
TLS = env_bool("RTCC_TLS", bool(DATABASE_URL) and not DEMO_MODE and "PYTEST_VERSION" not in os.environ)
if TLS:
    # Only safe because the proxy sets (never passes through) X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    # The load balancer's health check speaks plain HTTP to the process.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    # A year, as the HSTS preload list asks; phones and terminals never need plain HTTP to us.
    SECURE_HSTS_SECONDS = env_int("RTCC_HSTS_SECONDS", 365 * 24 * 3600, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("RTCC_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("RTCC_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# Admin-site sessions: idle expiry by cookie age, renewed on every request (absolute limit in admin_site.py).
SESSION_COOKIE_AGE = SESSION_IDLE_SECONDS
SESSION_SAVE_EVERY_REQUEST = True
SESSION_COOKIE_SAMESITE = "Strict"
