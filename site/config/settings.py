"""
Django settings for the guestbook site.

Everything that differs between a laptop and a deployment comes from
environment variables, read in one block below. The defaults are safe:
without ENVIRONMENT=development, DEBUG is off and there is no SECRET_KEY but the
one the environment gives.

For the full list of settings and their values, see
https://docs.djangoproject.com/en/5.2/ref/settings/
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

# Build paths inside the project like this: BASE_DIR / 'subdir'.
BASE_DIR = Path(__file__).resolve().parent.parent


# Environment
# An empty variable counts as unset, because compose files often pass
# "VAR=${VAR:-}" through when the variable is not defined on the host.

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def env_bool(name, default):
    """Read a yes/no environment variable; reject anything ambiguous."""
    value = os.environ.get(name, "")
    normalized = value.strip().lower()
    if not normalized:
        return default
    if normalized in _TRUE:
        return True
    if normalized in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name} must be one of true/false, 1/0, yes/no, on/off; got {value!r}."
    )


def env_list(name, default=""):
    """Read a comma-separated environment variable as a list of strings."""
    value = os.environ.get(name) or default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_int(name, default):
    """Read a whole-number environment variable."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit():
        raise ImproperlyConfigured(f"{name} must be a whole number, got {value!r}.")
    return int(value)


# development: DEBUG on, and a fixed key if none is given. Anything else is
# production, so a deployment that forgets the variable gets the safe behaviour.
# In production the container refuses to serve when Django's deployment checks
# find DEBUG on or a weak SECRET_KEY (docker/entrypoint.py); `manage.py check
# --deploy` shows the same.
DEVELOPMENT = os.environ.get("ENVIRONMENT", "").strip().lower() == "development"

DEBUG = env_bool("DEBUG", DEVELOPMENT)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if DEVELOPMENT and not SECRET_KEY:
    # Fixed, so development sessions survive restarts.
    SECRET_KEY = "django-insecure-development-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")

CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"

LOG_LEVEL = (os.environ.get("LOG_LEVEL") or "INFO").strip().upper()

# HTTPS=true says the site is reached over HTTPS, with TLS ended by a proxy in
# front of this container. That proxy must set X-Forwarded-Proto (and replace
# any the client sent). The secure defaults below follow from it; each can be
# set on its own. Over plain HTTP they must stay off: a browser never returns
# a Secure cookie over HTTP, so logging in would fail.
HTTPS = env_bool("HTTPS", False)
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", HTTPS)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", HTTPS)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", HTTPS)
# Browsers remember HSTS for this long: start small (an hour), raise it to a
# year once HTTPS works everywhere on the domain.
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 3600 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)


# Application definition

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "guestbook",
]

MIDDLEWARE = [
    # First, so that the container's health probe is answered before
    # ALLOWED_HOSTS is checked (see config/healthz.py).
    "config.healthz.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"

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

WSGI_APPLICATION = "config.wsgi.application"


# Database
# https://docs.djangoproject.com/en/5.2/ref/settings/#databases

# In production each server thread keeps its connection for a minute instead of
# opening one per request (for SQLite too: every new connection runs the PRAGMAs
# below and registers Django's SQL functions), and checks it before reusing it.
# runserver starts a thread per request, so there it would only leak connections.
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=0 if DEVELOPMENT else 60,
        conn_health_checks=True,
    ),
}

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several server processes share one file. WAL lets readers and a writer
    # work at the same time; IMMEDIATE takes the write lock when a transaction
    # starts, so a busy database makes writers wait (up to the timeout, in
    # seconds) instead of failing halfway with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        **DATABASES["default"].get("OPTIONS", {}),
    }


# Password validation
# https://docs.djangoproject.com/en/5.2/ref/settings/#auth-password-validators

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
    },
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
    },
    {
        "NAME": "django.contrib.auth.password_validation.CommonPasswordValidator",
    },
    {
        "NAME": "django.contrib.auth.password_validation.NumericPasswordValidator",
    },
]


# Internationalization
# https://docs.djangoproject.com/en/5.2/topics/i18n/

LANGUAGE_CODE = "en-us"

TIME_ZONE = "UTC"

USE_I18N = True

USE_TZ = True


# Static files (CSS, JavaScript, Images)
# https://docs.djangoproject.com/en/5.2/howto/static-files/
# They are collected into the image at build time and served by WhiteNoise
# under content-hashed names, so browsers may cache them forever.

STATIC_URL = "static/"

STATIC_ROOT = BASE_DIR / "staticfiles"

STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
    },
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage",
    },
}


# Logging
# Containers are expected to log to stdout; the runtime collects it.

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {
            "format": "{asctime} {levelname} {name}: {message}",
            "style": "{",
        },
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "plain",
        },
    },
    "root": {
        "handlers": ["stdout"],
        "level": LOG_LEVEL,
    },
    "loggers": {
        # Replace Django's default handlers (a stderr console that is only
        # active with DEBUG, and mail_admins) so that request errors are
        # written once, to stdout, whatever DEBUG is.
        "django": {
            "handlers": ["stdout"],
            "level": LOG_LEVEL,
            "propagate": False,
        },
        "django.server": {
            "handlers": ["stdout"],
            "level": LOG_LEVEL,
            "propagate": False,
        },
    },
}


# Default primary key field type
# https://docs.djangoproject.com/en/5.2/ref/settings/#default-auto-field

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
