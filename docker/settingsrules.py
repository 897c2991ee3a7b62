"""What the environment makes of a project's Django settings in this image: one pure function, `configure`.

The project's settings module is imported as it is (imagesettings.py); `configure` then
applies the tool's variables (.env.example documents them) on top. In production it wins
where safety needs it: DEBUG off, the SECRET_KEY from the environment, the database from
DATABASE_URL, static files collected into the image and uploads on the data volume.
Django's own system checks judge the result (docker/entrypoint.py refuses to serve an
unsafe one), so no rule here repeats them.

Before any of that, `read_secret_files` gives every process of the image the secrets an
orchestrator mounts as files (Docker's `_FILE` convention, as the official postgres image
follows): NAME_FILE=/run/secrets/NAME stands for NAME when NAME is unset or empty. Only a
path under /run/secrets/ counts, so a project's own NAME_FILE variables (a LOG_FILE) keep
their meaning. The entrypoint applies it before it reads DATABASE_URL, imagesettings.py
before it imports the project's settings.
"""

import os

DEVELOPMENT_KEY = "django-insecure-development-key-do-not-use-in-production"
# Where collectstatic puts the files in the production image; outside /app, which
# development mounts over.
STATIC_ROOT = "/opt/static"
# Where the data volume is mounted (DATA_DIR): the SQLite database, the uploads, and the
# temporary files of large uploads, which must not fill the container's small in-memory /tmp.
DATA_DIR = "/data"
# Their folders on it.
MEDIA_FOLDER = "media"
UPLOAD_TEMP_FOLDER = ".upload-tmp"
DEFAULT_UPLOAD_MAX_MB = 256
# The image's own middleware, first: the health probe must be answered before ALLOWED_HOSTS is
# checked, and a too large upload refused before anything reads it.
IMAGE_MIDDLEWARE = [
    "imagemiddleware.HealthCheckMiddleware",
    "imagemiddleware.UploadLimitMiddleware",
    "imagemiddleware.MediaFilesMiddleware",
]
WHITENOISE = "whitenoise.middleware.WhiteNoiseMiddleware"
SECURITY = "django.middleware.security.SecurityMiddleware"
# Static storages that serve from STATIC_ROOT: WhiteNoise's replaces them in production.
LOCAL_STATIC_STORAGES = {
    "django.contrib.staticfiles.storage.StaticFilesStorage",
    "django.contrib.staticfiles.storage.ManifestStaticFilesStorage",
    "whitenoise.storage.CompressedStaticFilesStorage",
    "whitenoise.storage.CompressedManifestStaticFilesStorage",
}
TRUE, FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}
# Where Docker and Swarm mount a service's secrets; a NAME_FILE pointing elsewhere is the project's
# own variable (a LOG_FILE, say), never read here.
SECRETS_DIR = "/run/secrets"
FILE_SUFFIX = "_FILE"


class SettingsError(ValueError):
    """A variable the settings cannot read; the message names it (the entrypoint relays it as one line)."""


def read_secret_files(environ):
    """Set each NAME that is unset or empty in `environ` from the file its NAME_FILE names, when
    that file is under SECRETS_DIR; a NAME with a value keeps it.

    `environ` is a mutable str-to-str mapping (os.environ in the image), changed in place: NAME gets
    the file's text, UTF-8, less one trailing newline. Returns the sorted names set. Raises
    SettingsError naming NAME_FILE and its path when that file cannot be read or does not hold text
    (a NUL byte cannot be in a variable).
    """
    found = []
    for variable, path in sorted(environ.items()):
        name = variable[: -len(FILE_SUFFIX)]
        if not variable.endswith(FILE_SUFFIX) or not name or (environ.get(name) or "").strip():
            continue
        if not os.path.normpath(path).startswith(SECRETS_DIR + "/"):
            continue
        try:
            with open(path, encoding="utf-8") as handle:
                value = handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise SettingsError(f"{variable}={path}: cannot read the secret for {name} ({reason})") from None
        if "\0" in value:
            raise SettingsError(f"{variable}={path}: the secret for {name} holds a NUL byte, which no variable can")
        environ[name] = value.removesuffix("\n")
        found.append(name)
    return found


def boolean(environ, name, default):
    """The yes/no value of `name` in `environ`: `default` when unset or empty.

    Raises SettingsError naming the variable when the value is none of TRUE or FALSE (any case).
    """
    raw = (environ.get(name) or "").strip()
    if not raw:
        return default
    if raw.lower() in TRUE:
        return True
    if raw.lower() in FALSE:
        return False
    raise SettingsError(f"{name} must be one of true/false, 1/0, yes/no, on/off; got {raw!r}")


def configure(project, environ):
    """The settings to run `project` (a dict of its UPPERCASE settings) under `environ`.

    Returns (settings, overridden): every setting, and the sorted names of those whose
    project value was replaced (settings the project did not have are not counted).
    Raises SettingsError naming a variable that cannot be read.
    """
    env = _Environment(environ)
    development = env.raw("ENVIRONMENT") == "development"
    settings = dict(project)
    changes = {}

    # The mode decides, not the project's file (startproject writes DEBUG = True); DEBUG=true in
    # .env for production stays true, for Django's deployment check (security.W018) to refuse.
    changes["DEBUG"] = env.boolean("DEBUG", development)
    key = env.raw("SECRET_KEY")
    if key or (development and not project.get("SECRET_KEY")):
        changes["SECRET_KEY"] = key or DEVELOPMENT_KEY
    for name in ("ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS"):
        if env.raw(name):
            changes[name] = env.words(name)
    if env.raw("DATABASE_URL"):
        changes["DATABASES"] = {**project.get("DATABASES", {}), "default": _database(env.raw("DATABASE_URL"), development)}

    changes.update(_static(project, development))
    data = env.raw("DATA_DIR") or DATA_DIR
    changes["MEDIA_ROOT"] = env.raw("MEDIA_ROOT") or f"{data}/{MEDIA_FOLDER}"
    media_url = str(project.get("MEDIA_URL") or "")
    if not media_url.strip("/") or "://" in media_url:
        changes["MEDIA_URL"] = "/media/"
    changes["FILE_UPLOAD_TEMP_DIR"] = f"{data}/{UPLOAD_TEMP_FOLDER}"
    changes["UPLOAD_MAX_BYTES"] = env.number("UPLOAD_MAX_MB", DEFAULT_UPLOAD_MAX_MB) * 1024 * 1024
    changes["MIDDLEWARE"] = _middleware(project.get("MIDDLEWARE", []))
    changes.update(_https(env))
    if not project.get("LOGGING"):
        changes["LOGGING"] = _logging(env.raw("LOG_LEVEL") or "INFO")

    overridden = sorted(name for name, value in changes.items() if name in project and project[name] != value)
    settings.update(changes)
    return settings, overridden


class _Environment:
    def __init__(self, environ):
        self.environ = environ

    def raw(self, name):
        return (self.environ.get(name) or "").strip()

    def boolean(self, name, default):
        return boolean(self.environ, name, default)

    def number(self, name, default):
        value = self.raw(name)
        if not value:
            return default
        if not value.isascii() or not value.isdigit():
            raise SettingsError(f"{name} must be a whole number, got {value!r}")
        return int(value)

    def words(self, name):
        return [word.strip() for word in self.raw(name).split(",") if word.strip()]


def _database(url, development):
    # Imported here: the entrypoint reads this module's paths before anything needs Django.
    import dj_database_url
    import django

    # In production each server thread keeps its connection for a minute instead of opening one
    # per request, checked before reuse; runserver starts a thread per request, so there it would
    # only leak connections.
    database = dj_database_url.parse(url, conn_max_age=0 if development else 60, conn_health_checks=True)
    if database["ENGINE"] == "django.db.backends.sqlite3" and django.VERSION >= (5, 1):
        # Several server processes share one file: WAL lets readers and a writer work at once, and
        # IMMEDIATE makes a writer wait for the lock (up to the timeout) instead of failing halfway.
        # (Django 5.1 brought both options; an older Django takes the file as it is.)
        database["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            **database.get("OPTIONS", {}),
        }
    return database


def _static(project, development):
    """Static files: collected into the image and served by WhiteNoise in production; straight
    from the apps in development, whatever DEBUG says (no manifest to miss)."""
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        **project.get("STORAGES", {}),
    }
    backend = storages.get("staticfiles", {}).get("BACKEND", "django.contrib.staticfiles.storage.StaticFilesStorage")
    changes = {"STATIC_URL": project.get("STATIC_URL") or "/static/"}
    if backend in LOCAL_STATIC_STORAGES:
        if development:
            storages["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
            changes.update(WHITENOISE_USE_FINDERS=True, WHITENOISE_AUTOREFRESH=True)
        else:
            storages["staticfiles"] = {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}
            changes["STATIC_ROOT"] = STATIC_ROOT
    changes["STORAGES"] = storages
    return changes


def _middleware(project_middleware):
    middleware = [name for name in IMAGE_MIDDLEWARE if name not in project_middleware] + list(project_middleware)
    if WHITENOISE not in middleware:
        # Right after SecurityMiddleware, as WhiteNoise's documentation asks; else after the image's own.
        after = middleware.index(SECURITY) + 1 if SECURITY in middleware else len(IMAGE_MIDDLEWARE)
        middleware.insert(after, WHITENOISE)
    return middleware


def _https(env):
    """HTTPS=true: visitors come over HTTPS through a proxy that sets X-Forwarded-Proto. It turns the
    secure cookies, the redirect and an hour of HSTS on; each variable can also be set alone."""
    https = env.boolean("HTTPS", False)
    changes = {"SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https")} if https else {}
    for name in ("SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE"):
        if https or env.raw(name):
            changes[name] = env.boolean(name, https)
    if https or env.raw("SECURE_HSTS_SECONDS"):
        changes["SECURE_HSTS_SECONDS"] = env.number("SECURE_HSTS_SECONDS", 3600 if https else 0)
    for name in ("SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD"):
        if env.raw(name):
            changes[name] = env.boolean(name, False)
    return changes


def _logging(level):
    """Everything to stdout, once, whatever DEBUG says: the container's log is the only log."""
    level = level.upper()
    handler = {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "plain"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "{asctime} {levelname} {name}: {message}", "style": "{"}},
        "handlers": {"stdout": handler},
        "root": {"handlers": ["stdout"], "level": level},
        "loggers": {name: {"handlers": ["stdout"], "level": level, "propagate": False}
                    for name in ("django", "django.server")},
    }
