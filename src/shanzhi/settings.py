"""The one settings module. Every setting an operator may change comes from a
``SHANZHI_*`` environment variable; the README lists them all."""

import os
import secrets
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(f"SHANZHI_{name}", default)


def env_bool(name: str, default: bool = False) -> bool:
    return env(name, "1" if default else "0").strip().lower() in {"1", "true", "yes", "on"}


DATA_DIR = Path(env("DATA_DIR", str(Path.cwd() / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """SHANZHI_SECRET_KEY, or a random key kept in the data directory."""
    if key := env("SECRET_KEY"):
        return key
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG")
ALLOWED_HOSTS = [h.strip() for h in env("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in env("CSRF_TRUSTED_ORIGINS").split(",") if o]
# Reverse proxies in front of the servers whose X-Forwarded-For is trusted
# (core.net.client_ip): 0 when clients connect directly.
PROXY_COUNT = int(env("PROXY_COUNT", "0"))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "ninja",  # the API docs' Swagger UI from static files, not a CDN (CSP, offline)
    "shanzhi.core",
    "shanzhi.geo",
    "shanzhi.accounts",
    "shanzhi.cases",
    "shanzhi.registry",
    "shanzhi.intake",
    "shanzhi.incidents",
    "shanzhi.mediation",
    "shanzhi.patrols",
    "shanzhi.analytics",
    "shanzhi.open311",
    "shanzhi.web",
    "shanzhi.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # CSP, Permissions-Policy, X-Frame-Options on every answer, static files
    # included; a body over REQUEST_MAX_BYTES refused unread (core/middleware.py)
    "shanzhi.core.middleware.SecurityHeadersMiddleware",
    "shanzhi.core.middleware.RequestSizeMiddleware",
    # Django's gzip, but an async stream is one gzip member flushed chunk by
    # chunk, and an xlsx/zip/photo is sent as it is (core/middleware.py)
    "shanzhi.core.middleware.GZipMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "shanzhi.core.input.HostileInputMiddleware",  # NUL, controls, odd digits: 400 (core/input.py)
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "shanzhi.urls"
ASGI_APPLICATION = "shanzhi.asgi.application"
WSGI_APPLICATION = "shanzhi.wsgi.application"

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
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# --- database: PostgreSQL when SHANZHI_DATABASE_URL is set, else embedded SQLite (WAL)
DATABASE_URL = env("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
    if DATABASES["default"]["ENGINE"].endswith("postgresql"):
        # A pool per process: the ASGI server runs each request in a thread of
        # its own, and per-thread persistent connections would pile up.
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 2, "max_size": int(env("DB_POOL_SIZE", "10"))}
        # parameters bound by the server, and statements run often prepared
        # once per connection: the planning of every report's statements was
        # a quarter of its time (benchmarks/intake.py)
        DATABASES["default"]["OPTIONS"]["server_side_binding"] = True
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "shanzhi.sqlite3",
            "OPTIONS": {
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                    "PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000;"
                ),
                "transaction_mode": "IMMEDIATE",
                "timeout": 10,
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# --- log-in security (docs/security.md)
# argon2 first; PBKDF2 still checks the hashes made before, which are upgraded
# to argon2 at the user's next log-in.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": int(env("PASSWORD_MIN_LENGTH", "8"))}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "shanzhi.accounts.passwords.CharacterClassValidator"},
]
# every log-in goes through accounts.backends: locked accounts and addresses
# are refused before any password is hashed
AUTHENTICATION_BACKENDS = ["shanzhi.accounts.backends.ThrottledModelBackend"]
#: failures of one account (the name typed) within the window that lock it
LOGIN_ACCOUNT_FAILURES = int(env("LOGIN_ACCOUNT_FAILURES", "5"))
#: failures from one client address within the window that lock the address
LOGIN_ADDRESS_FAILURES = int(env("LOGIN_ADDRESS_FAILURES", "20"))
LOGIN_WINDOW_MINUTES = int(env("LOGIN_WINDOW_MINUTES", "15"))
LOGIN_LOCK_MINUTES = int(env("LOGIN_LOCK_MINUTES", "15"))
#: roles that must log in with a second factor (TOTP), comma-separated
TWO_FACTOR_REQUIRED_ROLES = [r.strip() for r in env("2FA_REQUIRED_ROLES", "city_admin").split(",")
                             if r.strip()]
TWO_FACTOR_ISSUER = env("2FA_ISSUER", "善治 shanzhi")
#: an API token lives this many days (then 401 token_expired; renew before)
TOKEN_DAYS = int(env("TOKEN_DAYS", "30"))

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(DATA_DIR / "cache"),
        "TIMEOUT": 24 * 3600,
    }
}

# --- language and time: Chinese first, English available
LANGUAGE_CODE = env("LANGUAGE", "zh-hans")
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env("TIME_ZONE", "Asia/Shanghai")
OFFICE_HOURS = env("OFFICE_HOURS", "09:00-12:00,13:30-17:30")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = DATA_DIR / "media"

LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

# --- background work: `shanzhi serve` runs the overdue sweep in-process in the
# embedded (SQLite) mode; with PostgreSQL run `shanzhi worker` beside the servers.
WORKER_IN_SERVER = env_bool("WORKER_IN_SERVER", default=not DATABASE_URL)

# --- the map: no base tiles by default (government networks have no internet)
MAP_TILE_URL = env("MAP_TILE_URL")

# --- security: response headers (core/middleware.py), cookies, TLS, uploads
#: behind TLS (a reverse proxy terminating HTTPS): Secure cookies and HSTS
SECURE = env_bool("SECURE")
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
#: a refused form says so in the site's words and style (web/errors.py)
CSRF_FAILURE_VIEW = "shanzhi.web.errors.csrf_failure"
#: a log-in lasts one working shift
SESSION_COOKIE_AGE = int(float(env("SESSION_HOURS", "8")) * 3600)
SESSION_COOKIE_SECURE = SECURE
CSRF_COOKIE_SECURE = SECURE
#: the header by which the TLS-terminating proxy says the client used HTTPS
#: (its value "https"); only honour one the proxy always sets or strips
PROXY_SSL_HEADER = env("PROXY_SSL_HEADER", "X-Forwarded-Proto" if SECURE else "").strip()
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_" + PROXY_SSL_HEADER.upper().replace("-", "_"), "https") if PROXY_SSL_HEADER else None)
SECURE_SSL_REDIRECT = SECURE and env_bool("SSL_REDIRECT")
SECURE_HSTS_SECONDS = int(env("HSTS_SECONDS", str(365 * 24 * 3600))) if SECURE else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("HSTS_SUBDOMAINS")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
#: photos: at most UPLOAD_MAX_FILES files and UPLOAD_MAX_MB in all per request
#: (each at most 10 MB: incidents.services.MAX_PHOTO_BYTES)
UPLOAD_MAX_BYTES = int(env("UPLOAD_MAX_MB", "30")) * 1024 * 1024
UPLOAD_MAX_FILES = int(env("UPLOAD_MAX_FILES", "10"))
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440  # the fields of a form or a JSON body (2.5 MB)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440  # a larger file is spooled to disk while parsed
DATA_UPLOAD_MAX_NUMBER_FILES = 2 * UPLOAD_MAX_FILES  # the parser's backstop
#: a request body larger than this is refused (413) before it is parsed
REQUEST_MAX_BYTES = UPLOAD_MAX_BYTES + DATA_UPLOAD_MAX_MEMORY_SIZE

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
}

# --- Open311 publication policy (docs/open311.md): GET requests publish only the
# incidents of these channels (and of public or coarse categories) ...
OPEN311_PUBLIC_CHANNELS = tuple(c.strip() for c in env("OPEN311_PUBLIC_CHANNELS", "open311")
                                .split(",") if c.strip())
# ... and a client without an api_key may read this many times a minute (per address)
OPEN311_ANONYMOUS_PER_MINUTE = int(env("OPEN311_ANONYMOUS_PER_MINUTE", "60"))

# --- Smart intake (docs/intake.md): the category models' files (each a name with
# numbered versions and their training reports) ...
INTAKE_MODEL_DIR = Path(env("INTAKE_MODEL_DIR", str(DATA_DIR / "models"))).resolve()
# ... possible duplicates: open incidents of the same category this near (metres) and this
# recent (days); the same caller again within INTAKE_REPEAT_DAYS is a repeat
INTAKE_DUPLICATE_RADIUS_M = float(env("INTAKE_DUPLICATE_RADIUS_M", "250"))
INTAKE_DUPLICATE_DAYS = float(env("INTAKE_DUPLICATE_DAYS", "7"))
INTAKE_REPEAT_DAYS = float(env("INTAKE_REPEAT_DAYS", "30"))
# ... an address-only report gets the resolved point when its confidence reaches this
INTAKE_PLACE_CONFIDENT = float(env("INTAKE_PLACE_CONFIDENT", "0.7"))
