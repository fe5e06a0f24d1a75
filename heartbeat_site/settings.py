"""Settings for Presence Heartbeat.

Everything comes from the environment (12-factor) through django-environ; a `.env` file in the
project root (or the file named by `ENV_FILE`) is read first. Every variable is documented in the
README. Bad values stop start-up with a message that says how to fix them; the project's system
checks (`manage.py check`) catch the rest.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from heartbeat_site.helpers.public_url import EXAMPLE as PUBLIC_URL_EXAMPLE
from heartbeat_site.helpers.public_url import check_public_url

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
_env_file = os.environ.get("ENV_FILE", str(BASE_DIR / ".env"))
if os.path.isfile(_env_file):
    env.read_env(_env_file)
# After the .env file: a VAR_DIR set there counts like one from the environment, and
# `ENV_FILE=/etc/presence-heartbeat/heartbeat.env manage.py …` finds the same VAR_DIR as the systemd units.
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))

PLACEHOLDER_SECRETS = {"", "change-me", "changeme", "secret", "insecure", "xxx"}


def _bool(name: str, default: bool) -> bool:
    """A boolean that refuses anything but the usual spellings (a typo must not mean False)."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean: use true/false, yes/no, on/off or 1/0.")


def _secret(name: str, *, required: bool) -> str:
    """A secret from `NAME` or from the file named by `NAME_FILE` (Docker/systemd credentials)."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            value = Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={path!r} cannot be read: {exc.strerror}.") from exc
    else:
        value = env.str(name, default="").strip()
    if required and value.lower() in PLACEHOLDER_SECRETS:
        raise ImproperlyConfigured(
            f"{name} is not set (or is a placeholder). Set it in the environment, in .env, or put it in "
            f"a file named by {name}_FILE. Generate one with: python3 -c "
            f"'import secrets; print(secrets.token_urlsafe(50))'"
        )
    return value


DEBUG = _bool("DEBUG", False)
SECRET_KEY = _secret("SECRET_KEY", required=not DEBUG)
if not SECRET_KEY:
    # DEBUG only: a throwaway key so that a developer's first run works.
    SECRET_KEY = "debug-only-" + "k" * 40
API_KEY_PEPPER = _secret("API_KEY_PEPPER", required=not DEBUG) or "debug-only-pepper"

HOST = env.str("HOST", default="127.0.0.1")
PORT = env.int("PORT", default=8000)
# `runheartbeat` serves HTTPS itself when both are set (a small install without a proxy in front).
TLS_CERT_FILE = env.str("TLS_CERT_FILE", default="")
TLS_KEY_FILE = env.str("TLS_KEY_FILE", default="")
if bool(TLS_CERT_FILE) != bool(TLS_KEY_FILE):
    raise ImproperlyConfigured(
        "Set both TLS_CERT_FILE (the certificate, followed by its intermediates) and TLS_KEY_FILE (its private "
        "key) for runheartbeat to serve HTTPS, or neither."
    )
# Threads per daphne / runheartbeat process that run Django's request cycle (heartbeat_site/helpers/asgi_http.py).
WEB_THREADS = env.int("WEB_THREADS", default=8)
if WEB_THREADS < 1:
    raise ImproperlyConfigured(f"WEB_THREADS={WEB_THREADS} must be at least 1 (default 8).")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
_DEFAULT_HOST = f"[{HOST}]" if ":" in HOST else HOST
_PUBLIC_URL = env.str("PUBLIC_URL", default=f"{'https' if TLS_CERT_FILE else 'http'}://{_DEFAULT_HOST}:{PORT}")
try:
    # It is written into scripts for computers (recipes): a plain URL, nothing that could end a string there.
    PUBLIC_URL = check_public_url(_PUBLIC_URL)
except ValueError as exc:
    raise ImproperlyConfigured(
        f"PUBLIC_URL={_PUBLIC_URL!r} cannot be used: {exc}. Use e.g. {PUBLIC_URL_EXAMPLE}."
    ) from None

# Behind a reverse proxy that terminates TLS: trust its X-Forwarded-Proto / X-Forwarded-For.
TRUST_PROXY_HEADERS = _bool("TRUST_PROXY_HEADERS", False)
if TRUST_PROXY_HEADERS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True

SECURE_SSL_REDIRECT = _bool("SECURE_SSL_REDIRECT", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = _bool("SECURE_COOKIES", False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = _bool("SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "axes",
    "presence",
    "licensing",
    "triggers",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # /myapps/ pages run in myApps' cross-site frame: their own session and CSRF cookies (before the
    # session middleware reads them), and framing allowed for them alone (after X-Frame-Options).
    "presence.myapps.middleware.MyAppsCookiesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language of every page: the language switch's cookie, else the browser's Accept-Language, else
    # LANGUAGE_CODE (after the session, before common, as Django documents it).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "presence.myapps.middleware.MyAppsFrameMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into its 429 page.
    "axes.middleware.AxesMiddleware",
]

# Single sign-on through a trusted reverse proxy (Kerberos/NTLM on a Windows domain). Off by default:
# the header is trusted only when this is on, and only the proxy may set it.
SSO_HEADER_ENABLED = _bool("SSO_HEADER_ENABLED", False)
SSO_HEADER = env.str("SSO_HEADER", default="HTTP_REMOTE_USER")
# SSO never signs a name into a staff or superuser account unless this says so (docs/user-page.md).
SSO_ALLOW_STAFF = _bool("SSO_ALLOW_STAFF", False)
if SSO_HEADER_ENABLED:
    MIDDLEWARE.insert(
        MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
        "presence.userpage.sso.ProxyHeaderSSOMiddleware",
    )
# django-axes first: it refuses a locked-out sign-in before any backend checks a password.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
if SSO_HEADER_ENABLED:
    AUTHENTICATION_BACKENDS.insert(1, "presence.userpage.sso.ProxyHeaderSSOBackend")

# Sign-in throttling (django-axes) on /admin/login/ and /accounts/login/: after LOGIN_FAILURE_LIMIT
# wrong passwords for one account (from anywhere), or from one address (for any accounts), that
# account or address is refused (429) for LOGIN_LOCKOUT_MINUTES. Attempts are kept in the database
# (shared by every process), without the password.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_CLIENT_IP_CALLABLE = "heartbeat_site.helpers.http.client_ip"  # X-Forwarded-For only with TRUST_PROXY_HEADERS
AXES_WHITELIST_CALLABLE = "presence.userpage.sso.not_a_password_sign_in"  # the proxy vouched: no guessing
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_DISABLE_ACCESS_LOG = True  # failures are what matters; a row per successful sign-in grows for ever
if AXES_FAILURE_LIMIT < 1:
    raise ImproperlyConfigured(f"LOGIN_FAILURE_LIMIT={AXES_FAILURE_LIMIT} must be at least 1 (default 5).")

ROOT_URLCONF = "heartbeat_site.urls"
ASGI_APPLICATION = "heartbeat_site.asgi.application"
WSGI_APPLICATION = "heartbeat_site.wsgi.application"

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

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'heartbeat.sqlite3'}"),
}
# The database password apart from the URL, e.g. in a file only the service can read (deploy/install.sh).
DATABASE_PASSWORD = _secret("DATABASE_PASSWORD", required=False)
if DATABASE_PASSWORD:
    DATABASES["default"]["PASSWORD"] = DATABASE_PASSWORD
# Persistent connections: each request thread (heartbeat_site/helpers/asgi_http.py) and gunicorn worker
# keeps its own. On SQLite, opening the file and running the PRAGMAs for every request cost more than
# the request itself.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=600)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default keeps its database in VAR_DIR: a fresh clone has none yet. The file holds
    # the API key hashes and the licence like the other secrets in var/: readable by its owner only
    # (created so before SQLite opens it, whose WAL files then take the same mode).
    _sqlite_name = str(DATABASES["default"]["NAME"])
    if _sqlite_name != ":memory:" and not _sqlite_name.startswith("file:"):
        _sqlite_file = Path(_sqlite_name)
        _sqlite_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _sqlite_file.touch(mode=0o600)
        if _sqlite_file.stat().st_uid == os.getuid():
            _sqlite_file.chmod(0o600)
    # WAL lets the web threads read while the link worker writes; IMMEDIATE transactions take the
    # write lock up front so that two writers queue on the busy timeout instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        }
    )
else:
    # psycopg 3: health checks drop a persistent connection the server closed.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Parameters sent apart from the SQL, and statements prepared by psycopg after five uses, which
    # Django turns off unless asked: the hot queries are planned once per connection instead of on
    # every request (tests/bench/README.md has the numbers).
    # Both off behind a pooler that cannot keep prepared statements (PgBouncer in transaction mode < 1.21).
    if _bool("DB_SERVER_SIDE_BINDING", True):
        DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # Pub/sub: a send costs one publish (measured 110 µs CPU against 354 µs for the list-based
            # core layer). Messages to the link are only wake-ups — the database holds the work — so
            # the core layer's buffering for absent consumers buys nothing here.
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "heartbeat_site.helpers.cache.PooledRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "heartbeat",
            # A Redis outage must cost a request milliseconds, not a hang: callers fail open.
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 50000}}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

# English and German for everything a person reads. A page follows the language switch (a cookie),
# else the browser's Accept-Language; the myApps apps follow myApps' language. LANGUAGE_CODE is the
# language when nothing says otherwise: make run's hints, recipe READMEs downloaded without one, and the
# default presets a new installation creates. Machine text (API, logs, scripts' output) stays English.
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
_LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="en").strip().lower().replace("_", "-")
LANGUAGE_CODE = _LANGUAGE_CODE.split("-")[0]
if LANGUAGE_CODE not in dict(LANGUAGES):
    raise ImproperlyConfigured(
        f"LANGUAGE_CODE={_LANGUAGE_CODE!r} is not a language of this service: use "
        + " or ".join(code for code, _ in LANGUAGES)
        + "."
    )
LOCALE_PATHS = [BASE_DIR / "locale"]
# English dates as the project always wrote them (2026-11-29 17:29); German ones are Django's (29.11.2026 17:29).
FORMAT_MODULE_PATH = ["heartbeat_site.formats"]
# The language switch's cookie: sent only over HTTPS where the session cookie is, never read by scripts.
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.str("STATIC_ROOT", default=str(VAR_DIR / "static"))

# The trigger API: DRF with our own API-key authentication only (no session, no basic auth).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "triggers.serializers.JSONParser",
        "rest_framework.parsers.FormParser",
    ],
    "EXCEPTION_HANDLER": "triggers.views.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_RATES": {
        # One key must carry a whole company's logon storm (20,000 triggers in a minute)...
        "trigger-key": env.str("TRIGGER_RATE_PER_KEY", default="60000/min"),
        # ...while a runaway script posting for one user in a loop is stopped.
        "trigger-user": env.str("TRIGGER_RATE_PER_USER", default="30/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Presence Heartbeat API",
    "DESCRIPTION": "Computers report what they do; Presence Heartbeat sets the user's presence on the PBX.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Request bodies as their own components, so that required text fields say minLength: 1.
    "COMPONENT_SPLIT_REQUEST": True,
    # /api/docs/ works offline: Swagger UI from the drf-spectacular-sidecar package, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

# /healthz answers everyone with the status only; the details need a staff session or this token
# (`Authorization: Bearer <HEALTHZ_TOKEN>`). Empty: staff only.
HEALTHZ_TOKEN = _secret("HEALTHZ_TOKEN", required=False)

# `/bench/trivial`: a trivial Django view served beside the API, for the benchmarks only (tests/bench).
BENCH_VIEWS = _bool("BENCH_VIEWS", False)
# The user page's buttons, per person: a few presses a minute are plenty; a loop must not reach the PBX.
USER_PAGE_PRESS_RATE = env.str("USER_PAGE_PRESS_RATE", default="10/min")
# Largest trigger body accepted (bytes); larger bodies get 413 before they are parsed.
TRIGGER_MAX_BODY = env.int("TRIGGER_MAX_BODY", default=4096)
# How far in the future a trigger's `at` may lie (clock skew of the computers).
TRIGGER_MAX_FUTURE_SECONDS = env.int("TRIGGER_MAX_FUTURE_SECONDS", default=300)

# The PBX link.
PBX_URL = env.str("PBX_URL", default="")
PBX_APP = env.str("PBX_APP", default="presencebridge")
PBX_PASSWORD = _secret("PBX_PASSWORD", required=False)
PBX_CA_FILE = env.str("PBX_CA_FILE", default="")
PBX_TLS_VERIFY = _bool("PBX_TLS_VERIFY", True)
PBX_CONTACT = env.str("PBX_CONTACT", default="tel:")
PBX_REQUEST_TIMEOUT = env.float("PBX_REQUEST_TIMEOUT", default=10.0)
PBX_CONNECT_TIMEOUT = env.float("PBX_CONNECT_TIMEOUT", default=10.0)
PBX_WINDOW = env.int("PBX_WINDOW", default=64)
# The embedded simulator (used when PBX_URL is empty): where it listens and whom it knows.
PBX_SIMULATOR_PORT = env.int("PBX_SIMULATOR_PORT", default=0)

# myApps: the user app and the admin app, each an App object on the PBX (docs/myapps.md). An app
# whose password is empty is off. The passwords are the App objects' shared secrets: never logged,
# never stored in the database.
MYAPPS_USER_APP = env.str("MYAPPS_USER_APP", default="presence-heartbeat")
MYAPPS_USER_PASSWORD = _secret("MYAPPS_USER_PASSWORD", required=False)
MYAPPS_ADMIN_APP = env.str("MYAPPS_ADMIN_APP", default="presence-heartbeat-admin")
MYAPPS_ADMIN_PASSWORD = _secret("MYAPPS_ADMIN_PASSWORD", required=False)
# PBX user names (or GUIDs) who may use the admin app; empty: whoever the PBX assigned it to.
MYAPPS_ADMIN_USERS = [name.strip() for name in env.list("MYAPPS_ADMIN_USERS", default=[]) if name.strip()]
# Origins that may frame /myapps/ pages (CSP frame-ancestors). Unset: the PBX's origin from PBX_URL
# (in the embedded default: this service's own origins, for the preview host).
MYAPPS_FRAME_ANCESTORS = [
    origin.strip() for origin in env.list("MYAPPS_FRAME_ANCESTORS", default=[]) if origin.strip()
] or None

# Licensing: the verifying public key (base64 raw Ed25519 or PEM). Empty → a local demo licence.
LICENSE_PUBLIC_KEY = env.str("LICENSE_PUBLIC_KEY", default="").replace("\\n", "\n")

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "heartbeat_site.helpers.logging.RedactSecretsFilter"}},
    "formatters": {
        "line": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "line", "filters": ["redact"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.server": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
        "axes.apps": {"level": "WARNING"},  # its version banner at every start; lockouts still log (axes.handlers)
    },
}
