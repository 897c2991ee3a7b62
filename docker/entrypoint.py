"""Container entrypoint.

Whatever the command, the secrets mounted as files are read first (settingsrules.read_secret_files):
every process started here sees NAME where the container was given NAME_FILE=/run/secrets/NAME.

`serve` (the image's default command) loads the settings and, in production, refuses
to serve with unsafe ones; then it waits for the database, applies migrations under a
lock so that only one container runs them at a time (unless MIGRATE=false), and replaces
itself with the server: the one WEB_SERVER names in production (granian, gunicorn-gthread
or gunicorn-sync), runserver (reloading on every edit) with ENVIRONMENT=development.
The site never answers before its tables exist, and the server is PID 1, so SIGTERM
reaches it directly and a stop takes a moment, not ten seconds.

`migrate` is a release's one-shot job, run before its web containers replace the old ones
(which then run with MIGRATE=false): the same settings checks and wait, then migrate under
the same lock, its output on stdout; exit status 0 once applied, non-zero otherwise.

Any other command (`python manage.py shell`, `bash`, `migrate` with arguments...) is executed
as given.

Every refusal is one line on stderr starting `entrypoint: error: `, and the container
exits: `inv up` relays that line (stack/health.py reads it).
"""

import contextlib
import fcntl
import os
import sys
import time
import traceback

# Beside this file in the image, on its PYTHONPATH.
import settingsrules

PORT = os.environ.get("PORT") or "8000"
# Where this file and its companions live in the image (on PYTHONPATH: see the Dockerfile).
HERE = os.path.dirname(os.path.abspath(__file__))
# The data volume's mount point: the SQLite database and the uploads.
DATA_DIR = os.environ.get("DATA_DIR") or settingsrules.DATA_DIR
DATABASE_WAIT_SECONDS = float(os.environ.get("DATABASE_WAIT_SECONDS") or "60")
# Any fixed number will do: it names the lock, shared by every container of the site.
MIGRATION_LOCK_ID = 0x6D696772
# The production server when WEB_SERVER is empty: the fastest in the benchmark (`inv bench`).
DEFAULT_WEB_SERVER = "granian"
# More workers than this would cost a big host memory for little more speed.
MAX_WORKERS = 12
# Enough threads per worker to overlap database waits; more would only queue on the GIL.
# 12 workers x 4 also stays below PostgreSQL's default 100 connections.
DEFAULT_THREADS = 4
# Django's own deployment checks that make serving unsafe: they are warnings for
# `check --deploy`, but production refuses them, as it refuses every error.
# security.W009: a weak or development SECRET_KEY; security.W018: DEBUG on.
REFUSED_IN_PRODUCTION = ("security.W009", "security.W018")
# What WEB_CONCURRENCY and WEB_THREADS may be: more would only queue on the host's cores.
MOST_WORKERS_OR_THREADS = 64
# Seconds the requests in flight get after SIGTERM: below Compose's stop_grace_period
# (10 s), so they finish before the engine sends SIGKILL.
GRACEFUL_TIMEOUT = os.environ.get("GRACEFUL_TIMEOUT") or "8"


def log(message):
    print(f"entrypoint: {message}", file=sys.stderr, flush=True)


def fail(message):
    """Stop the container with the one line `inv up` relays."""
    sys.exit(f"entrypoint: error: {message}")


def one_line(text):
    return " ".join(str(text).split())


def read_secrets():
    """NAME from NAME_FILE, before anything here reads the environment (DATABASE_URL, first)."""
    try:
        settingsrules.read_secret_files(os.environ)
    except settingsrules.SettingsError as exc:
        fail(str(exc))


def setup_django():
    sys.path.insert(0, os.getcwd())
    import django
    from django.core.exceptions import ImproperlyConfigured
    from settingsrules import SettingsError

    try:
        django.setup()
    except (ImproperlyConfigured, SettingsError) as exc:
        fail(f"the Django settings are not valid: {exc}")


def refuse_unsafe_settings(action="serve"):
    """Run Django's system checks with the deployment ones; stop on an error or a REFUSED_IN_PRODUCTION warning.

    `manage.py check --deploy` reports the same messages, from the same rules: Django's.
    `action` ("serve", "migrate") is what the refusal line says was refused.
    """
    from django.core import checks

    problems = [
        message for message in checks.run_checks(include_deployment_checks=True)
        if message.is_serious() or message.id in REFUSED_IN_PRODUCTION
    ]
    if problems:
        fail(f"refusing to {action} in production: " + " | ".join(one_line(p) for p in problems))


def wait_for_database(timeout):
    from django.db import connection
    from django.db.utils import OperationalError

    deadline = time.monotonic() + timeout
    while True:
        try:
            connection.ensure_connection()
            return
        except OperationalError as exc:
            if "password authentication failed" in str(exc):
                # Not "not ready yet": waiting would only end in the same refusal.
                user = connection.settings_dict.get("USER", "")
                fail(f"the database refused the password of user {user!r}. POSTGRES_PASSWORD in .env is used only "
                     "when the database volume is first created: set it back to the password the database has, "
                     f"or change it in the database (`inv dbshell`, then ALTER USER {user} PASSWORD '...') and "
                     "then in .env, or start over with `inv down --volumes` (it deletes the data)")
            if time.monotonic() >= deadline:
                fail(f"the database did not answer within {timeout:.0f}s: {exc}")
            log(f"waiting for the database: {exc}")
            time.sleep(1)


@contextlib.contextmanager
def migration_lock():
    """Serialise `migrate` across containers: an advisory lock on PostgreSQL, a file lock beside SQLite."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_ID])
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_ID])
    elif connection.vendor == "sqlite" and str(connection.settings_dict["NAME"]) not in ("", ":memory:"):
        with open(f"{connection.settings_dict['NAME']}.migrate-lock", "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)
    else:
        yield


def migrate():
    from django.core.management import call_command

    with migration_lock():
        call_command("migrate", interactive=False, verbosity=1)


def migrate_at_start(environ):
    """Whether `serve` runs migrate: MIGRATE, true unless set false (a Swarm release runs it once,
    as a job, before its web containers start). Stops the container on a value that is not yes/no."""
    try:
        return settingsrules.boolean(environ, "MIGRATE", True)
    except settingsrules.SettingsError as exc:
        fail(str(exc))


def share_data_volume():
    """Keep the data volume writable by both modes, and make its directories for uploads.

    Production runs as the image's user, development as the image's user or the host's
    with the image's group added: every process in the container makes its files
    group-writable (umask 002, set in main) in setgid directories, so they keep the
    group; files made otherwise get the group bits added by whoever owns them.
    Leftovers of uploads cut short (a killed worker) go after a day.
    """
    from django.conf import settings

    if not os.path.isdir(DATA_DIR):
        return
    day_ago = time.time() - 24 * 3600
    for folder, folders, files in os.walk(DATA_DIR):
        for name, is_dir in [*((name, True) for name in folders), *((name, False) for name in files)]:
            path = os.path.join(folder, name)
            status = os.lstat(path)
            if folder == str(settings.FILE_UPLOAD_TEMP_DIR) and not is_dir and status.st_mtime < day_ago:
                os.unlink(path)
                continue
            extra = 0o2070 if is_dir else 0o060
            if status.st_uid == os.getuid() and status.st_mode & extra != extra and not os.path.islink(path):
                os.chmod(path, status.st_mode | extra)


def make_upload_directories():
    """The uploads' directories on the data volume (settingsrules), before anything runs Django's checks,
    which want FILE_UPLOAD_TEMP_DIR to exist (files.E001); a fresh volume has neither."""
    if os.access(DATA_DIR, os.W_OK):
        for name in (settingsrules.MEDIA_FOLDER, settingsrules.UPLOAD_TEMP_FOLDER):
            os.makedirs(os.path.join(DATA_DIR, name), exist_ok=True)


def make_sqlite_file():
    """Create the SQLite database file on the data volume, empty, before SQLite does.

    SQLite makes a new database file 0644 whatever the umask, and its -wal and -shm files
    take that mode too: a database made by one mode (development, as you) would be
    read-only for the other (production, as the image's user). An empty file is a valid
    empty database, and this one is group-writable (umask 002, setgid directory).
    """
    url = os.environ.get("DATABASE_URL") or ""
    path = url[len("sqlite:///"):] if url.startswith("sqlite:////") else ""
    if path.startswith(DATA_DIR + "/") and os.access(os.path.dirname(path), os.W_OK):
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            pass


def log_overridden_settings():
    from django.conf import settings

    overridden = getattr(settings, "OVERRIDDEN_SETTINGS", [])
    if overridden:
        log("the environment replaced these settings of the project: " + ", ".join(overridden))


def cpu_count():
    """The CPUs this container may run on, which a cpuset can make fewer than the host has."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def wsgi_target():
    from django.conf import settings

    # WSGI_APPLICATION is "package.module.attribute"; the servers want "package.module:attribute".
    module, _, attribute = settings.WSGI_APPLICATION.rpartition(".")
    return f"{module}:{attribute}"


def whole_number(environ, name, default):
    """A count from the environment as a string for a command line; the default when empty."""
    raw = environ.get(name, "").strip()
    if not raw:
        return str(default)
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MOST_WORKERS_OR_THREADS:
        fail(f"{name} must be a whole number from 1 to {MOST_WORKERS_OR_THREADS}, got {raw!r}")
    return str(int(raw))


def worker_count(environ, default):
    return whole_number(environ, "WEB_CONCURRENCY", min(default, MAX_WORKERS))


def thread_count(environ):
    return whole_number(environ, "WEB_THREADS", DEFAULT_THREADS)


def granian_command(app, environ):
    return [
        "granian", "--interface", "wsgi", app,
        "--host", "0.0.0.0",
        "--port", PORT,
        # One per CPU, as granian's documentation advises: its Rust threads handle the
        # connections, so it needs fewer processes than gunicorn for the same load.
        "--workers", worker_count(environ, cpu_count()),
        "--blocking-threads", thread_count(environ),
        # Off by default in granian; the logs are the only record of requests (less the health probes).
        "--access-log",
        "--log-config", os.path.join(HERE, "granian-log.json"),
        # Without it, a stop waits for the slowest request however long it takes.
        "--workers-kill-timeout", GRACEFUL_TIMEOUT,
        # gunicorn replaces a worker that died (killed for memory, say); granian only on request.
        "--respawn-failed-workers",
    ]


def gunicorn_command(app, environ, worker_options):
    return [
        "gunicorn", app,
        "--bind", f"0.0.0.0:{PORT}",
        # gunicorn's rule of thumb, two per CPU plus one.
        "--workers", worker_count(environ, 2 * cpu_count() + 1),
        *worker_options,
        "--access-logfile", "-",
        "--logger-class", "gunicornlogger.ProbeQuietLogger",
        "--error-logfile", "-",
        "--graceful-timeout", GRACEFUL_TIMEOUT,
        # Its default place is under $HOME, which the read-only root filesystem keeps unwritable.
        "--no-control-socket",
    ]


def gunicorn_gthread_command(app, environ):
    return gunicorn_command(app, environ, ["--worker-class", "gthread", "--threads", thread_count(environ)])


def gunicorn_sync_command(app, environ):
    # No --threads: with more than one, gunicorn quietly switches to gthread workers.
    return gunicorn_command(app, environ, ["--worker-class", "sync"])


SERVERS = {
    "granian": granian_command,
    "gunicorn-gthread": gunicorn_gthread_command,
    "gunicorn-sync": gunicorn_sync_command,
}


def production_command(app, environ):
    """The command line of the server WEB_SERVER names, serving the WSGI callable `app`."""
    name = environ.get("WEB_SERVER", "").strip().lower() or DEFAULT_WEB_SERVER
    if name not in SERVERS:
        fail(f"WEB_SERVER must be one of {', '.join(SERVERS)}, got {name!r}")
    return SERVERS[name](app, environ)


def runserver_command():
    # manage.py runserver, with the health probes kept out of its log.
    return ["python", os.path.join(HERE, "runserver.py"), f"0.0.0.0:{PORT}"]


def serve():
    setup_django()
    development = os.environ.get("ENVIRONMENT") == "development"
    # Checked first, so unsafe settings or a wrong WEB_SERVER stop the container before it
    # touches the database. runserver runs the system checks itself.
    share_data_volume()
    if not development:
        refuse_unsafe_settings()
    command = runserver_command() if development else production_command(wsgi_target(), os.environ)
    run_migrate = migrate_at_start(os.environ)
    log_overridden_settings()
    wait_for_database(DATABASE_WAIT_SECONDS)
    if run_migrate:
        migrate()
    else:
        log("MIGRATE=false: migrate is left to the release's migrate job")
    from django.db import connections

    connections.close_all()
    # gunicorn would also read WEB_CONCURRENCY itself, and fail on an empty one.
    os.environ.pop("WEB_CONCURRENCY", None)
    log("starting " + " ".join(command))
    os.execvp(command[0], command)


def migrate_once():
    """The `migrate` command: returns once the migrations are applied; stops the container otherwise.

    Unsafe production settings are refused before the database is touched, as `serve` refuses
    them: a release its web containers would refuse changes no table. A failed migrate prints
    its traceback, then the one line the deploy relays.
    """
    setup_django()
    share_data_volume()
    if os.environ.get("ENVIRONMENT") != "development":
        refuse_unsafe_settings("migrate")
    log_overridden_settings()
    wait_for_database(DATABASE_WAIT_SECONDS)
    try:
        migrate()
    # Whatever a migration raises (a database error, a RunPython's own), the deploy gets one line.
    except Exception as exc:  # noqa: BLE001
        traceback.print_exc()
        what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        fail(f"migrate failed: {one_line(what)}")


def main(argv):
    # Whatever runs in the container makes files the other mode can write too (share_data_volume).
    os.umask(0o002)
    read_secrets()
    make_upload_directories()
    make_sqlite_file()
    if argv in ([], ["serve"]):
        serve()
    elif argv == ["migrate"]:
        migrate_once()
    else:
        os.execvp(argv[0], argv)


if __name__ == "__main__":
    main(sys.argv[1:])
